package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const dashboardPassword = "dash-password-1"

// breakModeration makes every post moderation fail with reason until the
// returned function is called: a trigger refuses to record a moderation,
// so jobs fail through the real worker path.
func breakModeration(t testing.TB, a *testApp, reason string) (repair func()) {
	t.Helper()
	quoted := "'" + strings.ReplaceAll(reason, "'", "''") + "'"
	exec := func(stmt string) {
		t.Helper()
		err := a.db.Write(context.Background(), func(tx *WriteTx) error { _, err := tx.Exec(stmt); return err })
		if err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE TRIGGER test_break_moderation BEFORE UPDATE OF moderation_status ON posts BEGIN SELECT RAISE(ABORT, ` + quoted + `); END`)
	return func() { exec(`DROP TRIGGER test_break_moderation`) }
}

// postBody is a moderation webhook for post id with content.
func postBody(id, content string) string {
	b, _ := json.Marshal(map[string]string{"postId": id, "userId": "author-1", "content": content})
	return string(b)
}

// waitState waits until the job is in state.
func (a *testApp) waitState(t testing.TB, id, state string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := a.queue.Status(context.Background(), id)
		if err == nil && s.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %+v %v; want %s", id, s, err, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failedPost posts a moderation webhook while moderation is broken and
// waits for its job to fail.
func (a *testApp) failedPost(t testing.TB, id, content, reason string) string {
	t.Helper()
	repair := breakModeration(t, a, reason)
	defer repair()
	pid := a.mustAccept(t, "/api/posts/moderate", postBody(id, content))
	a.waitState(t, pid, StateFailed)
	return pid
}

// dashResp is a dashboard answer.
type dashResp struct {
	Status int
	Header http.Header
	Body   string
}

// dash calls the dashboard, without following redirects. auth is the
// Basic password ("" for none); header adds headers.
func (a *testApp) dash(t testing.TB, method, path, password string, form url.Values, header map[string]string) dashResp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, a.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if password != "" {
		req.SetBasicAuth("ops", password)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return dashResp{resp.StatusCode, resp.Header, string(b)}
}

func startDashboardApp(t testing.TB, overrides map[string]string) *testApp {
	t.Helper()
	env := map[string]string{"DASHBOARD_PASSWORD": dashboardPassword, "JOB_ATTEMPTS": "1"}
	for k, v := range overrides {
		env[k] = v
	}
	return startApp(t, env)
}

// Without DASHBOARD_PASSWORD there is no dashboard: every route of it
// answers 404, the actions too.
func TestDashboardOffWithoutPassword(t *testing.T) {
	a := startApp(t, nil)
	for _, c := range []struct{ method, path string }{
		{"GET", "/dashboard"}, {"GET", "/dashboard/style.css"}, {"GET", "/dashboard/jobs/x"},
		{"POST", "/dashboard/jobs/x/retry"}, {"POST", "/dashboard/queues/" + QueueJobAnalysis + "/retry"},
	} {
		if r := a.dash(t, c.method, c.path, "anything", url.Values{}, nil); r.Status != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", c.method, c.path, r.Status)
		}
	}
}

// The dashboard wants the password over HTTP Basic, with any user name.
func TestDashboardNeedsThePassword(t *testing.T) {
	a := startDashboardApp(t, nil)
	for _, c := range []struct {
		name     string
		password string
		want     int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong", "dash-password-2", http.StatusUnauthorized},
		{"a prefix", "dash-password", http.StatusUnauthorized},
		{"right", dashboardPassword, http.StatusOK},
	} {
		for _, path := range []string{"/dashboard", "/dashboard/style.css"} {
			r := a.dash(t, http.MethodGet, path, c.password, nil, nil)
			if r.Status != c.want {
				t.Errorf("%s password, %s: %d, want %d", c.name, path, r.Status, c.want)
			}
			if c.want == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("%s password, %s: WWW-Authenticate %q", c.name, path, r.Header.Get("WWW-Authenticate"))
			}
		}
	}
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/dashboard", nil)
	req.SetBasicAuth("", dashboardPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("empty user name: %d", resp.StatusCode)
	}
	if r := a.dash(t, http.MethodPost, "/dashboard/queues/"+QueueJobAnalysis+"/retry", "wrong", url.Values{}, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("action with a wrong password: %d", r.Status)
	}
}

// A POST another site's page makes the browser send is refused with 403,
// credentials or not, and changes nothing; the page's own forms work.
func TestDashboardRefusesCrossOriginPosts(t *testing.T) {
	a := startDashboardApp(t, nil)
	pid := a.failedPost(t, "p-csrf", "hello", "disk full")
	path := "/dashboard/jobs/" + pid + "/retry"
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "https://evil.example"},
	} {
		if r := a.dash(t, http.MethodPost, path, dashboardPassword, url.Values{}, h); r.Status != http.StatusForbidden {
			t.Errorf("POST with %v: %d, want 403", h, r.Status)
		}
	}
	if s := mustStatus(t, a.queue, pid); s.State != StateFailed {
		t.Fatalf("a refused POST changed the job: %+v", s)
	}
	r := a.dash(t, http.MethodPost, path, dashboardPassword, url.Values{}, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": a.URL})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("same-origin POST: %d %s", r.Status, r.Body)
	}
	a.waitState(t, pid, StateCompleted)
}

// Whatever a job carries is shown as text: a post's <script> content in
// the payload, markup in an error. The page allows no script anyway.
func TestDashboardEscapesWhatJobsCarry(t *testing.T) {
	a := startDashboardApp(t, nil)
	const script = `<script>alert(1)</script>`
	const markup = `<img src=x onerror=alert(2)>`
	pid := a.failedPost(t, "p-xss", script, "store refused "+markup)
	for _, path := range []string{"/dashboard", "/dashboard/jobs/" + pid} {
		r := a.dash(t, http.MethodGet, path, dashboardPassword, nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d", path, r.Status)
		}
		for _, raw := range []string{script, markup, "<script", "<img"} {
			if strings.Contains(r.Body, raw) {
				t.Errorf("%s holds %q unescaped", path, raw)
			}
		}
		if !strings.Contains(r.Body, "&lt;img src=x onerror=alert(2)&gt;") {
			t.Errorf("%s does not show the error as text", path)
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
	job := a.dash(t, http.MethodGet, "/dashboard/jobs/"+pid, dashboardPassword, nil, nil)
	if !strings.Contains(job.Body, `&#34;content&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;`) {
		t.Errorf("the job page does not show the content as text:\n%s", job.Body)
	}
}

