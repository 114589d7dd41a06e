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

const testVisionKey = "test-vision-key-SECRET"

// fakeVision is a Vision images:annotate endpoint speaking Google's JSON.
// It checks every request as Google would, records the image URIs it was
// asked about, and answers each batch with reply (or, while failures > 0,
// with a 500 whose body echoes the key, to test redaction).
type fakeVision struct {
	t        *testing.T
	mu       sync.Mutex
	batches  [][]string
	failures int
	reply    func(uri string) string // one response object for an image
}

func (f *fakeVision) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/images:annotate" || r.Header.Get("X-Goog-Api-Key") != testVisionKey ||
		r.Header.Get("Content-Type") != "application/json" || r.URL.Query().Get("key") != "" {
		f.t.Errorf("bad Vision request: %s %s key=%q type=%q", r.Method, r.URL, r.Header.Get("X-Goog-Api-Key"), r.Header.Get("Content-Type"))
		http.Error(w, `{"error":{"code":400,"message":"bad request","status":"INVALID_ARGUMENT"}}`, http.StatusBadRequest)
		return
	}
	uris := f.decode(r.Body)
	f.mu.Lock()
	f.batches = append(f.batches, uris)
	fail := f.failures > 0
	f.failures--
	f.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error":{"code":500,"message":"Internal error encountered for key %s.","status":"INTERNAL"}}`, testVisionKey)
		return
	}
	var parts []string
	for _, u := range uris {
		parts = append(parts, f.reply(u))
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	fmt.Fprintf(w, `{"responses":[%s]}`, strings.Join(parts, ","))
}

// decode reads an AnnotateImageRequest batch, checking its shape.
func (f *fakeVision) decode(body io.Reader) []string {
	var req struct {
		Requests []struct {
			Image struct {
				Content string `json:"content"`
				Source  struct {
					ImageURI string `json:"imageUri"`
				} `json:"source"`
			} `json:"image"`
			Features []struct {
				Type string `json:"type"`
			} `json:"features"`
		} `json:"requests"`
	}
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		f.t.Errorf("decode Vision request: %v", err)
	}
	if n := len(req.Requests); n == 0 || n > 16 {
		f.t.Errorf("Vision batch of %d images, want 1..16", n)
	}
	var uris []string
	for _, r := range req.Requests {
		if r.Image.Content != "" || len(r.Features) != 1 || r.Features[0].Type != "SAFE_SEARCH_DETECTION" {
			f.t.Errorf("Vision request item %+v: want an imageUri and SAFE_SEARCH_DETECTION only", r)
		}
		uris = append(uris, r.Image.Source.ImageURI)
	}
	return uris
}

// sent returns every image URI Vision was asked about, in order.
func (f *fakeVision) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Concat(f.batches...)
}

// safeSearch is a response object with a SafeSearch annotation.
func safeSearch(adult, violence, racy string) string {
	return fmt.Sprintf(`{"safeSearchAnnotation":{"adult":%q,"spoof":"VERY_UNLIKELY","medical":"UNLIKELY","violence":%q,"racy":%q}}`, adult, violence, racy)
}

// imageError is a response object for an image Vision could not process.
const imageError = `{"error":{"code":7,"message":"We can not access the URL currently. Please download the content and pass it in."}}`

// byName answers from the image file name: adult.jpg, violent.jpg,
// racy.jpg, broken.jpg; anything else is safe.
func byName(uri string) string {
	switch {
	case strings.HasSuffix(uri, "/adult.jpg"):
		return safeSearch("VERY_LIKELY", "UNLIKELY", "LIKELY")
	case strings.HasSuffix(uri, "/violent.jpg"):
		return safeSearch("UNLIKELY", "VERY_LIKELY", "UNLIKELY")
	case strings.HasSuffix(uri, "/racy.jpg"):
		return safeSearch("POSSIBLE", "VERY_UNLIKELY", "LIKELY")
	case strings.HasSuffix(uri, "/broken.jpg"):
		return imageError
	}
	return safeSearch("VERY_UNLIKELY", "VERY_UNLIKELY", "UNLIKELY")
}

