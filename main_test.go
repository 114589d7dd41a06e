package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testSecret = "test-secret"

// testEnv is the environment every in-process test starts from; tests
// override single variables.
func testEnv(t testing.TB, overrides map[string]string) func(string) string {
	env := map[string]string{
		"SUPABASE_WEBHOOK_SECRET": testSecret,
		"DATA_DIR":                t.TempDir(),
		"JOB_BACKOFF_MS":          "20",
	}
	for k, v := range overrides {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// testApp is a whole hookd in the test process: a real SQLite file, real
// HTTP through httptest, real worker pools.
type testApp struct {
	*App
	URL    string
	client *http.Client
}

func startApp(t testing.TB, overrides map[string]string) *testApp {
	t.Helper()
	cfg, err := LoadConfig(testEnv(t, overrides))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return startAppWith(t, cfg)
}

// startAppWith starts an app from cfg; each setup function may adjust the
// opened app before its workers start.
func startAppWith(t testing.TB, cfg Config, setup ...func(*App)) *testApp {
	t.Helper()
	app, err := OpenApp(context.Background(), cfg, testLogger())
	if err != nil {
		t.Fatalf("open app: %v", err)
	}
	for _, f := range setup {
		f(app)
	}
	srv := httptest.NewServer(app.Handler())
	stop, cancelStop := context.WithCancel(context.Background())
	hard, cancelHard := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunWorkers(stop, hard) }()
	t.Cleanup(func() {
		srv.Close()
		cancelStop()
		cancelHard()
		<-done
		if err := app.Close(); err != nil {
			t.Errorf("close app: %v", err)
		}
	})
	return &testApp{App: app, URL: srv.URL, client: srv.Client()}
}

// openApp opens a hookd without serving or running workers; it is closed
// when the test ends.
func openApp(t testing.TB, overrides map[string]string) (*App, Config) {
	t.Helper()
	cfg := testConfig(t, overrides)
	return openAppWith(t, cfg), cfg
}

// testConfig is the configuration of testEnv.
func testConfig(t testing.TB, overrides map[string]string) Config {
	t.Helper()
	cfg, err := LoadConfig(testEnv(t, overrides))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// openAppWith is openApp with a configuration of the test's own.
func openAppWith(t testing.TB, cfg Config) *App {
	t.Helper()
	app, err := OpenApp(context.Background(), cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
}

// reply is a decoded JSON answer.
type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r reply) str(key string) string { s, _ := r.Body[key].(string); return s }

func (a *testApp) do(t testing.TB, method, path, contentType, body string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json (body %s)", method, path, ct, raw)
	}
	if err := json.Unmarshal(raw, &r.Body); err != nil {
		t.Errorf("%s %s: reply is not a JSON object: %q", method, path, raw)
	}
	return r
}

// post sends a webhook with the right secret and content type.
func (a *testApp) post(t testing.TB, path, body string) reply {
	t.Helper()
	return a.do(t, http.MethodPost, path, "application/json", body, map[string]string{"x-webhook-secret": testSecret})
}

// mustAccept posts a webhook that must be answered 200 and returns its processingId.
func (a *testApp) mustAccept(t testing.TB, path, body string) string {
	t.Helper()
	r := a.post(t, path, body)
	if r.Status != http.StatusOK || r.Body["success"] != true || r.str("processingId") == "" {
		t.Fatalf("POST %s %s: %d %s", path, body, r.Status, r.Raw)
	}
	return r.str("processingId")
}

func (a *testApp) health(t testing.TB) (int, healthReply) {
	t.Helper()
	r := a.do(t, http.MethodGet, "/api/health/queues", "", "", nil)
	var h healthReply
	if err := json.Unmarshal([]byte(r.Raw), &h); err != nil {
		t.Fatalf("health: %v: %s", err, r.Raw)
	}
	return r.Status, h
}

// waitDrained waits until no job is waiting, active or delayed.
func (a *testApp) waitDrained(t testing.TB) map[string]QueueCounts {
	t.Helper()
	return a.waitDrainedWithin(t, 30*time.Second)
}

// waitDrainedWithin is waitDrained for a backlog that takes longer.
func (a *testApp) waitDrainedWithin(t testing.TB, d time.Duration) map[string]QueueCounts {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		counts, err := a.queue.Counts(context.Background())
		if err != nil {
			t.Fatalf("counts: %v", err)
		}
		pending := int64(0)
		for _, c := range counts {
			pending += c.Waiting + c.Active + c.Delayed
		}
		if pending == 0 {
			return counts
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues not drained after %s: %+v", d, counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (a *testApp) status(t testing.TB, processingID string) JobStatus {
	t.Helper()
	r := a.do(t, http.MethodGet, "/api/processing/"+processingID, "", "", map[string]string{"x-webhook-secret": testSecret})
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/processing/%s: %d %s", processingID, r.Status, r.Raw)
	}
	var s JobStatus
	if err := json.Unmarshal([]byte(r.Raw), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// openFile opens the app's hookd.db separately, as a user inspecting the
// results would.
func openFile(t testing.TB, dataDir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "hookd.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryInt(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return int(n.Int64)
}

func queryString(t testing.TB, db *sql.DB, query string, args ...any) string {
	t.Helper()
	var s sql.NullString
	if err := db.QueryRow(query, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s.String
}

// The three curl examples of the README's "Try it", on the demo data:
// each answers 200, reaches completed, and leaves its result in hookd.db.
func TestReadmeExamples(t *testing.T) {
	a := startApp(t, map[string]string{"DEMO_DATA": "1"})
	jobID := a.mustAccept(t, "/api/jobs/analyze",
		`{"jobId":"test-job-1","title":"Test Job","requiredSkills":["React"],"experienceLevel":"Senior"}`)
	postID := a.mustAccept(t, "/api/posts/moderate", `{"postId":"test-post-1","content":"This is a test post"}`)
	actID := a.mustAccept(t, "/api/activity/score",
		`{"userId":"user-1","action":"like","targetId":"post-1","targetType":"post"}`)
	for prefix, id := range map[string]string{"job-test-job-1-": jobID, "post-test-post-1-": postID, "activity-user-1-": actID} {
		if !strings.HasPrefix(id, prefix) {
			t.Errorf("processingId %q does not start with %q", id, prefix)
		}
	}
	a.waitDrained(t)
	for _, id := range []string{jobID, postID, actID} {
		if s := a.status(t, id); s.State != StateCompleted || s.Attempts != 1 || s.LastError != nil {
			t.Errorf("%s: %+v, want completed after 1 attempt", id, s)
		}
	}

	db := openFile(t, a.cfg.DataDir)
	matches := queryInt(t, db, `SELECT count(*) FROM job_matches WHERE job_id = 'test-job-1'`)
	if matches == 0 {
		t.Error("the demo data gave the React job no match")
	}
	if n := queryInt(t, db, `SELECT candidates_count FROM jobs WHERE id = 'test-job-1' AND analysis_completed = 1`); n != matches {
		t.Errorf("jobs.candidates_count = %d, want %d (the stored matches)", n, matches)
	}
	if low := queryInt(t, db, `SELECT count(*) FROM job_matches WHERE match_score < 40`); low != 0 {
		t.Errorf("%d matches below MIN_MATCH_SCORE were stored", low)
	}
	if s := queryString(t, db, `SELECT moderation_status FROM posts WHERE id = 'test-post-1'`); s != StatusApproved {
		t.Errorf("post status %q, want approved", s)
	}
	points := queryInt(t, db, `SELECT points_earned FROM activity_logs WHERE processing_id = ?`, actID)
	if points != 5 && points != 8 {
		t.Errorf("like earned %d points, want 5 or 8 (off-peak)", points)
	}
	if score := queryInt(t, db, `SELECT engagement_score FROM users WHERE id = 'user-1'`); score != points {
		t.Errorf("engagement_score %d, want %d", score, points)
	}
	code, h := a.health(t)
	if code != http.StatusOK || h.Status != "ok" {
		t.Errorf("health %d %+v", code, h)
	}
	for _, q := range []string{QueueJobAnalysis, QueuePostModeration, QueueActivityScoring} {
		if c := h.Queues[q]; c.Completed != 1 || c.Failed != 0 {
			t.Errorf("health %s: %+v, want 1 completed", q, c)
		}
	}
}

// Every error status of the webhook routes, and nothing queued for any of them.
func TestWebhookErrors(t *testing.T) {
	a := startApp(t, map[string]string{"MAX_BODY_BYTES": "2048"})
	auth := map[string]string{"x-webhook-secret": testSecret}
	big := `{"jobId":"j1","title":"` + strings.Repeat("x", 3000) + `"}`
	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		header      map[string]string
		status      int
		errorHas    string
	}{
		{"no secret", "POST", "/api/jobs/analyze", "application/json", `{"jobId":"j1","title":"t"}`, nil, 401, "Unauthorized: missing x-webhook-secret"},
		{"wrong secret", "POST", "/api/activity/score", "application/json", `{"userId":"u","action":"like"}`,
			map[string]string{"x-webhook-secret": "test-secreT"}, 401, "Invalid webhook secret"},
		{"secret prefix", "POST", "/api/posts/moderate", "application/json", `{"postId":"p","content":"x"}`,
			map[string]string{"x-webhook-secret": "test"}, 401, "Invalid webhook secret"},
		{"no content type", "POST", "/api/jobs/analyze", "", `{"jobId":"j1","title":"t"}`, auth, 415, "Content-Type"},
		{"text/plain", "POST", "/api/jobs/analyze", "text/plain", `{"jobId":"j1","title":"t"}`, auth, 415, "Content-Type"},
		{"too large", "POST", "/api/jobs/analyze", "application/json", big, auth, 413, "larger than 2048"},
		{"not JSON", "POST", "/api/jobs/analyze", "application/json", `{"jobId":`, auth, 400, "body"},
		{"garbage", "POST", "/api/jobs/analyze", "application/json", `hello`, auth, 400, "body: invalid JSON"},
		{"empty body", "POST", "/api/jobs/analyze", "application/json", ``, auth, 400, "body"},
		{"array body", "POST", "/api/jobs/analyze", "application/json", `[1,2]`, auth, 400, "body: must be a JSON object"},
		{"two objects", "POST", "/api/jobs/analyze", "application/json", `{"jobId":"a","title":"t"}{}`, auth, 400, "body: unexpected data"},
		{"jobId number", "POST", "/api/jobs/analyze", "application/json", `{"jobId":123,"title":"t"}`, auth, 400, "jobId: must be a string"},
		{"jobId missing", "POST", "/api/jobs/analyze", "application/json", `{"title":"t"}`, auth, 400, "jobId: required"},
		{"jobId bad chars", "POST", "/api/jobs/analyze", "application/json", `{"jobId":"a b","title":"t"}`, auth, 400, "jobId: only letters"},
		{"jobId too long", "POST", "/api/jobs/analyze", "application/json", `{"jobId":"` + strings.Repeat("a", 256) + `","title":"t"}`, auth, 400, "jobId: longer than 255"},
		{"title missing", "POST", "/api/jobs/analyze", "application/json", `{"jobId":"j1"}`, auth, 400, "title: required"},
		{"title blank", "POST", "/api/jobs/analyze", "application/json", `{"jobId":"j1","title":"  "}`, auth, 400, "title: required"},
		{"skills not array", "POST", "/api/jobs/analyze", "application/json", `{"jobId":"j1","title":"t","requiredSkills":"Go"}`, auth, 400, "requiredSkills: must be an array of strings"},
		{"skill not string", "POST", "/api/jobs/analyze", "application/json", `{"jobId":"j1","title":"t","requiredSkills":["Go",7]}`, auth, 400, "requiredSkills"},
		{"NUL in title", "POST", "/api/jobs/analyze", "application/json", `{"jobId":"j1","title":"a\u0000b"}`, auth, 400, "title: must be valid UTF-8"},
		{"post without content", "POST", "/api/posts/moderate", "application/json", `{"postId":"p1"}`, auth, 400, "content: at least one of"},
		{"post id missing", "POST", "/api/posts/moderate", "application/json", `{"content":"hi"}`, auth, 400, "postId: required"},
		{"post userId bad", "POST", "/api/posts/moderate", "application/json", `{"postId":"p1","content":"hi","userId":"<script>"}`, auth, 400, "userId: only letters"},
		{"images not array", "POST", "/api/posts/moderate", "application/json", `{"postId":"p1","images":{"a":1}}`, auth, 400, "images: must be an array of strings"},
		{"unknown action", "POST", "/api/activity/score", "application/json", `{"userId":"u1","action":"dance"}`, auth, 400, "allowed: view, like, comment, share, apply"},
		{"action missing", "POST", "/api/activity/score", "application/json", `{"userId":"u1"}`, auth, 400, "action: required"},
		{"userId missing", "POST", "/api/activity/score", "application/json", `{"action":"like"}`, auth, 400, "userId: required"},
		{"occurredAt bad", "POST", "/api/activity/score", "application/json", `{"userId":"u1","action":"like","occurredAt":"yesterday"}`, auth, 400, "occurredAt: want an RFC 3339"},
		{"occurredAt future", "POST", "/api/activity/score", "application/json", `{"userId":"u1","action":"like","occurredAt":"2999-01-01T00:00:00Z"}`, auth, 400, "occurredAt: more than"},
		{"occurredAt number", "POST", "/api/activity/score", "application/json", `{"userId":"u1","action":"like","occurredAt":17}`, auth, 400, "occurredAt: must be a string"},
		{"targetType too long", "POST", "/api/activity/score", "application/json", `{"userId":"u1","action":"like","targetType":"` + strings.Repeat("t", 51) + `"}`, auth, 400, "targetType: longer than 50"},
		{"unknown route", "POST", "/api/nope", "application/json", `{}`, nil, 404, "Not found"},
		{"unknown GET", "GET", "/", "", ``, nil, 404, "Not found"},
		{"wrong method", "GET", "/api/jobs/analyze", "", ``, nil, 405, "Method not allowed"},
		{"wrong method on health", "DELETE", "/api/health/queues", "", ``, nil, 405, "Method not allowed"},
		{"processing without secret", "GET", "/api/processing/job-x-1-abc", "", ``, nil, 401, "Unauthorized: missing x-webhook-secret"},
		{"processing unknown", "GET", "/api/processing/job-x-1-abc", "", ``, auth, 404, "not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.do(t, c.method, c.path, c.contentType, c.body, c.header)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Raw)
			}
			if r.Body["success"] != false || !strings.Contains(r.str("error"), c.errorHas) {
				t.Errorf("body %s, want success:false and an error containing %q", r.Raw, c.errorHas)
			}
		})
	}
	if r := a.post(t, "/api/activity/score", `{"userId":"u1","action":"dance"}`); r.Body["details"] == nil {
		t.Errorf("unknown action: no details listing the allowed values: %s", r.Raw)
	}
	counts, err := a.queue.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for q, c := range counts {
		if c != (QueueCounts{}) {
			t.Errorf("%s: %+v: a rejected webhook was queued", q, c)
		}
	}
	db := openFile(t, a.cfg.DataDir)
	if n := queryInt(t, db, `SELECT count(*) FROM queue_jobs`); n != 0 {
		t.Errorf("%d jobs in the queue after rejections only", n)
	}
}

// A body sent without Content-Length (chunked) is cut at MAX_BODY_BYTES too.
func TestChunkedBodyTooLarge(t *testing.T) {
	a := startApp(t, map[string]string{"MAX_BODY_BYTES": "1024"})
	body := io.MultiReader(strings.NewReader(`{"postId":"p1","content":"`), strings.NewReader(strings.Repeat("y", 4096)), strings.NewReader(`"}`))
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/api/posts/moderate", body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-webhook-secret", testSecret)
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.ContentLength != 0 || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked oversize body: %d (content length %d), want 413", resp.StatusCode, req.ContentLength)
	}
}