// Through HTTP: a failed job is listed with its error, retried (it runs
// again and completes, and the counts say so in health and metrics),
// discarded; a queue's failed jobs are retried or discarded at once.
func TestDashboardRetryAndDiscard(t *testing.T) {
	a := startDashboardApp(t, nil)
	first := a.failedPost(t, "p-1", "one", "moderation store read-only")
	if got := mustSample(t, scrape(t, a.URL, ""), "hookd_jobs_failed_now", map[string]string{"queue": QueuePostModeration}); got != 1 {
		t.Errorf("hookd_jobs_failed_now %v, want 1", got)
	}
	overview := a.dash(t, http.MethodGet, "/dashboard", dashboardPassword, nil, nil)
	for _, want := range []string{first, "moderation store read-only", QueuePostModeration, "Embedded mode: there is no outbox."} {
		if !strings.Contains(overview.Body, want) {
			t.Errorf("the overview does not show %q", want)
		}
	}
	job := a.dash(t, http.MethodGet, "/dashboard/jobs/"+first, dashboardPassword, nil, nil)
	for _, want := range []string{"moderation store read-only", "1 of 1", `"postId": "p-1"`, `action="/dashboard/jobs/` + first + `/retry"`} {
		if !strings.Contains(html.UnescapeString(job.Body), want) {
			t.Errorf("the job page does not show %q", want)
		}
	}

	r := a.dash(t, http.MethodPost, "/dashboard/jobs/"+first+"/retry", dashboardPassword, url.Values{}, nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/dashboard/jobs/"+first+"?done=retried&n=1" {
		t.Fatalf("retry: %d %q", r.Status, r.Header.Get("Location"))
	}
	a.waitState(t, first, StateCompleted)
	_, h := a.health(t)
	if c := h.Queues[QueuePostModeration]; c.Failed != 0 || c.Completed != 1 {
		t.Errorf("health after the retried job completed: %+v, want completed 1, failed 0", c)
	}
	fams := scrape(t, a.URL, "")
	if got := mustSample(t, fams, "hookd_jobs", map[string]string{"queue": QueuePostModeration, "state": StateFailed}); got != 0 {
		t.Errorf("hookd_jobs failed %v, health says 0", got)
	}
	if got := mustSample(t, fams, "hookd_jobs_finished_total", map[string]string{"queue": QueuePostModeration, "outcome": "failed"}); got != 1 {
		t.Errorf("hookd_jobs_finished_total failed %v, want 1: the failure happened", got)
	}
	if got := mustSample(t, fams, "hookd_jobs_failed_now", map[string]string{"queue": QueuePostModeration}); got != 0 {
		t.Errorf("hookd_jobs_failed_now %v, want 0", got)
	}
	if r := a.dash(t, http.MethodPost, "/dashboard/jobs/"+first+"/retry", dashboardPassword, url.Values{}, nil); r.Status != http.StatusConflict || !strings.Contains(r.Body, "completed") {
		t.Errorf("retry of a completed job: %d %s", r.Status, r.Body)
	}
	if r := a.dash(t, http.MethodPost, "/dashboard/jobs/post-nope-1700000000000-aaaaaaaa/retry", dashboardPassword, url.Values{}, nil); r.Status != http.StatusNotFound {
		t.Errorf("retry of an unknown job: %d", r.Status)
	}

	second := a.failedPost(t, "p-2", "two", "boom")
	if r := a.dash(t, http.MethodPost, "/dashboard/jobs/"+second+"/discard", dashboardPassword, url.Values{}, nil); r.Status != http.StatusSeeOther {
		t.Fatalf("discard: %d %s", r.Status, r.Body)
	}
	if r := a.dash(t, http.MethodGet, "/dashboard/jobs/"+second, dashboardPassword, nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("the discarded job's page: %d", r.Status)
	}

	repair := breakModeration(t, a, "boom")
	var ids []string
	for _, p := range []string{"p-3", "p-4"} {
		ids = append(ids, a.mustAccept(t, "/api/posts/moderate", postBody(p, "x")))
	}
	for _, id := range ids {
		a.waitState(t, id, StateFailed)
	}
	repair()
	retryAll := "/dashboard/queues/" + QueuePostModeration + "/retry"
	if r := a.dash(t, http.MethodPost, retryAll, dashboardPassword, url.Values{}, nil); r.Status != http.StatusSeeOther || !strings.HasSuffix(r.Header.Get("Location"), "done=retried&n=2") {
		t.Fatalf("retry all: %d %q", r.Status, r.Header.Get("Location"))
	}
	for _, id := range ids {
		a.waitState(t, id, StateCompleted)
	}
	if r := a.dash(t, http.MethodGet, "/dashboard?done=retried&n=2", dashboardPassword, nil, nil); !strings.Contains(r.Body, "Retried 2 jobs") {
		t.Errorf("no notice after retry all")
	}

	third := a.failedPost(t, "p-5", "five", "boom")
	discardAll := "/dashboard/queues/" + QueuePostModeration + "/discard"
	if r := a.dash(t, http.MethodPost, discardAll, dashboardPassword, url.Values{}, nil); r.Status != http.StatusBadRequest {
		t.Errorf("discard all without the box ticked: %d", r.Status)
	}
	if r := a.dash(t, http.MethodPost, discardAll, dashboardPassword, url.Values{"confirm": {"yes"}}, nil); r.Status != http.StatusSeeOther {
		t.Fatalf("discard all: %d %s", r.Status, r.Body)
	}
	if _, err := a.queue.Status(context.Background(), third); err == nil {
		t.Errorf("discard all left %s", third)
	}
	if r := a.dash(t, http.MethodPost, "/dashboard/queues/nope/retry", dashboardPassword, url.Values{}, nil); r.Status != http.StatusNotFound {
		t.Errorf("retry all of an unknown queue: %d", r.Status)
	}
	_, h = a.health(t)
	if c := h.Queues[QueuePostModeration]; c.Completed != 3 || c.Failed != 2 {
		t.Errorf("health at the end: %+v, want completed 3, failed 2 (the discarded ones)", c)
	}
	fams = scrape(t, a.URL, "")
	if got := mustSample(t, fams, "hookd_jobs", map[string]string{"queue": QueuePostModeration, "state": StateFailed}); got != 2 {
		t.Errorf("hookd_jobs failed %v, health says 2", got)
	}
	if got := mustSample(t, fams, "hookd_jobs_failed_now", map[string]string{"queue": QueuePostModeration}); got != 0 {
		t.Errorf("hookd_jobs_failed_now %v after discarding, want 0", got)
	}
}

// The overview shows the leaderboard's top users.
func TestDashboardShowsTheLeaderboard(t *testing.T) {
	a := startDashboardApp(t, nil)
	a.mustAccept(t, activityRoute, `{"userId":"leader-1","action":"apply"}`)
	a.waitDrained(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := a.dash(t, http.MethodGet, "/dashboard", dashboardPassword, nil, nil)
		if strings.Contains(r.Body, "leader-1") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leaderboard does not show leader-1:\n%s", r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDashboardShortAge(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		ago  time.Duration
		want string
	}{{-time.Second, "0s"}, {59 * time.Second, "59s"}, {time.Minute, "1m"}, {119 * time.Minute, "1h"}, {47 * time.Hour, "47h"}, {49 * time.Hour, "2d"}} {
		if got := shortAge(now, now.Add(-c.ago)); got != c.want {
			t.Errorf("%v ago: %q, want %q", c.ago, got, c.want)
		}
	}
	if got := shortAge(now, time.Time{}); got != "" {
		t.Errorf("zero time: %q", got)
	}
}