// startFakeVision serves a fakeVision, answering byName.
func startFakeVision(t *testing.T, failures int) (*fakeVision, *httptest.Server) {
	f := &fakeVision{t: t, failures: failures, reply: byName}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// testVisionClient talks to srv; the test server is on loopback, which the
// production client refuses (see ssrf_test.go), so it uses srv's client.
func testVisionClient(srv *httptest.Server) *VisionClient {
	return &VisionClient{Endpoint: srv.URL + "/v1/images:annotate", APIKey: testVisionKey, HTTP: srv.Client()}
}

func TestVisionSafeSearch(t *testing.T) {
	f, srv := startFakeVision(t, 0)
	urls := []string{"https://cdn.example/adult.jpg", "https://cdn.example/cat.jpg", "https://cdn.example/broken.jpg"}
	got, err := testVisionClient(srv).SafeSearch(context.Background(), urls)
	if err != nil {
		t.Fatalf("SafeSearch: %v", err)
	}
	want := []ImageVerdict{
		{URL: urls[0], Adult: "VERY_LIKELY", Violence: "UNLIKELY", Racy: "LIKELY"},
		{URL: urls[1], Adult: "VERY_UNLIKELY", Violence: "VERY_UNLIKELY", Racy: "UNLIKELY"},
		{URL: urls[2], Error: "We can not access the URL currently. Please download the content and pass it in. (code 7)"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("SafeSearch = %+v, want %+v", got, want)
	}
	if len(f.batches) != 1 {
		t.Errorf("%d requests for 3 images, want 1", len(f.batches))
	}
}

func TestVisionBatchesOf16(t *testing.T) {
	f, srv := startFakeVision(t, 0)
	var urls []string
	for i := range 20 {
		urls = append(urls, fmt.Sprintf("https://cdn.example/%d.jpg", i))
	}
	got, err := testVisionClient(srv).SafeSearch(context.Background(), urls)
	if err != nil || len(got) != 20 {
		t.Fatalf("SafeSearch of 20: %d verdicts, %v", len(got), err)
	}
	if len(f.batches) != 2 || len(f.batches[0]) != 16 || len(f.batches[1]) != 4 || !slices.Equal(f.sent(), urls) {
		t.Errorf("batches %v, want 16 then 4 in order", f.batches)
	}
}

func TestVisionFailuresAreTransientAndRedacted(t *testing.T) {
	_, srv := startFakeVision(t, 1)
	c := testVisionClient(srv)
	_, err := c.SafeSearch(context.Background(), []string{"https://cdn.example/a.jpg"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("500: err = %v, want an HTTP 500 error", err)
	}
	if strings.Contains(err.Error(), testVisionKey) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error %q leaks the API key or was not redacted", err)
	}
	if IsPermanent(err) || IsUnavailable(err) {
		t.Errorf("Vision failure classed permanent/unavailable: %v", err)
	}
	if _, err := c.SafeSearch(context.Background(), []string{"https://cdn.example/a.jpg"}); err != nil {
		t.Errorf("after the 500, a 200: %v", err)
	}
}

func TestVisionMalformedReplies(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":                `<html>oops</html>`,
		"fewer responses":         `{"responses":[]}`,
		"request-level error":     `{"error":{"code":403,"message":"Cloud Vision API has not been used in project 1"}}`,
		"responses of wrong type": `{"responses":"nope"}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
		_, err := testVisionClient(srv).SafeSearch(context.Background(), []string{"https://cdn.example/a.jpg"})
		srv.Close()
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// moderationRecorder is a Store that records moderation outcomes only.
type moderationRecorder struct {
	Store
	mu    sync.Mutex
	saved []ModerationRecord
}

func (r *moderationRecorder) SaveModeration(_ context.Context, _ PostTask, m ModerationRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saved = append(r.saved, m)
	return nil
}

// moderationProcessor is a Processor with the built-in lists and the
// outside services given, nil for none.
func moderationProcessor(store Store, vision *VisionClient, text *TextModerationClient) *Processor {
	return &Processor{
		Store: store, Log: testLogger(), Moderator: builtinModerator(),
		Vision: vision, TextModeration: text, Now: time.Now,
	}
}

// moderationJob is a post-moderation job for images at the given attempt.
func moderationJob(t *testing.T, content string, images []string, attempt, maxAttempts int) Job {
	payload, err := json.Marshal(PostTask{PostID: "p-1", Content: content, Images: images})
	if err != nil {
		t.Fatal(err)
	}
	return Job{ProcessingID: "post-p-1", Queue: QueuePostModeration, Payload: payload, Attempt: attempt, MaxAttempts: maxAttempts}
}

func TestModeratePostWithVision(t *testing.T) {
	tests := []struct {
		name        string
		images      []string
		wantStatus  string
		wantReasons []string
		wantSent    []string
	}{
		{
			name:       "safe image, sent once",
			images:     []string{"https://cdn.example/cat.jpg", " https://cdn.example/cat.jpg"},
			wantStatus: StatusApproved,
			wantSent:   []string{"https://cdn.example/cat.jpg"},
		},
		{
			name:        "racy image flags",
			images:      []string{"https://cdn.example/racy.jpg"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"image racy: LIKELY"},
			wantSent:    []string{"https://cdn.example/racy.jpg"},
		},
		{
			name:        "very likely adult blocks",
			images:      []string{"https://cdn.example/cat.jpg", "https://cdn.example/adult.jpg"},
			wantStatus:  StatusBlocked,
			wantReasons: []string{"image adult: VERY_LIKELY", "image racy: LIKELY"},
			wantSent:    []string{"https://cdn.example/cat.jpg", "https://cdn.example/adult.jpg"},
		},
		{
			name:        "very likely violence blocks",
			images:      []string{"https://cdn.example/violent.jpg"},
			wantStatus:  StatusBlocked,
			wantReasons: []string{"image violence: VERY_LIKELY"},
			wantSent:    []string{"https://cdn.example/violent.jpg"},
		},
		{
			name:        "partial errors are reported, the rest decides",
			images:      []string{"https://cdn.example/broken.jpg", "https://cdn.example/racy.jpg"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"image not checked: We can not access the URL currently. Please download the content and pass it in. (code 7)", "image racy: LIKELY"},
			wantSent:    []string{"https://cdn.example/broken.jpg", "https://cdn.example/racy.jpg"},
		},
		{
			name:        "unsafe image URLs are never sent",
			images:      []string{"http://cdn.example/cat.jpg", "https://169.254.169.254/latest/meta-data", "https://0x7f000001/a.jpg", "https://localhost/a.jpg", "https://cdn.example/cat.jpg"},
			wantStatus:  StatusFlagged,
			wantReasons: []string{"image not sent to Vision: not https", "image not sent to Vision: IP address host", "image not sent to Vision: internal host name"},
			wantSent:    []string{"https://cdn.example/cat.jpg"},
		},
	}
	for _, tt := range tests {
		f, srv := startFakeVision(t, 0)
		store := &moderationRecorder{}
		res, err := moderationProcessor(store, testVisionClient(srv), nil).ModeratePost(context.Background(), moderationJob(t, "Our new office!", tt.images, 1, 3))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := res.(ModerationResult)
		if got.Status != tt.wantStatus || !slices.Equal(got.Reasons, nonNil(tt.wantReasons)) {
			t.Errorf("%s: %+v, want %s %q", tt.name, got, tt.wantStatus, tt.wantReasons)
		}
		if len(store.saved) != 1 || store.saved[0].Reason != strings.Join(tt.wantReasons, "; ") {
			t.Errorf("%s: saved %+v", tt.name, store.saved)
		}
		if !slices.Equal(f.sent(), tt.wantSent) {
			t.Errorf("%s: sent to Vision %q, want %q", tt.name, f.sent(), tt.wantSent)
		}
	}
}

// While attempts remain, a Vision outage fails the job with a transient
// error and nothing is saved; on the last attempt the post is decided on
// its text and links, and the reason says the images were not checked.
func TestModeratePostVisionOutage(t *testing.T) {
	_, srv := startFakeVision(t, 1000)
	store := &moderationRecorder{}
	p := moderationProcessor(store, testVisionClient(srv), nil)
	images := []string{"https://cdn.example/adult.jpg"}
	_, err := p.ModeratePost(context.Background(), moderationJob(t, "Free money!", images, 2, 3))
	if err == nil || IsPermanent(err) || IsUnavailable(err) || strings.Contains(err.Error(), testVisionKey) {
		t.Fatalf("attempt 2 of 3: err = %v, want a transient error without the key", err)
	}
	if len(store.saved) != 0 {
		t.Fatalf("attempt 2 of 3 saved %+v", store.saved)
	}
	res, err := p.ModeratePost(context.Background(), moderationJob(t, "Free money!", images, 3, 3))
	if err != nil {
		t.Fatalf("last attempt: %v", err)
	}
	got := res.(ModerationResult)
	want := []string{"spam phrase: 'free money'", "images not checked: Vision failed after 3 attempts"}
	if got.Status != StatusFlagged || !slices.Equal(got.Reasons, want) {
		t.Errorf("last attempt: %+v, want flagged %q", got, want)
	}
	res, err = p.ModeratePost(context.Background(), moderationJob(t, "We are hiring in Lyon", images, 3, 3))
	if got := res.(ModerationResult); err != nil || got.Status != StatusApproved {
		t.Errorf("clean post, Vision down on the last attempt: %+v %v, want approved", got, err)
	}
}

// End to end through the queue: Vision answers 500 then 200; the job is
// retried by the queue and the post is blocked on its image.
func TestVisionRetriedThroughQueue(t *testing.T) {
	f, srv := startFakeVision(t, 1)
	cfg, err := LoadConfig(testEnv(t, map[string]string{
		"GOOGLE_VISION_API_KEY": testVisionKey, "VISION_ENDPOINT": srv.URL + "/v1/images:annotate",
	}))
	if err != nil {
		t.Fatal(err)
	}
	a := startAppWith(t, cfg, func(app *App) { app.vision.HTTP = srv.Client() })
	id := a.mustAccept(t, "/api/posts/moderate", `{"postId":"p-img","content":"Look at this","images":["https://cdn.example/adult.jpg"]}`)
	a.waitDrained(t)
	st := a.status(t, id)
	if st.State != "completed" || st.Attempts != 2 {
		t.Errorf("job: state %s after %d attempts, want completed after 2", st.State, st.Attempts)
	}
	db := openFile(t, a.cfg.DataDir)
	reason := queryString(t, db, `SELECT flag_reason FROM posts WHERE id = 'p-img' AND moderation_status = 'blocked' AND is_flagged = 1`)
	if reason != "image adult: VERY_LIKELY; image racy: LIKELY" {
		t.Errorf("flag_reason %q", reason)
	}
	if n := len(f.sent()); n != 2 {
		t.Errorf("Vision asked %d times, want 2", n)
	}
}

// End to end: Vision down for good; after JOB_ATTEMPTS the post is decided
// without images.
func TestVisionOutageThroughQueue(t *testing.T) {
	_, srv := startFakeVision(t, 1000)
	cfg, err := LoadConfig(testEnv(t, map[string]string{
		"GOOGLE_VISION_API_KEY": testVisionKey, "VISION_ENDPOINT": srv.URL + "/v1/images:annotate", "JOB_ATTEMPTS": "2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	a := startAppWith(t, cfg, func(app *App) { app.vision.HTTP = srv.Client() })
	id := a.mustAccept(t, "/api/posts/moderate", `{"postId":"p-down","content":"We are hiring","images":["https://cdn.example/adult.jpg"]}`)
	a.waitDrained(t)
	if st := a.status(t, id); st.State != "completed" || st.Attempts != 2 {
		t.Errorf("job: state %s after %d attempts, want completed after 2", st.State, st.Attempts)
	}
	db := openFile(t, a.cfg.DataDir)
	reason := queryString(t, db, `SELECT flag_reason FROM posts WHERE id = 'p-down' AND moderation_status = 'approved' AND is_flagged = 0`)
	if reason != "images not checked: Vision failed after 2 attempts" {
		t.Errorf("flag_reason %q", reason)
	}
}

// The production Vision client refuses a loopback endpoint: the SSRF rule
// applies to Vision too.
func TestVisionClientUsesSafeDialer(t *testing.T) {
	f, srv := startFakeVision(t, 0)
	c := NewVisionClient(srv.URL+"/v1/images:annotate", testVisionKey)
	_, err := c.SafeSearch(context.Background(), []string{"https://cdn.example/a.jpg"})
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("Vision at %s: %v, want the address refused", srv.URL, err)
	}
	if len(f.sent()) != 0 {
		t.Error("the loopback Vision server was reached")
	}
}

func TestVisionConfig(t *testing.T) {
	cfg, err := LoadConfig(testEnv(t, nil))
	if err != nil || cfg.VisionEndpoint != "https://vision.googleapis.com/v1/images:annotate" || cfg.VisionAPIKey != "" {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	for _, bad := range []string{"vision.example/annotate", "ftp://vision.example/", "https://"} {
		_, err := LoadConfig(testEnv(t, map[string]string{"VISION_ENDPOINT": bad}))
		if err == nil || !strings.Contains(err.Error(), "VISION_ENDPOINT") {
			t.Errorf("VISION_ENDPOINT=%q: %v, want an error naming it", bad, err)
		}
	}
	without := startApp(t, nil)
	with := startApp(t, map[string]string{"GOOGLE_VISION_API_KEY": testVisionKey, "MODERATION_WORDLIST_DIR": " "})
	if without.vision != nil || with.vision == nil || with.vision.APIKey != testVisionKey || with.vision.Endpoint != cfg.VisionEndpoint {
		t.Errorf("Vision client: without key %+v, with key %+v", without.vision, with.vision)
	}
}
