package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics with the Authorization header auth ("" for none)
// and parses the text exposition.
func scrape(t testing.TB, baseURL, auth string) map[string]*dto.MetricFamily {
	t.Helper()
	code, fams := scrapeStatus(t, baseURL, auth)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	return fams
}

func scrapeStatus(t testing.TB, baseURL, auth string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return resp.StatusCode, fams
}

// sample finds the sample of family name whose labels include want, and
// returns its value (a histogram's count); ok is false when none does.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func mustSample(t testing.TB, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := sample(fams, name, want)
	if !ok {
		t.Fatalf("no sample %s%v", name, want)
	}
	return v
}

const activityRoute = "/api/activity/score"

// The exposition counts webhooks by route and status, requests no route
// took under one label, jobs by outcome and their durations; the jobs by
// state are health's numbers; the runtime and process collectors are
// there; the outbox is not, in embedded mode.
func TestMetricsExposition(t *testing.T) {
	// A backoff of an hour keeps a retried job delayed until the scrape.
	a := startApp(t, map[string]string{"JOB_BACKOFF_MS": "3600000"})
	for i := range 5 {
		a.mustAccept(t, activityRoute, fmt.Sprintf(`{"userId":"u%d","action":"like"}`, i))
	}
	a.post(t, activityRoute, `{"userId":"u1","action":"dance"}`)
	a.do(t, http.MethodPost, activityRoute, "application/json", `{"userId":"u1","action":"like"}`, map[string]string{"x-webhook-secret": "wrong"})
	a.do(t, http.MethodPost, "/api/nowhere/u1", "application/json", `{}`, nil)
	a.waitDrained(t)
	counts := a.unevenStates(t)

	fams := scrape(t, a.URL, "")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hookd_webhooks_received_total", map[string]string{"route": activityRoute, "status": "200"}, 5},
		{"hookd_webhooks_received_total", map[string]string{"route": activityRoute, "status": "400"}, 1},
		{"hookd_webhooks_received_total", map[string]string{"route": activityRoute, "status": "401"}, 1},
		{"hookd_webhooks_received_total", map[string]string{"route": unmatchedRoute, "status": "404"}, 1},
		{"hookd_webhook_duration_seconds", map[string]string{"route": activityRoute}, 7},
		{"hookd_jobs_finished_total", map[string]string{"queue": QueueActivityScoring, "outcome": "completed"}, 5},
		{"hookd_jobs_finished_total", map[string]string{"queue": QueueActivityScoring, "outcome": "failed"}, 2}, // on arrival
		{"hookd_jobs_finished_total", map[string]string{"queue": QueueJobAnalysis, "outcome": "retried"}, 0},
		{"hookd_jobs_finished_total", map[string]string{"queue": QueuePostModeration, "outcome": "retried"}, 1},
		{"hookd_job_duration_seconds", map[string]string{"queue": QueueActivityScoring}, 5},
		{"hookd_queue_up", nil, 1},
		{"hookd_store_up", nil, 1},
	} {
		if got := mustSample(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for queue, n := range counts {
		for state, want := range map[string]int64{StateWaiting: n.Waiting, StateActive: n.Active, StateDelayed: n.Delayed, StateCompleted: n.Completed, StateFailed: n.Failed} {
			if got := mustSample(t, fams, "hookd_jobs", map[string]string{"queue": queue, "state": state}); got != float64(want) {
				t.Errorf("hookd_jobs{%s,%s} = %v, health says %d", queue, state, got, want)
			}
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes", "hookd_wal_restarts_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	for _, name := range []string{"hookd_outbox_backlog", "hookd_outbox_oldest_age_seconds"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s in embedded mode", name)
		}
	}
}

// unevenStates gives the jobs by state distinct numbers, so that a state
// reported under another's label shows: beside the 5 completed activity
// jobs, 2 activity jobs failed on arrival and a post moderation retried,
// delayed (the app's backoff must outlast the test). Waiting and active
// stay 0: workers take waiting jobs at once. It returns the counts health
// reports then.
func (a *testApp) unevenStates(t testing.TB) map[string]QueueCounts {
	t.Helper()
	ctx := context.Background()
	for i := range 2 {
		id := newProcessingID("activity", fmt.Sprintf("dead-%d", i), time.Now())
		if _, err := a.queue.Enqueue(ctx, NewJob{Queue: QueueActivityScoring, ProcessingID: id, Payload: []byte(`{}`), ReceivedAt: time.Now(), Failed: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	repair := breakModeration(t, a, "disk quota exceeded")
	a.waitState(t, a.mustAccept(t, "/api/posts/moderate", postBody("p-metrics-1", "hello")), StateDelayed)
	repair()
	counts, err := a.queue.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// With METRICS_TOKEN, /metrics wants it as a Bearer token: 401 without
// it or with another; health stays open.
func TestMetricsToken(t *testing.T) {
	a := startApp(t, map[string]string{"METRICS_TOKEN": "metrics-token-1"})
	for _, c := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Bearer metrics-token-1x", http.StatusUnauthorized},
		{"Basic bWV0cmljcy10b2tlbi0x", http.StatusUnauthorized},
		{"metrics-token-1", http.StatusUnauthorized},
		{"Bearer metrics-token-1", http.StatusOK},
		{"bearer metrics-token-1", http.StatusOK},
	} {
		if code, _ := scrapeStatus(t, a.URL, c.auth); code != c.want {
			t.Errorf("Authorization %q: %d, want %d", c.auth, code, c.want)
		}
	}
	r := a.do(t, http.MethodGet, "/metrics", "", "", nil)
	if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" || !strings.Contains(r.str("error"), "METRICS_TOKEN") {
		t.Errorf("401 reply: %d %v %s", r.Status, r.Header, r.Raw)
	}
	if code, _ := a.health(t); code != http.StatusOK {
		t.Errorf("health with METRICS_TOKEN set: %d", code)
	}
}

// No label carries what a sender sent or what the deployment is: only
// route patterns, queue names, states, outcomes and status codes; never
// the secret, the host, the data directory, a path or an id.
func TestMetricsLabelHygiene(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, map[string]string{"DATA_DIR": dir, "METRICS_TOKEN": "metrics-token-2"})
	secretID := "user-personal-4242"
	a.mustAccept(t, activityRoute, `{"userId":"`+secretID+`","action":"like"}`)
	a.mustAccept(t, "/api/posts/moderate", `{"postId":"post-personal-4242","userId":"`+secretID+`","content":"hello"}`)
	a.do(t, http.MethodPost, "/api/activity/score/"+secretID, "application/json", `{}`, map[string]string{"x-webhook-secret": testSecret})
	a.do(t, http.MethodGet, "/api/processing/"+secretID+"?token="+testSecret, "", "", map[string]string{"x-webhook-secret": testSecret})
	a.do(t, http.MethodPost, activityRoute, "application/json", `{}`, map[string]string{"x-webhook-secret": testSecret + "-guess"})
	a.waitDrained(t)

	allowed := map[string]map[string]bool{
		"route":   {unmatchedRoute: true},
		"queue":   {},
		"state":   {StateWaiting: true, StateActive: true, StateDelayed: true, StateCompleted: true, StateFailed: true},
		"outcome": {"completed": true, "retried": true, "failed": true},
	}
	for _, k := range Kinds {
		allowed["route"][k.Route] = true
		allowed["queue"][k.Queue] = true
	}
	host, _ := os.Hostname()
	forbidden := []string{testSecret, "metrics-token-2", secretID, "post-personal-4242", dir, "127.0.0.1", "localhost"}
	if host != "" {
		forbidden = append(forbidden, host)
	}
	fams := scrape(t, a.URL, "Bearer metrics-token-2")
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				v := l.GetValue()
				for _, bad := range forbidden {
					if strings.Contains(v, bad) {
						t.Errorf("%s{%s=%q} holds %q", name, l.GetName(), v, bad)
					}
				}
				if !strings.HasPrefix(name, "hookd_") {
					continue
				}
				switch l.GetName() {
				case "status":
					if len(v) != 3 || v < "100" || v > "599" {
						t.Errorf("%s: status %q", name, v)
					}
				default:
					if set, ok := allowed[l.GetName()]; !ok || !set[v] {
						t.Errorf("%s{%s=%q}: not a label value hookd defines", name, l.GetName(), v)
					}
				}
			}
		}
	}
	if got := mustSample(t, fams, "hookd_webhooks_received_total", map[string]string{"route": unmatchedRoute, "status": "404"}); got != 1 {
		t.Errorf("unmatched 404: %v, want 1", got)
	}
}

