package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const testTextModerationKey = "sk-test-text-moderation-SECRET"

// fakeModeration is an OpenAI-compatible /v1/moderations endpoint. It
// checks every request as OpenAI would, records the inputs, and answers
// with reply; while failures > 0 it answers fail instead (a status and a
// body that echoes the key, to test redaction).
type fakeModeration struct {
	t        *testing.T
	mu       sync.Mutex
	inputs   []string
	failures int
	fail     func(w http.ResponseWriter)
	reply    func(input string) string
}

func (f *fakeModeration) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string `json:"model"`
		Input string `json:"input"`
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/moderations" || r.Header.Get("Authorization") != "Bearer "+testTextModerationKey ||
		r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Model != "omni-moderation-latest" {
		f.t.Errorf("bad moderation request: %s %s auth=%q model=%q", r.Method, r.URL, r.Header.Get("Authorization"), req.Model)
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.inputs = append(f.inputs, req.Input)
	fail := f.failures > 0
	f.failures--
	f.mu.Unlock()
	if fail {
		f.fail(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, f.reply(req.Input))
}

func (f *fakeModeration) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.inputs)
}

// serverError answers 500 with the key in the body.
func serverError(w http.ResponseWriter) {
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `{"error":{"message":"The server had an error processing your request with key %s"}}`, testTextModerationKey)
}

// moderationReply is a moderation answer with the given scores; a category
// is marked when its score is 0.5 or more, as OpenAI's models do.
func moderationReply(scores map[string]float64) string {
	all := map[string]float64{}
	for _, c := range serviceCategories {
		all[c.name] = 0.0001
	}
	categories := map[string]bool{}
	flagged := false
	for name, s := range scores {
		all[name] = s
	}
	for name, s := range all {
		categories[name] = s >= 0.5
		flagged = flagged || s >= 0.5
	}
	body, _ := json.Marshal(map[string]any{
		"id":    "modr-1",
		"model": "omni-moderation-latest",
		"results": []map[string]any{{
			"flagged": flagged, "categories": categories, "category_scores": all,
		}},
	})
	return string(body)
}

// byInput answers from keywords of the input.
func byInput(input string) string {
	switch {
	case strings.Contains(input, "THREAT"):
		return moderationReply(map[string]float64{"harassment/threatening": 0.91, "harassment": 0.7})
	case strings.Contains(input, "RUDE"):
		return moderationReply(map[string]float64{"harassment": 0.64})
	}
	return moderationReply(nil)
}

// startFakeModeration serves a fakeModeration answering byInput after
// failures answers of fail.
func startFakeModeration(t *testing.T, failures int, fail func(http.ResponseWriter)) (*fakeModeration, *httptest.Server) {
	f := &fakeModeration{t: t, failures: failures, fail: fail, reply: byInput}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// testModerationClient is the production client for srv: its dialer lets it
// reach the configured endpoint, loopback included, and nothing else.
func testModerationClient(srv *httptest.Server) *TextModerationClient {
	return NewTextModerationClient(srv.URL+"/v1/moderations", testTextModerationKey, defaultTextModerationModel)
}

func TestTextModerationClient(t *testing.T) {
	f, srv := startFakeModeration(t, 0, nil)
	c := testModerationClient(srv)
	got, err := c.Moderate(context.Background(), "a THREAT, in words")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Flagged || got.Scores["harassment/threatening"] != 0.91 || !got.Categories["harassment"] || got.Categories["hate"] {
		t.Errorf("verdict %+v", got)
	}
	long := strings.Repeat("é", textModerationMaxInput)
	if _, err := c.Moderate(context.Background(), long); err != nil {
		t.Fatal(err)
	}
	sent := f.sent()
	if len(sent) != 2 || sent[0] != "a THREAT, in words" || len(sent[1]) > textModerationMaxInput || !strings.HasPrefix(long, sent[1]) {
		t.Errorf("sent %d inputs, the second of %d bytes", len(sent), len(sent[len(sent)-1]))
	}
}

// Every failure is an error, to be retried, and none holds the key.
func TestTextModerationClientErrors(t *testing.T) {
	tests := []struct {
		name  string
		serve func(w http.ResponseWriter)
		want  string
	}{
		{"429", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "20")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprintf(w, `{"error":{"message":"Rate limit reached for %s"}}`, testTextModerationKey)
		}, `rate limited (HTTP 429, Retry-After "20")`},
		{"500 echoing the key", serverError, "HTTP 500"},
		{"503", func(w http.ResponseWriter) { http.Error(w, "overloaded", http.StatusServiceUnavailable) }, "HTTP 503"},
		{"401", func(w http.ResponseWriter) {
			http.Error(w, `{"error":{"message":"Incorrect API key"}}`, http.StatusUnauthorized)
		}, "HTTP 401"},
		{"not JSON", func(w http.ResponseWriter) { io.WriteString(w, "<html>gateway</html>") }, "decode reply"},
		{"no result", func(w http.ResponseWriter) { io.WriteString(w, `{"results":[]}`) }, "0 results for one input"},
		{"two results", func(w http.ResponseWriter) {
			io.WriteString(w, `{"results":[{"flagged":false,"category_scores":{}},{"flagged":false,"category_scores":{}}]}`)
		}, "2 results for one input"},
		{"result without scores", func(w http.ResponseWriter) { io.WriteString(w, `{"results":[{"flagged":true}]}`) }, "without flagged or category_scores"},
		{"score out of range", func(w http.ResponseWriter) {
			io.WriteString(w, `{"results":[{"flagged":true,"categories":{},"category_scores":{"hate":7}}]}`)
		}, "not in 0..1"},
		{"redirect", func(w http.ResponseWriter) {
			w.Header().Set("Location", "http://127.0.0.1:1/v1/moderations")
			w.WriteHeader(http.StatusTemporaryRedirect)
		}, "HTTP 307"},
	}
	for _, tt := range tests {
		_, srv := startFakeModeration(t, 1, tt.serve)
		_, err := testModerationClient(srv).Moderate(context.Background(), "hello")
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), testTextModerationKey) {
			t.Errorf("%s: err = %v, want one saying %q, without the key", tt.name, err, tt.want)
		}
	}
}

func TestTextModerationClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := testModerationClient(srv)
	c.HTTP.Timeout = 100 * time.Millisecond
	_, err := c.Moderate(context.Background(), "hello")
	if err == nil || !strings.Contains(err.Error(), "text moderation") || !strings.Contains(err.Error(), "Client.Timeout exceeded") {
		t.Errorf("err = %v, want the client's timeout", err)
	}
}

// The client dials its endpoint's host and port and nothing else, and
// follows no redirect: an answer cannot send the post's text elsewhere.
func TestTextModerationClientStaysOnItsEndpoint(t *testing.T) {
	other, otherSrv := startFakeModeration(t, 0, nil)
	redirect := httptest.NewServer(http.RedirectHandler(otherSrv.URL+"/v1/moderations", http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	c := NewTextModerationClient(redirect.URL+"/v1/moderations", testTextModerationKey, defaultTextModerationModel)
	if _, err := c.Moderate(context.Background(), "hello"); err == nil || !strings.Contains(err.Error(), "HTTP 307") {
		t.Errorf("redirected: err = %v, want the 307 as an error", err)
	}
	req, _ := http.NewRequest(http.MethodPost, otherSrv.URL+"/v1/moderations", strings.NewReader(`{}`))
	if _, err := c.HTTP.Do(req); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("another address: err = %v, want it refused", err)
	}
	if len(other.sent()) != 0 {
		t.Error("the other server was reached")
	}
}

func TestTextServiceVerdict(t *testing.T) {
	tests := []struct {
		name        string
		report      TextReport
		wantStatus  string
		wantReasons []string
	}{
		{"not configured", TextReport{}, StatusApproved, nil},
		{"nothing found", TextReport{Enabled: true, Verdict: &TextVerdict{Scores: map[string]float64{"hate": 0.1}}}, StatusApproved, nil},
		{"harassment flags", TextReport{Enabled: true, Verdict: &TextVerdict{Flagged: true, Scores: map[string]float64{"harassment": 0.97}}},
			StatusFlagged, []string{"harassment (moderation service: harassment 0.97)"}},
		{"threatening harassment blocks", TextReport{Enabled: true, Verdict: &TextVerdict{Flagged: true, Scores: map[string]float64{"harassment/threatening": 0.6}}},
			StatusBlocked, []string{"threat (moderation service: harassment/threatening 0.60)"}},
		{"hate flags below 0.8", TextReport{Enabled: true, Verdict: &TextVerdict{Flagged: true, Scores: map[string]float64{"hate": 0.7}}},
			StatusFlagged, []string{"hate (moderation service: hate 0.70)"}},
		{"hate blocks from 0.8", TextReport{Enabled: true, Verdict: &TextVerdict{Flagged: true, Scores: map[string]float64{"hate": 0.8}}},
			StatusBlocked, []string{"hate (moderation service: hate 0.80)"}},
		{"a marked category flags whatever its score", TextReport{Enabled: true, Verdict: &TextVerdict{Flagged: true, Categories: map[string]bool{"violence": true}, Scores: map[string]float64{"violence": 0.3}}},
			StatusFlagged, []string{"violence (moderation service: violence 0.30)"}},
		{"minors block from 0.2", TextReport{Enabled: true, Verdict: &TextVerdict{Scores: map[string]float64{"sexual/minors": 0.25}}},
			StatusBlocked, []string{"sexual content involving minors (moderation service: sexual/minors 0.25)"}},
		{"self-harm intent only flags", TextReport{Enabled: true, Verdict: &TextVerdict{Flagged: true, Scores: map[string]float64{"self-harm/intent": 0.99, "self-harm": 0.9}}},
			StatusFlagged, []string{"self-harm: intent (moderation service: self-harm/intent 0.99)", "self-harm (moderation service: self-harm 0.90)"}},
		{"unknown category flags", TextReport{Enabled: true, Verdict: &TextVerdict{Flagged: true, Scores: map[string]float64{"zz-new": 0.9, "aa-new": 0.95}}},
			StatusFlagged, []string{"other (moderation service: aa-new 0.95)", "other (moderation service: zz-new 0.90)"}},
		{"flagged without a category", TextReport{Enabled: true, Verdict: &TextVerdict{Flagged: true, Scores: map[string]float64{"hate": 0.2}}},
			StatusFlagged, []string{"flagged by the moderation service"}},
		{"not reached", TextReport{Enabled: true, NotChecked: "the service failed after 3 attempts"},
			StatusApproved, []string{"moderation service not reached: the service failed after 3 attempts; decided on the rules alone"}},
	}
	for _, tt := range tests {
		got := builtinModerator().Moderate(PostContent{Content: "Nice team"}, Checks{Text: tt.report})
		if got.Status != tt.wantStatus || !slices.Equal(got.Reasons, tt.wantReasons) {
			t.Errorf("%s: %+v, want %s %q", tt.name, got, tt.wantStatus, tt.wantReasons)
		}
	}
}

func TestModeratePostWithTextService(t *testing.T) {
	f, srv := startFakeModeration(t, 0, nil)
	store := &moderationRecorder{}
	p := moderationProcessor(store, nil, testModerationClient(srv))
	for _, tt := range []struct {
		content, wantStatus string
		wantReasons         []string
	}{
		{"We are hiring in Lyon", StatusApproved, nil},
		{"You are RUDE and I dislike you", StatusFlagged, []string{"harassment (moderation service: harassment 0.64)"}},
		{"Watch out, a THREAT", StatusBlocked, []string{"threat (moderation service: harassment/threatening 0.91)", "harassment (moderation service: harassment 0.70)"}},
		{"You're a clown, a THREAT", StatusBlocked, []string{"harassment: directed insult", "threat (moderation service: harassment/threatening 0.91)", "harassment (moderation service: harassment 0.70)"}},
		{"  ", StatusApproved, nil},
	} {
		res, err := p.ModeratePost(context.Background(), moderationJob(t, tt.content, nil, 1, 3))
		if err != nil {
			t.Fatalf("%q: %v", tt.content, err)
		}
		if got := res.(ModerationResult); got.Status != tt.wantStatus || !slices.Equal(got.Reasons, nonNil(tt.wantReasons)) {
			t.Errorf("%q: %+v, want %s %q", tt.content, got, tt.wantStatus, tt.wantReasons)
		}
	}
	if sent := f.sent(); len(sent) != 4 {
		t.Errorf("service asked %d times (%q), want 4: never for blank text", len(sent), sent)
	}
}

// While attempts remain, a service failure fails the job with a transient
// error and nothing is saved; on the last attempt the post is decided on
// the rules alone, and the reason says the service was not reached.
func TestModeratePostTextServiceOutage(t *testing.T) {
	_, srv := startFakeModeration(t, 1000, serverError)
	store := &moderationRecorder{}
	p := moderationProcessor(store, nil, testModerationClient(srv))
	_, err := p.ModeratePost(context.Background(), moderationJob(t, "Free money! a THREAT", nil, 2, 3))
	if err == nil || IsPermanent(err) || IsUnavailable(err) || strings.Contains(err.Error(), testTextModerationKey) {
		t.Fatalf("attempt 2 of 3: err = %v, want a transient error without the key", err)
	}
	if len(store.saved) != 0 {
		t.Fatalf("attempt 2 of 3 saved %+v", store.saved)
	}
	res, err := p.ModeratePost(context.Background(), moderationJob(t, "Free money! a THREAT", nil, 3, 3))
	if err != nil {
		t.Fatalf("last attempt: %v", err)
	}
	want := []string{"spam phrase: 'free money'", "moderation service not reached: the service failed after 3 attempts; decided on the rules alone"}
	if got := res.(ModerationResult); got.Status != StatusFlagged || !slices.Equal(got.Reasons, want) {
		t.Errorf("last attempt: %+v, want flagged %q", got, want)
	}
}

// End to end through the queue, JOB_ATTEMPTS=2: the service answers 429
// once, then a verdict, and the queue's retry gets the post blocked; or it
// stays down, and after the last attempt the post is decided on the rules
// alone.
func TestTextServiceThroughQueue(t *testing.T) {
	tests := []struct {
		name, content, wantStatus, wantReason string
		failures                              int
		fail                                  func(http.ResponseWriter)
	}{
		{"429 then a verdict", "Look, a THREAT", StatusBlocked,
			"threat (moderation service: harassment/threatening 0.91); harassment (moderation service: harassment 0.70)",
			1, func(w http.ResponseWriter) { http.Error(w, "slow down", http.StatusTooManyRequests) }},
		{"down for good", "Shut up, idiot.", StatusFlagged,
			"harassment: directed insult; moderation service not reached: the service failed after 2 attempts; decided on the rules alone",
			1000, serverError},
	}
	for _, tt := range tests {
		f, srv := startFakeModeration(t, tt.failures, tt.fail)
		a := startApp(t, map[string]string{
			"TEXT_MODERATION_API_KEY": testTextModerationKey, "TEXT_MODERATION_ENDPOINT": srv.URL + "/v1/moderations", "JOB_ATTEMPTS": "2",
		})
		id := a.mustAccept(t, "/api/posts/moderate", fmt.Sprintf(`{"postId":"p-txt","content":%q}`, tt.content))
		a.waitDrained(t)
		if st := a.status(t, id); st.State != "completed" || st.Attempts != 2 {
			t.Errorf("%s: job %s after %d attempts, want completed after 2", tt.name, st.State, st.Attempts)
		}
		db := openFile(t, a.cfg.DataDir)
		reason := queryString(t, db, `SELECT flag_reason FROM posts WHERE id = 'p-txt' AND moderation_status = ?`, tt.wantStatus)
		if reason != tt.wantReason || len(f.sent()) != 2 {
			t.Errorf("%s: flag_reason %q after %d calls, want %q after 2", tt.name, reason, len(f.sent()), tt.wantReason)
		}
	}
}

func TestTextModerationConfig(t *testing.T) {
	cfg, err := LoadConfig(testEnv(t, nil))
	want := TextModerationConfig{Endpoint: "https://api.openai.com/v1/moderations", Model: "omni-moderation-latest"}
	if err != nil || cfg.TextModeration != want || cfg.TextModeration.Client() != nil {
		t.Fatalf("defaults: %+v %v", cfg.TextModeration, err)
	}
	for _, bad := range []string{"api.example/v1/moderations", "ftp://api.example/", "https://", "https://user:pw@api.example/v1/moderations"} {
		_, err := LoadConfig(testEnv(t, map[string]string{"TEXT_MODERATION_ENDPOINT": bad}))
		if err == nil || !strings.Contains(err.Error(), "TEXT_MODERATION_ENDPOINT") || strings.Contains(err.Error(), "pw@") {
			t.Errorf("TEXT_MODERATION_ENDPOINT=%q: %v, want an error naming it", bad, err)
		}
	}
	cfg, err = LoadConfig(testEnv(t, map[string]string{
		"TEXT_MODERATION_API_KEY": " " + testTextModerationKey + " ", "TEXT_MODERATION_ENDPOINT": "http://10.0.0.7:8080/v1/moderations", "TEXT_MODERATION_MODEL": "text-moderation-stable",
	}))
	c := cfg.TextModeration.Client()
	if err != nil || c == nil || c.APIKey != testTextModerationKey || c.Endpoint != "http://10.0.0.7:8080/v1/moderations" || c.Model != "text-moderation-stable" {
		t.Errorf("configured: %+v %v", c, err)
	}
}