// When the queue cannot commit, the webhook answers 503 with Retry-After
// (never 200) and health says unavailable; when it can again, both recover.
func TestQueueCommitFailureAnswers503(t *testing.T) {
	a := startApp(t, nil)
	setWriterReadOnly(t, a.db, true)
	r := a.post(t, "/api/activity/score", `{"userId":"u1","action":"like"}`)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || r.Body["success"] != false {
		t.Fatalf("during a commit failure: %d %v %s, want 503 with Retry-After", r.Status, r.Header, r.Raw)
	}
	if code, h := a.health(t); code != http.StatusServiceUnavailable || h.Status != "unavailable" || h.Queue == "" {
		t.Errorf("health during a commit failure: %d %+v", code, h)
	}
	setWriterReadOnly(t, a.db, false)
	id := a.mustAccept(t, "/api/activity/score", `{"userId":"u1","action":"like"}`)
	a.waitDrained(t)
	if code, h := a.health(t); code != http.StatusOK || h.Status != "ok" {
		t.Errorf("health after recovery: %d %+v", code, h)
	}
	db := openFile(t, a.cfg.DataDir)
	if n := queryInt(t, db, `SELECT count(*) FROM activity_logs`); n != 1 {
		t.Errorf("%d activity logs, want 1 (only %s was accepted)", n, id)
	}
}

