package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// failJob enqueues a job and fails it for good with reason.
func failJob(t testing.TB, q *Queue, queue, id, reason string) {
	t.Helper()
	mustEnqueue(t, q, queue, id)
	j := mustClaimOne(t, q, queue)
	if j.ProcessingID != id {
		t.Fatalf("claimed %s, want %s", j.ProcessingID, id)
	}
	if ok, err := ackOne(context.Background(), q, Ack{Job: j, Err: errors.New(reason), Permanent: true}); !ok || err != nil {
		t.Fatalf("fail %s: %v %v", id, ok, err)
	}
}

func mustCounts(t testing.TB, q *Queue, queue string) QueueCounts {
	t.Helper()
	c, err := q.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c[queue]
}

// A retried job is the same job again: attempts back to zero, waiting,
// its last error kept until it completes. It leaves the failed count and
// is counted once more when it ends.
func TestJobsRetryRunsTheSameJobAgain(t *testing.T) {
	ctx := context.Background()
	_, q := openTestQueue(t, testQueueOptions)
	id := "job-j1-1700000000000-aaaaaaaa"
	failJob(t, q, QueueJobAnalysis, id, "store said no")
	if c := mustCounts(t, q, QueueJobAnalysis); c.Failed != 1 || c.Completed != 0 {
		t.Fatalf("counts after the failure: %+v", c)
	}

	if err := q.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	j, err := q.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != StateWaiting || j.Attempts != 0 || j.LastError != "store said no" || !j.FinishedAt.IsZero() {
		t.Errorf("after retry: %+v", j)
	}
	if c := mustCounts(t, q, QueueJobAnalysis); c.Failed != 0 || c.Waiting != 1 {
		t.Errorf("counts after retry: %+v, want failed 0, waiting 1", c)
	}
	select {
	case <-q.Ready(QueueJobAnalysis):
	default:
		t.Error("retry did not wake the queue's pool")
	}

	claimed := mustClaimOne(t, q, QueueJobAnalysis)
	if claimed.ProcessingID != id || claimed.Attempt != 1 {
		t.Errorf("claimed %s attempt %d, want %s attempt 1", claimed.ProcessingID, claimed.Attempt, id)
	}
	if ok, err := ackOne(ctx, q, Ack{Job: claimed, Result: []byte(`{"ok":true}`)}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if c := mustCounts(t, q, QueueJobAnalysis); c.Failed != 0 || c.Completed != 1 {
		t.Errorf("counts after completion: %+v, want completed 1, failed 0", c)
	}
	if s := mustStatus(t, q, id); s.State != StateCompleted || s.LastError != nil {
		t.Errorf("status after completion: %+v", s)
	}
}

// A retried job that fails again is counted failed again, once.
func TestJobsRetryThenFailAgainCountsOnce(t *testing.T) {
	ctx := context.Background()
	_, q := openTestQueue(t, testQueueOptions)
	id := "post-p1-1700000000000-aaaaaaaa"
	failJob(t, q, QueuePostModeration, id, "first")
	if err := q.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	j := mustClaimOne(t, q, QueuePostModeration)
	if _, err := ackOne(ctx, q, Ack{Job: j, Err: errors.New("second"), Permanent: true}); err != nil {
		t.Fatal(err)
	}
	if c := mustCounts(t, q, QueuePostModeration); c.Failed != 1 {
		t.Errorf("failed %d, want 1", c.Failed)
	}
	if s := mustStatus(t, q, id); s.State != StateFailed || deref(s.LastError) != "second" || s.Attempts != 1 {
		t.Errorf("status: %+v %q", s, deref(s.LastError))
	}
}

// Retry and Discard refuse, with errors that say why, an unknown id, a
// job that is not failed, and (retry only) a job that failed on arrival;
// a refusal is no failed commit, so health stays ok.
func TestJobsRefusals(t *testing.T) {
	ctx := context.Background()
	_, q := openTestQueue(t, testQueueOptions)
	mustEnqueue(t, q, QueueJobAnalysis, "job-w-1700000000000-aaaaaaaa")
	arrived := NewJob{Queue: QueuePostModeration, ProcessingID: "post-x-1700000000000-aaaaaaaa", Payload: []byte(`{}`), ReceivedAt: time.Now(), Failed: "captured event: bad"}
	if _, err := q.Enqueue(ctx, arrived); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		do   func() error
		want error
	}{
		{"retry unknown", func() error { return q.Retry(ctx, "job-nope-1700000000000-aaaaaaaa") }, ErrNotFound},
		{"discard unknown", func() error { return q.Discard(ctx, "job-nope-1700000000000-aaaaaaaa") }, ErrNotFound},
		{"retry waiting", func() error { return q.Retry(ctx, "job-w-1700000000000-aaaaaaaa") }, ErrNotFailed},
		{"discard waiting", func() error { return q.Discard(ctx, "job-w-1700000000000-aaaaaaaa") }, ErrNotFailed},
		{"retry never ran", func() error { return q.Retry(ctx, arrived.ProcessingID) }, ErrNeverRan},
		{"retry all unknown queue", func() error { _, err := q.RetryAll(ctx, "nope"); return err }, ErrUnknownQueue},
		{"discard all unknown queue", func() error { _, err := q.DiscardAll(ctx, "nope"); return err }, ErrUnknownQueue},
	} {
		if err := c.do(); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if msg := q.CommitError(); msg != "" {
		t.Errorf("a refusal left a commit error: %s", msg)
	}
	if s := mustStatus(t, q, "job-w-1700000000000-aaaaaaaa"); s.State != StateWaiting {
		t.Errorf("the waiting job was changed: %+v", s)
	}
}

// Retrying a queue takes its failed jobs that ran, not those that failed
// on arrival nor another queue's; discarding a queue deletes its failed
// jobs, which stay counted as failed.
func TestJobsRetryAllAndDiscardAll(t *testing.T) {
	ctx := context.Background()
	_, q := openTestQueue(t, testQueueOptions)
	for i := range 3 {
		failJob(t, q, QueueActivityScoring, fmt.Sprintf("activity-u%d-1700000000000-aaaaaaaa", i), "boom")
	}
	failJob(t, q, QueueJobAnalysis, "job-other-1700000000000-aaaaaaaa", "boom")
	if _, err := q.Enqueue(ctx, NewJob{Queue: QueueActivityScoring, ProcessingID: "activity-bad-1700000000000-aaaaaaaa",
		Payload: []byte(`{}`), ReceivedAt: time.Now(), Failed: "captured event: bad"}); err != nil {
		t.Fatal(err)
	}
	if c := mustCounts(t, q, QueueActivityScoring); c.Failed != 4 {
		t.Fatalf("failed %d, want 4", c.Failed)
	}

	n, err := q.RetryAll(ctx, QueueActivityScoring)
	if err != nil || n != 3 {
		t.Fatalf("retry all: %d, %v; want 3", n, err)
	}
	if c := mustCounts(t, q, QueueActivityScoring); c.Failed != 1 || c.Waiting != 3 {
		t.Errorf("after retry all: %+v, want failed 1, waiting 3", c)
	}
	if c := mustCounts(t, q, QueueJobAnalysis); c.Failed != 1 {
		t.Errorf("another queue's failed job was retried: %+v", c)
	}

	n, err = q.DiscardAll(ctx, QueueActivityScoring)
	if err != nil || n != 1 {
		t.Fatalf("discard all: %d, %v; want 1", n, err)
	}
	if _, err := q.Status(ctx, "activity-bad-1700000000000-aaaaaaaa"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the discarded job is still there: %v", err)
	}
	if c := mustCounts(t, q, QueueActivityScoring); c.Failed != 1 || c.Waiting != 3 {
		t.Errorf("after discard all: %+v, want failed 1 (still counted), waiting 3", c)
	}
	if _, kept, _ := q.Failed(ctx, QueueActivityScoring, 10); kept != 0 {
		t.Errorf("%d failed jobs kept, want 0", kept)
	}
}

// Discard deletes one failed job and nothing else.
func TestJobsDiscardOne(t *testing.T) {
	ctx := context.Background()
	_, q := openTestQueue(t, testQueueOptions)
	failJob(t, q, QueueJobAnalysis, "job-a-1700000000000-aaaaaaaa", "boom")
	failJob(t, q, QueueJobAnalysis, "job-b-1700000000000-aaaaaaaa", "boom")
	if err := q.Discard(ctx, "job-a-1700000000000-aaaaaaaa"); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Job(ctx, "job-a-1700000000000-aaaaaaaa"); !errors.Is(err, ErrNotFound) {
		t.Errorf("discarded job: %v", err)
	}
	if j, err := q.Job(ctx, "job-b-1700000000000-aaaaaaaa"); err != nil || j.State != StateFailed {
		t.Errorf("the other job: %+v %v", j, err)
	}
	if c := mustCounts(t, q, QueueJobAnalysis); c.Failed != 2 {
		t.Errorf("failed %d, want 2: a discarded job stays counted", c.Failed)
	}
}

// Failed lists the latest failures first, at most limit, with the total,
// for one queue or all.
func TestJobsFailedList(t *testing.T) {
	ctx := context.Background()
	_, q := openTestQueue(t, testQueueOptions)
	base := time.UnixMilli(1_700_000_000_000)
	for i, queue := range []string{QueueJobAnalysis, QueuePostModeration, QueueJobAnalysis} {
		q.now = func() time.Time { return base.Add(time.Duration(i) * time.Minute) }
		failJob(t, q, queue, fmt.Sprintf("x-%d-1700000000000-aaaaaaaa", i), fmt.Sprintf("error %d", i))
	}
	jobs, total, err := q.Failed(ctx, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(jobs) != 2 || jobs[0].ProcessingID != "x-2-1700000000000-aaaaaaaa" || jobs[1].ProcessingID != "x-1-1700000000000-aaaaaaaa" {
		t.Fatalf("all queues: total %d, %+v", total, jobs)
	}
	if j := jobs[0]; j.Queue != QueueJobAnalysis || j.LastError != "error 2" || j.Attempts != 1 || j.MaxAttempts != 3 ||
		!j.FinishedAt.Equal(base.Add(2*time.Minute)) {
		t.Errorf("first line: %+v", j)
	}
	jobs, total, err = q.Failed(ctx, QueueJobAnalysis, 10)
	if err != nil || total != 2 || len(jobs) != 2 || jobs[1].ProcessingID != "x-0-1700000000000-aaaaaaaa" {
		t.Errorf("one queue: %d %+v %v", total, jobs, err)
	}
}

// The outcomes of attempts reach OnOutcomes once committed: completions,
// retries (backoff and expired leases), failures, failed arrivals.
func TestJobsOutcomesAreReported(t *testing.T) {
	ctx := context.Background()
	_, q := openTestQueue(t, QueueOptions{Attempts: 2, Backoff: time.Millisecond, Lease: time.Minute})
	got := map[string]Outcomes{}
	q.OnOutcomes(func(queue string, o Outcomes) {
		g := got[queue]
		g.Completed, g.Retried, g.Failed = g.Completed+o.Completed, g.Retried+o.Retried, g.Failed+o.Failed
		got[queue] = g
	})
	mustEnqueue(t, q, QueueJobAnalysis, "job-1-1700000000000-aaaaaaaa")
	mustEnqueue(t, q, QueueJobAnalysis, "job-2-1700000000000-aaaaaaaa")
	a, b := mustClaimOne(t, q, QueueJobAnalysis), mustClaimOne(t, q, QueueJobAnalysis)
	if _, err := q.Ack(ctx, []Ack{{Job: a, Result: []byte(`1`)}, {Job: b, Err: errors.New("again")}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	b = mustClaimOne(t, q, QueueJobAnalysis)
	mustEnqueue(t, q, QueueJobAnalysis, "job-3-1700000000000-aaaaaaaa")
	mustClaimOne(t, q, QueueJobAnalysis)
	// Both leases have run out: b's last attempt fails, job 3's first is retried.
	q.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if n, err := q.ReapExpired(ctx); n != 2 || err != nil {
		t.Fatalf("reap: %d %v", n, err)
	}
	if _, err := q.Enqueue(ctx, NewJob{Queue: QueuePostModeration, ProcessingID: "post-1-1700000000000-aaaaaaaa", Payload: []byte(`{}`), ReceivedAt: time.Now(), Failed: "bad"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]Outcomes{
		QueueJobAnalysis:    {Completed: 1, Retried: 2, Failed: 1},
		QueuePostModeration: {Failed: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outcomes %+v, want %+v", got, want)
	}
}