// Every name hookd registers starts with hookd_, and each has its help.
func TestMetricsNames(t *testing.T) {
	app, _ := openApp(t, nil)
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	fams := scrape(t, srv.URL, "")
	for name, f := range fams {
		switch {
		case strings.HasPrefix(name, "hookd_"):
			if f.GetHelp() == "" {
				t.Errorf("%s has no help", name)
			}
		case strings.HasPrefix(name, "go_"), strings.HasPrefix(name, "process_"), strings.HasPrefix(name, "promhttp_"):
		default:
			t.Errorf("unexpected metric %s", name)
		}
	}
	// Those with a series before anything happened.
	for _, name := range []string{"hookd_jobs", "hookd_jobs_failed_now", "hookd_jobs_finished_total", "hookd_webhook_duration_seconds", "hookd_queue_up", "hookd_store_up", "hookd_wal_restarts_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
}

// In Postgres mode the outbox's backlog and the age of its oldest event
// are exposed, as health reports them.
func TestPostgresMetricsOutbox(t *testing.T) {
	app, srv := backlogApp(t)
	fams := scrape(t, srv.URL, "")
	if got := mustSample(t, fams, "hookd_outbox_backlog", nil); got != 3 {
		t.Errorf("backlog %v, want 3", got)
	}
	if got := mustSample(t, fams, "hookd_outbox_oldest_age_seconds", nil); got < 90 || got > 600 {
		t.Errorf("oldest age %v, want about 90", got)
	}
	o, err := app.outbox.Stats(context.Background())
	if err != nil || o.Backlog != 3 {
		t.Errorf("health's outbox: %+v %v", o, err)
	}
}

// BenchmarkMetricsWebhook measures what counting and timing adds to a
// webhook: the same trivial handler, bare and wrapped.
func BenchmarkMetricsWebhook(b *testing.B) {
	h := func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) { w.WriteHeader(http.StatusOK) }
	m := NewMetrics(MetricsSources{}, "")
	req := httptest.NewRequest(http.MethodPost, activityRoute, nil)
	for _, c := range []struct {
		name string
		h    httprouter.Handle
	}{{"bare", h}, {"counted", m.webhook(activityRoute, h)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := httptest.NewRecorder()
				for pb.Next() {
					c.h(w, req, nil)
				}
			})
		})
	}
}