// JSON content types other than the bare one are accepted too.
func TestJSONContentTypesAccepted(t *testing.T) {
	a := startApp(t, nil)
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.hookd+json"} {
		r := a.do(t, "POST", "/api/activity/score", ct, `{"userId":"u1","action":"like"}`, map[string]string{"x-webhook-secret": testSecret})
		if r.Status != http.StatusOK {
			t.Errorf("Content-Type %q: %d %s", ct, r.Status, r.Raw)
		}
	}
}

// The activity rule end to end: a like at 23:30 Paris (off-peak, 8
// points) and a comment at noon (10) give 18 points and two logs.
func TestActivityScoringEndToEnd(t *testing.T) {
	a := startApp(t, nil)
	like := a.mustAccept(t, "/api/activity/score",
		`{"userId":"user-42","action":"like","targetId":"post-1","targetType":"post","occurredAt":"2024-01-15T23:30:00+01:00"}`)
	a.mustAccept(t, "/api/activity/score",
		`{"userId":"user-42","action":"COMMENT","targetId":"post-1","targetType":"post","occurredAt":"2024-01-16T12:00:00+01:00"}`)
	a.waitDrained(t)
	db := openFile(t, a.cfg.DataDir)
	if n := queryInt(t, db, `SELECT count(*) FROM activity_logs WHERE user_id = 'user-42'`); n != 2 {
		t.Errorf("%d logs, want 2", n)
	}
	if s := queryInt(t, db, `SELECT engagement_score FROM users WHERE id = 'user-42'`); s != 18 {
		t.Errorf("engagement_score %d, want 18", s)
	}
	if at := queryString(t, db, `SELECT last_activity_at FROM users WHERE id = 'user-42'`); at != "2024-01-16T11:00:00.000Z" {
		t.Errorf("last_activity_at %q, want the later event", at)
	}
	if at := queryString(t, db, `SELECT created_at FROM activity_logs WHERE processing_id = ?`, like); at != "2024-01-15T22:30:00.000Z" {
		t.Errorf("log created_at %q, want the event time", at)
	}

	// Re-running the same processingId changes nothing.
	out, err := a.store.RecordActivities(context.Background(), []ActivityRecord{{
		ProcessingID: like, UserID: "user-42", Action: "like", Points: 8, At: time.Now(),
	}})
	if err != nil || out[0] != (Recorded{}) {
		t.Fatalf("re-run: %+v err=%v, want a no-op", out, err)
	}
	if s := queryInt(t, db, `SELECT engagement_score FROM users WHERE id = 'user-42'`); s != 18 {
		t.Errorf("after a re-run engagement_score %d, want 18", s)
	}
}

