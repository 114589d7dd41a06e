package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Copies of one delivery folded into the same group commit: the first
// copy's key row is visible to the others inside the transaction, so one
// job is added and every copy gets its processingId.
func TestDuplicateKeysInOneBatch(t *testing.T) {
	db, q := openTestQueue(t, testQueueOptions)
	ctx := context.Background()
	release := holdWriter(t, db) // what comes now waits for the next batch
	type result struct {
		id        string
		duplicate bool
		err       error
	}
	const copies = 50
	results := make(chan result, copies)
	for i := range copies {
		go func() {
			id, dup, err := enqueueOnce(ctx, q, QueueActivityScoring, "webhook-id:msg_1", fmt.Sprintf("a-%d", i), []byte(`{}`), time.Now())
			results <- result{id, dup, err}
		}()
	}
	waitQueued(t, db, copies)
	release()
	first, ids := 0, map[string]bool{}
	for range copies {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		ids[r.id] = true
		if !r.duplicate {
			first++
		}
	}
	if first != 1 || len(ids) != 1 {
		t.Fatalf("%d copies enqueued, %d distinct processingIds; want 1 and 1", first, len(ids))
	}
	if n := queryInt(t, inspect(t, db), `SELECT count(*) FROM queue_jobs`); n != 1 {
		t.Fatalf("%d jobs, want 1", n)
	}
	for id := range ids {
		if _, err := q.Status(ctx, id); err != nil {
			t.Errorf("the processingId every copy got, %s, is not the job's: %v", id, err)
		}
	}
}

// sendAtOnce sends copies of one request from n goroutines released
// together, and returns the replies.
func (a *testApp) sendAtOnce(t *testing.T, n int, route, body string, header map[string]string) []reply {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	replies := make([]reply, n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, a.URL+route, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range header {
				req.Header.Set(k, v)
			}
			<-start
			resp, err := a.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			replies[i] = reply{Status: resp.StatusCode, Raw: string(raw)}
		})
	}
	close(start)
	wg.Wait()
	return replies
}

// 50 copies of one delivery at the same instant, for each kind of key:
// 50 × 200, one processingId, one job, and the effect applied once.
func TestConcurrentDuplicateDeliveries(t *testing.T) {
	a := startSigningApp(t, secretA)
	db := openFile(t, a.cfg.DataDir)
	signedBody := `{"jobId":"job-dup","title":"Go developer","requiredSkills":["Go"]}`
	cases := []struct {
		name, route, queue, body string
		header                   map[string]string
	}{
		{"signed, webhook-id", "/api/jobs/analyze", QueueJobAnalysis, signedBody, signedHeaders(keyA, "msg_dup", time.Now().Unix(), signedBody)},
		{"direct form, Idempotency-Key", "/api/posts/moderate", QueuePostModeration, `{"postId":"post-dup","content":"Hello"}`,
			map[string]string{"x-webhook-secret": testSecret, "Idempotency-Key": "8e03978e-40d5-43e8-bc93-6894a57f9324"}},
		{"pg_net envelope INSERT, no header", "/api/activity/score", QueueActivityScoring, fixture(t, "likes_insert.json"),
			map[string]string{"x-webhook-secret": testSecret, "User-Agent": "pg_net/0.14.0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ids, firsts := map[string]bool{}, 0
			for _, r := range a.sendAtOnce(t, 50, c.route, c.body, c.header) {
				if r.Status != http.StatusOK || !strings.Contains(r.Raw, `"success":true`) {
					t.Fatalf("a copy got %d %s", r.Status, r.Raw)
				}
				_, id, _ := strings.Cut(r.Raw, `"processingId":"`)
				id, _, _ = strings.Cut(id, `"`)
				ids[id] = true
				if !strings.Contains(r.Raw, `"duplicate":true`) {
					firsts++
				}
			}
			if len(ids) != 1 || firsts != 1 {
				t.Errorf("%d processingIds, %d copies without duplicate:true; want 1 and 1: %v", len(ids), firsts, ids)
			}
			if n := queryInt(t, db, `SELECT count(*) FROM queue_jobs WHERE queue = ?`, c.queue); n != 1 {
				t.Errorf("%d jobs in %s, want 1", n, c.queue)
			}
		})
	}
	a.waitDrained(t)
	if n := queryInt(t, db, `SELECT count(*) FROM activity_logs`); n != 1 {
		t.Errorf("%d activity logs, want 1", n)
	}
	if s := queryInt(t, db, `SELECT engagement_score FROM users WHERE id = ?`, fixtureUser); s != 8 {
		t.Errorf("engagement_score %d, want 8: one like at 23:30 Paris", s)
	}
}

