package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ackOne records one job's outcome with Queue.Ack, which the pools call
// for many at a time.
func ackOne(ctx context.Context, q *Queue, a Ack) (bool, error) {
	current, err := q.Ack(ctx, []Ack{a})
	if err != nil {
		return false, err
	}
	return current[0], nil
}

func openTestQueue(t testing.TB, opt QueueOptions) (*DB, *Queue) {
	t.Helper()
	dir := t.TempDir()
	db, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	q := openQueueOn(t, db, opt)
	t.Cleanup(func() { db.Close() })
	return db, q
}

// enqueue adds one job without a delivery key.
func enqueue(ctx context.Context, q *Queue, queue, processingID string, payload []byte, at time.Time) error {
	_, err := q.Enqueue(ctx, NewJob{Queue: queue, ProcessingID: processingID, Payload: payload, ReceivedAt: at})
	return err
}

// enqueueOnce adds one job under a delivery key and says what became of it.
func enqueueOnce(ctx context.Context, q *Queue, queue, key, processingID string, payload []byte, at time.Time) (string, bool, error) {
	e, err := q.Enqueue(ctx, NewJob{Queue: queue, ProcessingID: processingID, Payload: payload, ReceivedAt: at, Key: key})
	if err != nil {
		return "", false, err
	}
	return e[0].ProcessingID, e[0].Duplicate, nil
}