// The match scores through the whole service: canonical spellings,
// levels and cities; 38 is below MIN_MATCH_SCORE; a re-analysis replaces
// the job's matches instead of adding to them.
func TestJobAnalysisEndToEnd(t *testing.T) {
	a := startApp(t, nil)
	db := openFile(t, a.cfg.DataDir)
	_, err := db.Exec(`
INSERT INTO candidates (id, skills, experience_level, location, created_at) VALUES
 ('c-100', '["golang","Postgres","Docker","Kubernetes"]', 'Senior', 'Paris', '2024-01-01T00:00:00.000Z'),
 ('c-45',  '["Go","PostgreSQL"]', 'Mid', 'Lyon', '2024-01-01T00:00:00.000Z'),
 ('c-38',  '["Go"]', 'Lead', 'Remote', '2024-01-01T00:00:00.000Z'),
 ('c-0',   '["Java"]', 'Senior', 'Paris', '2024-01-01T00:00:00.000Z')`)
	if err != nil {
		t.Fatal(err)
	}
	job := `{"jobId":"job-go","title":"Backend engineer","description":"Our stack","location":"Paris, France",
		"requiredSkills":["Go","PostgreSQL","Docker","Kubernetes"],"experienceLevel":"Senior"}`
	scores := func() map[string]int {
		rows, err := db.Query(`SELECT candidate_id, match_score FROM job_matches WHERE job_id = 'job-go'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]int{}
		for rows.Next() {
			var id string
			var s int
			if err := rows.Scan(&id, &s); err != nil {
				t.Fatal(err)
			}
			got[id] = s
		}
		return got
	}
	want := map[string]int{"c-100": 100, "c-45": 45}
	for run := 1; run <= 2; run++ {
		id := a.mustAccept(t, "/api/jobs/analyze", job)
		a.waitDrained(t)
		got := scores()
		if len(got) != len(want) || got["c-100"] != 100 || got["c-45"] != 45 {
			t.Fatalf("run %d: matches %v, want %v", run, got, want)
		}
		var res OfferAnalysisResult
		if err := json.Unmarshal(a.status(t, id).Result, &res); err != nil {
			t.Fatal(err)
		}
		if res.CandidatesFound != 3 || res.MatchesCreated != 2 {
			t.Errorf("run %d: result %+v, want 3 found (c-0 shares no skill), 2 created", run, res)
		}
	}
	if n := queryInt(t, db, `SELECT candidates_count FROM jobs WHERE id = 'job-go' AND analysis_completed = 1`); n != 2 {
		t.Errorf("candidates_count %d, want 2", n)
	}
	skills := queryString(t, db, `SELECT extracted_skills FROM jobs WHERE id = 'job-go'`)
	for _, s := range []string{"Go", "PostgreSQL", "Docker", "Kubernetes"} {
		if !strings.Contains(skills, `"`+s+`"`) {
			t.Errorf("extracted_skills %s lacks %s", skills, s)
		}
	}

	// The candidate who was a match loses the skills: re-analysis deletes the stale row.
	if _, err := db.Exec(`UPDATE candidates SET skills = '["Java"]' WHERE id = 'c-45'`); err != nil {
		t.Fatal(err)
	}
	a.mustAccept(t, "/api/jobs/analyze", job)
	a.waitDrained(t)
	if got := scores(); len(got) != 1 || got["c-100"] != 100 {
		t.Errorf("after c-45 changed: matches %v, want only c-100", got)
	}
}

// A post with spam and a shortened link is flagged with every reason.
func TestPostModerationEndToEnd(t *testing.T) {
	a := startApp(t, nil)
	a.mustAccept(t, "/api/posts/moderate",
		`{"postId":"p-spam","userId":"u-9","content":"Free money!!! click here","links":["https://bit.ly/x"]}`)
	a.mustAccept(t, "/api/posts/moderate", `{"postId":"p-ok","content":"We are hiring a Go developer in Lyon."}`)
	a.waitDrained(t)
	db := openFile(t, a.cfg.DataDir)
	if s := queryString(t, db, `SELECT moderation_status FROM posts WHERE id = 'p-ok' AND is_flagged = 0`); s != StatusApproved {
		t.Errorf("clean post: status %q", s)
	}
	reason := queryString(t, db, `SELECT flag_reason FROM posts WHERE id = 'p-spam' AND is_flagged = 1 AND moderated_at IS NOT NULL`)
	if !strings.Contains(reason, "bit.ly") || !strings.Contains(strings.ToLower(reason), "spam") {
		t.Errorf("flag_reason %q should name the spam phrase and the shortener", reason)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM users WHERE id = 'u-9'`); n != 1 {
		t.Errorf("the post's author row was not created")
	}
}

func TestConfigRefusesToStartWithoutSecret(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), nil, func(string) string { return "" }, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "SUPABASE_WEBHOOK_SECRET") {
		t.Fatalf("run without a secret: %v, want an error naming SUPABASE_WEBHOOK_SECRET", err)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	env := map[string]string{
		"SUPABASE_WEBHOOK_SECRET": "s", "PORT": "99999", "JOB_ATTEMPTS": "zero",
		"ACTIVITY_TIMEZONE": "Mars/Olympus", "OFFPEAK_HOURS": "25-3", "SHUTDOWN_TIMEOUT": "soon",
		"LOG_LEVEL": "verbose", "LOG_FORMAT": "xml", "BLOCKED_DOMAINS": "spam.example, not a domain",
	}
	_, err := LoadConfig(func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("no error for a bad configuration")
	}
	for _, name := range []string{"PORT", "JOB_ATTEMPTS", "ACTIVITY_TIMEZONE", "OFFPEAK_HOURS", "SHUTDOWN_TIMEOUT", "LOG_LEVEL", "LOG_FORMAT", `BLOCKED_DOMAINS: "not a domain"`} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 8 {
		t.Errorf("want the 8 problems reported together, got %v", err)
	}
}