// Which requests are the same delivery, one after another.
func TestDeliveryKeys(t *testing.T) {
	a := startApp(t, nil)
	db := openFile(t, a.cfg.DataDir)
	send := func(route, body string, header map[string]string) reply {
		t.Helper()
		h := map[string]string{"x-webhook-secret": testSecret}
		for k, v := range header {
			h[k] = v
		}
		return a.do(t, http.MethodPost, route, "application/json", body, h)
	}
	// same sends a request twice and reports whether the second was
	// answered as a duplicate of the first.
	same := func(first, second func() reply) bool {
		t.Helper()
		r1, r2 := first(), second()
		if r1.Status != http.StatusOK || r2.Status != http.StatusOK || r1.Body["duplicate"] != nil {
			t.Fatalf("%d %s / %d %s", r1.Status, r1.Raw, r2.Status, r2.Raw)
		}
		dup := r2.Body["duplicate"] == true
		if dup != (r1.str("processingId") == r2.str("processingId")) {
			t.Errorf("duplicate=%v but processingIds %s and %s", dup, r1.str("processingId"), r2.str("processingId"))
		}
		return dup
	}
	job := `{"jobId":"job-k","title":"t"}`
	post := `{"postId":"post-k","content":"c"}`
	jobWith := func(h map[string]string) func() reply {
		return func() reply { return send("/api/jobs/analyze", job, h) }
	}
	idem := func(k string) map[string]string { return map[string]string{"Idempotency-Key": k} }
	insert, update := fixture(t, "jobs_insert.json"), fixture(t, "jobs_update_content.json")

	checks := []struct {
		name string
		dup  bool
		got  bool
	}{
		{"envelope INSERT twice", true, same(func() reply { return a.pgNet(t, "/api/jobs/analyze", insert) }, func() reply { return a.pgNet(t, "/api/jobs/analyze", insert) })},
		{"envelope UPDATE twice", false, same(func() reply { return a.pgNet(t, "/api/jobs/analyze", update) }, func() reply { return a.pgNet(t, "/api/jobs/analyze", update) })},
		{"direct form twice, no key", false, same(jobWith(nil), jobWith(nil))},
		{"same Idempotency-Key", true, same(jobWith(idem("k-1")), jobWith(idem("k-1")))},
		{"other Idempotency-Key", false, same(jobWith(idem("k-2")), jobWith(idem("k-3")))},
		{"same Idempotency-Key, other route", false, same(jobWith(idem("k-4")), func() reply { return send("/api/posts/moderate", post, idem("k-4")) })},
		{"same webhook-id, other Idempotency-Key", true, same(jobWith(map[string]string{"webhook-id": "msg_1", "Idempotency-Key": "k-5"}),
			jobWith(map[string]string{"webhook-id": "msg_1", "Idempotency-Key": "k-6"}))},
		{"webhook-id and Idempotency-Key of equal value", false, same(jobWith(map[string]string{"webhook-id": "k-7"}), jobWith(idem("k-7")))},
		{"Idempotency-Key equal to an envelope's row key", false, same(func() reply { return a.pgNet(t, "/api/jobs/analyze", fixture(t, "jobs_insert_bigint_id.json")) },
			jobWith(idem("jobs:INSERT:4217")))},
	}
	for _, c := range checks {
		if c.got != c.dup {
			t.Errorf("%s: duplicate=%v, want %v", c.name, c.got, c.dup)
		}
	}

	// A rejected or uncommitted delivery leaves no key behind: its retry is new.
	if r := send("/api/jobs/analyze", `{"jobId":"job-k"}`, idem("k-8")); r.Status != http.StatusBadRequest {
		t.Fatalf("invalid body: %d %s", r.Status, r.Raw)
	}
	setWriterReadOnly(t, a.db, true)
	r := send("/api/jobs/analyze", job, idem("k-9"))
	setWriterReadOnly(t, a.db, false)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("during a commit failure: %d %s", r.Status, r.Raw)
	}
	for _, k := range []string{"k-8", "k-9"} {
		if r := send("/api/jobs/analyze", job, idem(k)); r.Status != http.StatusOK || r.Body["duplicate"] != nil {
			t.Errorf("retry with %s after a failure: %d %s, want a new job", k, r.Status, r.Raw)
		}
	}
	if n := queryInt(t, db, `SELECT count(*) FROM queue_deliveries WHERE processing_id NOT IN (SELECT processing_id FROM queue_jobs)`); n != 0 {
		t.Errorf("%d delivery keys name no job", n)
	}
}