// openQueueOn opens the queues of Kinds in db.
func openQueueOn(t testing.TB, db *DB, opt QueueOptions) *Queue {
	t.Helper()
	q, err := OpenQueue(context.Background(), db, queueNames(Kinds), opt)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

var testQueueOptions = QueueOptions{Attempts: 3, Backoff: 10 * time.Millisecond, Lease: time.Minute}

func mustEnqueue(t testing.TB, q *Queue, queue, id string) {
	t.Helper()
	if err := enqueue(context.Background(), q, queue, id, []byte(`{}`), time.Now()); err != nil {
		t.Fatal(err)
	}
}

func mustClaimOne(t testing.TB, q *Queue, queue string) Job {
	t.Helper()
	jobs, err := q.Claim(context.Background(), queue, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v, %d jobs", err, len(jobs))
	}
	return jobs[0]
}

func mustStatus(t testing.TB, q *Queue, id string) JobStatus {
	t.Helper()
	s, err := q.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Many concurrent enqueues share commits, and every one that returned is
// in the file.
func TestGroupCommitKeepsEveryEnqueue(t *testing.T) {
	db, q := openTestQueue(t, testQueueOptions)
	const n = 500
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := enqueue(context.Background(), q, QueueActivityScoring, fmt.Sprintf("a-%d", i), []byte(`{}`), time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := queryInt(t, inspect(t, db), `SELECT count(*) FROM queue_jobs WHERE state = 'waiting'`); got != n {
		t.Fatalf("%d waiting jobs, want %d", got, n)
	}
}

// Claims come oldest first, at most n, and only from the named queue.
func TestClaimOrderAndLimit(t *testing.T) {
	_, q := openTestQueue(t, testQueueOptions)
	for i := range 5 {
		mustEnqueue(t, q, QueuePostModeration, fmt.Sprintf("p-%d", i))
	}
	mustEnqueue(t, q, QueueJobAnalysis, "j-0")
	jobs, err := q.Claim(context.Background(), QueuePostModeration, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 || jobs[0].ProcessingID != "p-0" || jobs[2].ProcessingID != "p-2" || jobs[0].Attempt != 1 {
		t.Fatalf("claimed %+v, want p-0..p-2 on attempt 1", jobs)
	}
	counts, _ := q.Counts(context.Background())
	if c := counts[QueuePostModeration]; c.Active != 3 || c.Waiting != 2 {
		t.Errorf("posts %+v, want 3 active 2 waiting", c)
	}
	if c := counts[QueueJobAnalysis]; c.Waiting != 1 {
		t.Errorf("jobs %+v, want 1 waiting", c)
	}
}

// A transient error retries after the backoff; the last attempt fails
// for good and is counted.
func TestRetryThenFail(t *testing.T) {
	_, q := openTestQueue(t, QueueOptions{Attempts: 2, Backoff: 50 * time.Millisecond, Lease: time.Minute})
	ctx := context.Background()
	mustEnqueue(t, q, QueueJobAnalysis, "j-1")
	j := mustClaimOne(t, q, QueueJobAnalysis)
	if ok, err := ackOne(ctx, q, Ack{Job: j, Err: errors.New("timeout talking to vision")}); !ok || err != nil {
		t.Fatalf("fail: %v %v", ok, err)
	}
	if s := mustStatus(t, q, "j-1"); s.State != StateDelayed || s.LastError == nil || *s.LastError != "timeout talking to vision" {
		t.Fatalf("after a transient error: %+v", s)
	}
	if jobs, _ := q.Claim(ctx, QueueJobAnalysis, 1); len(jobs) != 0 {
		t.Fatal("a delayed job was claimed before its retry time")
	}
	at, ok, err := q.NextRetry(ctx, QueueJobAnalysis)
	if err != nil || !ok || time.Until(at) > 60*time.Millisecond {
		t.Fatalf("next retry %v %v %v, want within the 50ms backoff", at, ok, err)
	}
	time.Sleep(time.Until(at) + 5*time.Millisecond)
	j = mustClaimOne(t, q, QueueJobAnalysis)
	if j.Attempt != 2 {
		t.Fatalf("retry attempt %d, want 2", j.Attempt)
	}
	if ok, err := ackOne(ctx, q, Ack{Job: j, Err: errors.New("timeout again")}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if s := mustStatus(t, q, "j-1"); s.State != StateFailed || *s.LastError != "timeout again" {
		t.Fatalf("after the last attempt: %+v", s)
	}
	counts, _ := q.Counts(ctx)
	if c := counts[QueueJobAnalysis]; c.Failed != 1 || c.Delayed != 0 || c.Completed != 0 {
		t.Errorf("counts %+v", c)
	}
}

func TestPermanentErrorFailsAtOnce(t *testing.T) {
	_, q := openTestQueue(t, testQueueOptions)
	mustEnqueue(t, q, QueueActivityScoring, "a-1")
	j := mustClaimOne(t, q, QueueActivityScoring)
	if _, err := ackOne(context.Background(), q, Ack{Job: j, Err: Permanent(errors.New("user u-1 not found")), Permanent: true}); err != nil {
		t.Fatal(err)
	}
	if s := mustStatus(t, q, "a-1"); s.State != StateFailed || s.Attempts != 1 || *s.LastError != "user u-1 not found" {
		t.Fatalf("%+v, want failed after 1 attempt with the reason", s)
	}
}

func TestRetryDelayDoubles(t *testing.T) {
	q := &Queue{backoff: 2 * time.Second, maxDelay: time.Hour}
	for attempt, want := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second, 20: time.Hour} {
		if got := q.retryDelay(attempt); got != want {
			t.Errorf("after attempt %d: %v, want %v", attempt, got, want)
		}
	}
}

// An ack from a claim that is no longer current changes nothing.
func TestStaleAckIsIgnored(t *testing.T) {
	_, q := openTestQueue(t, QueueOptions{Attempts: 3, Backoff: time.Millisecond, Lease: time.Millisecond})
	ctx := context.Background()
	mustEnqueue(t, q, QueueActivityScoring, "a-1")
	stale := mustClaimOne(t, q, QueueActivityScoring)
	time.Sleep(5 * time.Millisecond)
	if n, err := q.ReapExpired(ctx); err != nil || n != 1 {
		t.Fatalf("reap: %d %v", n, err)
	}
	fresh := mustClaimOne(t, q, QueueActivityScoring)
	if ok, err := ackOne(ctx, q, Ack{Job: stale, Result: []byte(`{"by":"stale"}`)}); ok || err != nil {
		t.Fatalf("stale complete: %v %v, want ignored", ok, err)
	}
	if ok, err := ackOne(ctx, q, Ack{Job: stale, Err: errors.New("late"), Permanent: true}); ok || err != nil {
		t.Fatalf("stale fail: %v %v, want ignored", ok, err)
	}
	if ok, err := ackOne(ctx, q, Ack{Job: fresh, Result: []byte(`{"by":"fresh"}`)}); !ok || err != nil {
		t.Fatalf("fresh complete: %v %v", ok, err)
	}
	s := mustStatus(t, q, "a-1")
	if s.State != StateCompleted || string(s.Result) != `{"by":"fresh"}` || s.Attempts != 2 {
		t.Fatalf("%+v", s)
	}
	counts, _ := q.Counts(ctx)
	if c := counts[QueueActivityScoring]; c.Completed != 1 || c.Failed != 0 {
		t.Errorf("counts %+v, want exactly one completion", c)
	}
}

// A lease that expires on the last attempt fails the job instead of
// looping forever.
func TestReapOnLastAttemptFails(t *testing.T) {
	_, q := openTestQueue(t, QueueOptions{Attempts: 1, Backoff: time.Millisecond, Lease: time.Millisecond})
	mustEnqueue(t, q, QueueJobAnalysis, "j-1")
	mustClaimOne(t, q, QueueJobAnalysis)
	time.Sleep(5 * time.Millisecond)
	if _, err := q.ReapExpired(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := mustStatus(t, q, "j-1"); s.State != StateFailed || s.LastError == nil {
		t.Fatalf("%+v, want failed with lease expired", s)
	}
	counts, _ := q.Counts(context.Background())
	if counts[QueueJobAnalysis].Failed != 1 {
		t.Errorf("failed count %+v", counts[QueueJobAnalysis])
	}
}

// Jobs left active by a dead process go back to waiting at the next start.
func TestRecoverAbandonedAtStart(t *testing.T) {
	dir := t.TempDir()
	db, _ := OpenDB(dir)
	q := openQueueOn(t, db, testQueueOptions)
	mustEnqueue(t, q, QueuePostModeration, "p-1")
	mustClaimOne(t, q, QueuePostModeration)
	db.Close()

	db, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q = openQueueOn(t, db, testQueueOptions)
	if n, err := q.RecoverAbandoned(context.Background()); n != 1 || err != nil {
		t.Fatalf("recovered %d, %v", n, err)
	}
	if j := mustClaimOne(t, q, QueuePostModeration); j.ProcessingID != "p-1" || j.Attempt != 2 {
		t.Fatalf("%+v", j)
	}
}

// Release (shutdown) gives the attempt back.
func TestReleaseKeepsTheAttempt(t *testing.T) {
	_, q := openTestQueue(t, testQueueOptions)
	mustEnqueue(t, q, QueuePostModeration, "p-1")
	j := mustClaimOne(t, q, QueuePostModeration)
	if ok, err := ackOne(context.Background(), q, Ack{Job: j, Release: "shutdown"}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if s := mustStatus(t, q, "p-1"); s.State != StateWaiting || s.Attempts != 0 {
		t.Fatalf("%+v, want waiting with no attempt spent", s)
	}
}

// Pruning completed rows leaves the cumulative counts alone.
func TestCountsSurvivePruning(t *testing.T) {
	db, q := openTestQueue(t, testQueueOptions)
	ctx := context.Background()
	for i := range 3 {
		id := fmt.Sprintf("a-%d", i)
		mustEnqueue(t, q, QueueActivityScoring, id)
		if ok, err := ackOne(ctx, q, Ack{Job: mustClaimOne(t, q, QueueActivityScoring), Result: []byte(`{}`)}); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	n, err := q.PruneCompleted(ctx, time.Now().Add(time.Second))
	if err != nil || n != 3 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if rows := queryInt(t, inspect(t, db), `SELECT count(*) FROM queue_jobs`); rows != 0 {
		t.Fatalf("%d rows left", rows)
	}
	counts, _ := q.Counts(ctx)
	if c := counts[QueueActivityScoring]; c.Completed != 3 {
		t.Fatalf("completed %d after pruning, want 3", c.Completed)
	}
	if _, err := q.Status(ctx, "a-0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("pruned job status: %v, want ErrNotFound", err)
	}
}

// A job whose lease expires while its worker is stuck runs again, and its
// effect is applied once: the stuck worker's late write and ack are no-ops.
func TestStaleLeaseRunsOnceInEffect(t *testing.T) {
	app, cfg := openApp(t, map[string]string{"JOB_LEASE": "1s"})
	proc := &Processor{Store: app.store, Log: testLogger(), Timezone: time.UTC, OffPeak: OffPeak{Start: 22, End: 7}, Now: time.Now}

	release := make(chan struct{})
	var firstDone atomic.Bool
	work := func(ctx context.Context, jobs []Job) []Result {
		if jobs[0].Attempt == 1 {
			<-release // stuck, deaf to its context, past the lease
			defer firstDone.Store(true)
			return proc.ScoreActivities(context.Background(), jobs)
		}
		return proc.ScoreActivities(ctx, jobs)
	}
	pool := &Pool{Queue: app.queue, Name: QueueActivityScoring, Size: 2, Work: work, Timeout: time.Second, Gate: app.gate, Log: testLogger()}
	stop, cancel := context.WithCancel(context.Background())
	poolDone := make(chan error, 1)
	go func() { poolDone <- pool.Run(stop, context.Background()) }()
	reaper := &Maintenance{Queue: app.queue, Lease: cfg.Lease, Retention: time.Hour, Log: testLogger()}
	go reaper.Run(stop)

	body := fmt.Appendf(nil, `{"userId":"u-1","action":"share","occurredAt":%q}`, "2024-01-15T12:00:00Z")
	d, err := DecodeActivity(body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(d.Task)
	if err := enqueue(context.Background(), app.queue, QueueActivityScoring, "activity-u-1-1", payload, time.Now()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for mustStatus(t, app.queue, "activity-u-1-1").State != StateCompleted {
		if time.Now().After(deadline) {
			t.Fatalf("the job was not re-run after its lease expired: %+v", mustStatus(t, app.queue, "activity-u-1-1"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	cancel()
	<-poolDone
	if !firstDone.Load() {
		t.Fatal("the stuck worker never finished")
	}

	s := mustStatus(t, app.queue, "activity-u-1-1")
	if s.State != StateCompleted || s.Attempts != 2 || string(s.Result) != `{"points":15,"applied":true}` {
		t.Errorf("status %+v %s, want completed by attempt 2 which applied the points", s, s.Result)
	}
	if n := queryInt(t, inspect(t, app.db), `SELECT count(*) FROM activity_logs`); n != 1 {
		t.Errorf("%d activity logs, want 1", n)
	}
	if n := queryInt(t, inspect(t, app.db), `SELECT engagement_score FROM users WHERE id = 'u-1'`); n != 15 {
		t.Errorf("engagement_score %d, want 15 (a share, once)", n)
	}
	counts, _ := app.queue.Counts(context.Background())
	if c := counts[QueueActivityScoring]; c.Completed != 1 || c.Failed != 0 {
		t.Errorf("counts %+v, want 1 completed", c)
	}
}

// Activity jobs are scored a batch at a time: a job that cannot succeed
// fails alone, and its batch-mates complete.
func TestActivityBatchFailsOnlyTheBadJob(t *testing.T) {
	app, cfg := openApp(t, nil)
	ctx := context.Background()
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	payloads := []string{
		`{"userId":"u-1","action":"like","occurredAt":"2026-11-28T12:00:00Z"}`,
		`{"userId":"u-1","action":"teleport","occurredAt":"2026-11-28T12:00:00Z"}`,
		`not json`,
		`{"userId":"u-1","action":"comment","occurredAt":"2026-11-28T12:00:00Z"}`,
	}
	for i, p := range payloads {
		if err := enqueue(ctx, app.queue, QueueActivityScoring, fmt.Sprintf("act-%d", i), []byte(p), at); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := app.queue.Claim(ctx, QueueActivityScoring, 10)
	if err != nil || len(jobs) != 4 {
		t.Fatalf("claim: %d jobs, %v", len(jobs), err)
	}
	proc := &Processor{Store: app.store, Log: testLogger(), Timezone: time.UTC, OffPeak: OffPeak{Start: 22, End: 7}, Now: time.Now}
	out := proc.ScoreActivities(ctx, jobs)
	for i, want := range []string{"", "unknown action", "decode", ""} {
		got := ""
		if out[i].Err != nil {
			got = out[i].Err.Error()
			if !IsPermanent(out[i].Err) {
				t.Errorf("job %d: %v is not permanent", i, out[i].Err)
			}
		}
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("job %d: error %q, want %q", i, got, want)
		}
	}
	if out[0].Value != (ActivityResult{5, true}) || out[3].Value != (ActivityResult{10, true}) {
		t.Errorf("results %+v %+v, want 5 and 10 points applied", out[0].Value, out[3].Value)
	}
	db := openFile(t, cfg.DataDir)
	if s := queryInt(t, db, `SELECT engagement_score FROM users WHERE id = 'u-1'`); s != 15 {
		t.Errorf("engagement_score %d, want 15", s)
	}
}

// A failed attempt wakes its pool: a pool asleep until a later retry time
// must see the new, earlier one at once.
func TestRetryWakesThePool(t *testing.T) {
	_, q := openTestQueue(t, QueueOptions{Attempts: 3, Backoff: time.Millisecond, Lease: time.Minute})
	ctx := context.Background()
	if err := enqueue(ctx, q, QueueActivityScoring, "a-1", []byte(`{}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	j := mustClaimOne(t, q, QueueActivityScoring)
	select {
	case <-q.Ready(QueueActivityScoring):
	default:
	}
	if _, err := ackOne(ctx, q, Ack{Job: j, Err: errors.New("flaky")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-q.Ready(QueueActivityScoring):
	default:
		t.Fatal("a retry did not wake the queue's pool")
	}
}

// Commits are copied from the WAL into hookd.db in the background: the
// writer's connection never checkpoints (wal_autocheckpoint is off).
func TestWALCheckpointedInBackground(t *testing.T) {
	db, q := openTestQueue(t, testQueueOptions)
	before, err := os.Stat(db.Path)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(strings.Repeat("x", 2000))
	for i := range 200 {
		if err := enqueue(context.Background(), q, QueueActivityScoring, fmt.Sprintf("a-%d", i), payload, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.Stat(db.Path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > before.Size()+200*2000 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("hookd.db is %d bytes after 10 s (%d before): the WAL was not checkpointed", st.Size(), before.Size())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