// A leading "*." in BLOCKED_DOMAINS, as the docs have always allowed, is
// dropped rather than refused.
func TestBlockedDomainsWildcard(t *testing.T) {
	cfg, err := LoadConfig(testEnv(t, map[string]string{"BLOCKED_DOMAINS": "*.Evil.example, spam.example"}))
	if err != nil || strings.Join(cfg.BlockedDomains, ",") != "evil.example,spam.example" {
		t.Errorf("BLOCKED_DOMAINS: %v %v, want evil.example and spam.example", cfg.BlockedDomains, err)
	}
}

// `hookd help` and `-h` list the commands and exit 0; an unknown command
// or argument is a usage error (exit 2) and starts nothing.
func TestHelpAndUnknownCommands(t *testing.T) {
	env := func(string) string { return "" }
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"serve", "-h"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, env, &out, io.Discard); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		for _, want := range []string{"hookd migrate", "hookd backfill", "hookd jobs", "hookd bench", "SUPABASE_WEBHOOK_SECRET", "DATABASE_URL"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: the usage lacks %q:\n%s", args, want, out.String())
			}
		}
	}
	for _, args := range [][]string{{"backfill", "-h"}, {"bench", "-h"}, {"jobs", "--help"}, {"jobs", "retry", "-h"}} {
		if err := run(context.Background(), args, env, io.Discard, io.Discard); err != nil {
			t.Errorf("%v: %v, want the command's help and no error", args, err)
		}
	}
	for _, args := range [][]string{{"foo"}, {"serve", "extra"}, {"-nosuchflag"}, {"jobs"}, {"jobs", "foo"}, {"jobs", "retry"}, {"jobs", "failed", "-nosuchflag"}} {
		if err := run(context.Background(), args, env, io.Discard, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	bin := buildHookd(t)
	for _, c := range []struct {
		args []string
		code int
	}{{[]string{"help"}, 0}, {[]string{"--help"}, 0}, {[]string{"foo"}, 2}} {
		err := exec.Command(bin, c.args...).Run()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		}
		if code != c.code {
			t.Errorf("hookd %v exited %d (%v), want %d", c.args, code, err, c.code)
		}
	}
}

// The start line says the mode, the workers of each kind and what is on;
// a second start with --demo says the candidates were already there.
func TestStartLogSaysWhatRuns(t *testing.T) {
	dir := t.TempDir()
	for start := 1; start <= 2; start++ {
		var logs bytes.Buffer
		cfg := testConfig(t, map[string]string{"DATA_DIR": dir, "POST_MODERATION_CONCURRENCY": "3", "DEMO_DATA": "1"})
		app, err := OpenApp(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := app.Serve(ctx, ln); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"msg=\"hookd listening\"", "store=embedded", "workers.job-analysis=5", "workers.post-moderation=3",
			"workers.candidate-matching=5", "capture=false", "signatures=false", "leaderboard=true"} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("start %d: the logs lack %s:\n%s", start, want, logs.String())
			}
		}
		demo := map[int]string{1: "demo data loaded", 2: "candidates already present"}[start]
		if !strings.Contains(logs.String(), demo) {
			t.Errorf("start %d: the logs lack %q:\n%s", start, demo, logs.String())
		}
	}
}