// Delivery headers are validated like any other input.
func TestDeliveryHeadersValidated(t *testing.T) {
	a := startApp(t, nil)
	cases := []struct{ name, header, value, errorHas string }{
		{"webhook-id too long", "webhook-id", strings.Repeat("m", 256), "webhook-id: longer than 255 characters"},
		{"Idempotency-Key too long", "Idempotency-Key", strings.Repeat("k", 256), "Idempotency-Key: longer than 255 characters"},
		{"Idempotency-Key not ASCII", "Idempotency-Key", "clé-1", "Idempotency-Key: only printable ASCII"},
		{"Idempotency-Key with a tab", "Idempotency-Key", "a\tb", "Idempotency-Key: only printable ASCII"},
		{"Idempotency-Key in Cyrillic", "Idempotency-Key", "ключ", "Idempotency-Key: only printable ASCII"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Both headers are checked, even the one a webhook-id makes unused.
			h := map[string]string{"x-webhook-secret": testSecret, "webhook-id": "msg_ok"}
			h[c.header] = c.value
			r := a.do(t, http.MethodPost, "/api/jobs/analyze", "application/json", `{"jobId":"j","title":"t"}`, h)
			if r.Status != http.StatusBadRequest || !strings.HasPrefix(r.str("error"), c.errorHas) {
				t.Errorf("%d %s, want 400 %q", r.Status, r.Raw, c.errorHas)
			}
		})
	}
	if n := queryInt(t, openFile(t, a.cfg.DataDir), `SELECT count(*) FROM queue_jobs`); n != 0 {
		t.Errorf("%d jobs queued with bad delivery headers", n)
	}
	r := a.do(t, http.MethodPost, "/api/jobs/analyze", "application/json", `{"jobId":"j","title":"t"}`,
		map[string]string{"x-webhook-secret": testSecret, "Idempotency-Key": `"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "webhook-id": strings.Repeat("m", 255)})
	if r.Status != http.StatusOK {
		t.Errorf("255 characters and a quoted key: %d %s, want 200", r.Status, r.Raw)
	}
}

// Keys are kept 24 hours: the maintenance loop forgets older ones, after
// which the same key is a new delivery.
func TestDeliveryKeysExpire(t *testing.T) {
	db, q := openTestQueue(t, testQueueOptions)
	ctx := context.Background()
	now := time.Now()
	enqueue := func(key, id string, at time.Time) bool {
		t.Helper()
		_, dup, err := enqueueOnce(ctx, q, QueuePostModeration, key, id, []byte(`{}`), at)
		if err != nil {
			t.Fatal(err)
		}
		return dup
	}
	enqueue("idempotency-key:old", "p-1", now.Add(-DeliveryKeyTTL-time.Minute))
	enqueue("idempotency-key:recent", "p-2", now.Add(-DeliveryKeyTTL+time.Minute))
	m := &Maintenance{Queue: q, Lease: time.Minute, Retention: time.Hour, Log: testLogger()}
	m.prune(ctx, now)
	if n := queryInt(t, inspect(t, db), `SELECT count(*) FROM queue_deliveries`); n != 1 {
		t.Fatalf("%d keys left, want only the recent one", n)
	}
	if enqueue("idempotency-key:old", "p-3", now) {
		t.Error("a key older than 24 h still marks a duplicate")
	}
	if !enqueue("idempotency-key:recent", "p-4", now) {
		t.Error("a key younger than 24 h was forgotten")
	}
}
