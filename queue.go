package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Job states.
const (
	StateWaiting   = "waiting"
	StateActive    = "active"
	StateDelayed   = "delayed"
	StateCompleted = "completed"
	StateFailed    = "failed"
)

// Job is one claimed unit of work. Attempt identifies the claim: acks
// carry it, so a worker whose lease expired and was re-claimed by someone
// else cannot complete or fail the job any more.
type Job struct {
	ID           int64
	ProcessingID string
	Queue        string
	Payload      []byte
	Attempt      int
	MaxAttempts  int
	ReceivedAt   time.Time
}

// LastAttempt reports whether a failure of this claim fails the job for
// good.
func (j Job) LastAttempt() bool { return j.Attempt >= j.MaxAttempts }

// The queue as the rest of hookd sees it, in three small interfaces, one
// per side that uses it. *Queue, in hookd.db, implements all three; a
// queue several hookd processes share (in Postgres, say) would be a second
// implementation of these and nothing more. Its contract: a job is
// durable once Enqueue returns; it runs at least once and is done in
// effect once (work is idempotent); a claim is a lease, and an ack counts
// only for the claim it names.

// Intake puts jobs in and reads them back: the webhook routes, the
// outbox, health and the status route.
type Intake interface {
	Enqueue(ctx context.Context, jobs ...NewJob) ([]Enqueued, error)
	Counts(ctx context.Context) (map[string]QueueCounts, error)
	Status(ctx context.Context, processingID string) (JobStatus, error)
	CommitError() string
}

// Worklist hands jobs to the worker pools and takes back how they ended.
type Worklist interface {
	Claim(ctx context.Context, queue string, n int) ([]Job, error)
	Ack(ctx context.Context, acks []Ack) ([]bool, error)
	// Ready signals that a job of the queue may have become claimable;
	// NextRetry says when the earliest delayed one will.
	Ready(queue string) <-chan struct{}
	NextRetry(ctx context.Context, queue string) (time.Time, bool, error)
}

// Upkeep takes back expired leases and forgets what is old.
type Upkeep interface {
	ReapExpired(ctx context.Context) (int, error)
	PruneCompleted(ctx context.Context, cutoff time.Time) (int, error)
	PruneDeliveries(ctx context.Context, cutoff time.Time) (int, error)
}

// Queue is the durable job queue in hookd.db. Its writes go through the
// DB's group-commit writer, so enqueues, claims and acks from many
// goroutines share transactions and fsyncs.
type Queue struct {
	db    *DB
	names []string
	ready map[string]chan struct{}
	now   func() time.Time

	attempts int
	backoff  time.Duration
	maxDelay time.Duration
	lease    time.Duration

	observe func(queue string, o Outcomes) // see OnOutcomes; nil: nobody listens
}

var (
	_ Intake   = (*Queue)(nil)
	_ Worklist = (*Queue)(nil)
	_ Upkeep   = (*Queue)(nil)
	_ Admin    = (*Queue)(nil)
)

// QueueOptions are the retry and lease settings.
type QueueOptions struct {
	Attempts int           // tries per job, the first included
	Backoff  time.Duration // first retry delay, doubled each retry
	Lease    time.Duration // how long a claim lasts before the reaper takes it back
}

// OpenQueue readies the named queues of db: each gets its row of
// cumulative counts, so that health reports every queue from its first
// start.
func OpenQueue(ctx context.Context, db *DB, names []string, opt QueueOptions) (*Queue, error) {
	err := db.Write(ctx, func(tx *WriteTx) error {
		for _, name := range names {
			if _, err := tx.Exec(addQueueSQL, name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("add queues: %w", err)
	}
	q := &Queue{
		db:       db,
		names:    names,
		ready:    make(map[string]chan struct{}, len(names)),
		now:      time.Now,
		attempts: opt.Attempts,
		backoff:  opt.Backoff,
		maxDelay: time.Hour,
		lease:    opt.Lease,
	}
	for _, name := range names {
		q.ready[name] = make(chan struct{}, 1)
	}
	return q, nil
}

const addQueueSQL = `INSERT INTO queue_stats (queue) VALUES (?) ON CONFLICT (queue) DO NOTHING`

// Ready returns a channel that receives a value after a commit makes a job
// of the named queue claimable. Workers wait on it instead of polling.
func (q *Queue) Ready(queue string) <-chan struct{} { return q.ready[queue] }

func (q *Queue) wake(queue string) { notify(q.ready[queue]) }

// CommitError says why the last commit to hookd.db failed, "" when it
// succeeded.
func (q *Queue) CommitError() string { return q.db.CommitError() }

// A processingId seen before adds nothing (see Enqueue).
const enqueueSQL = `
INSERT INTO queue_jobs (processing_id, queue, payload, max_attempts, run_at, received_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING`

// A job that can never run is added failed, with its reason.
const enqueueFailedSQL = `
INSERT INTO queue_jobs (processing_id, queue, state, payload, max_attempts, run_at, received_at, finished_at, last_error)
VALUES (?1, ?2, 'failed', ?3, ?4, ?5, ?5, ?5, ?6)
ON CONFLICT DO NOTHING`

// A delivery key is claimed by the first job that inserts it; a repeat
// inserts nothing and reads the first one's processingId.
const insertDeliverySQL = `
INSERT INTO queue_deliveries (queue, key, processing_id, created_at)
VALUES (?, ?, ?, ?)
ON CONFLICT (queue, key) DO NOTHING`

const deliveryJobSQL = `SELECT processing_id FROM queue_deliveries WHERE queue = ? AND key = ?`

// DeliveryKeyTTL is how long a delivery key is remembered: a repeat that
// arrives later is a new job.
const DeliveryKeyTTL = 24 * time.Hour

// NewJob is a job to add to a queue.
type NewJob struct {
	Queue        string
	ProcessingID string
	Payload      []byte
	ReceivedAt   time.Time
	// Key names the delivery within the queue, for a sender that may
	// repeat it: a webhook-id, an Idempotency-Key, a row event, an outbox
	// id. "" means none: always a new job.
	Key string
	// Failed, when set, adds the job already failed for this reason: an
	// event that can never become work, kept where an operator looks.
	Failed string
}

// Enqueued is what became of a NewJob.
type Enqueued struct {
	ProcessingID string // the job's; a duplicate's is the first delivery's
	Duplicate    bool   // the key, or the processingId, was seen before: nothing was added
}

// Enqueue durably adds jobs, all in one transaction, and returns once it
// has been committed to disk. The first delivery of a key adds its job; a
// repeat within DeliveryKeyTTL adds nothing and is answered with the first
// one's processingId. A processingId already in the queue adds nothing
// either. The key is written in the job's own transaction, so two copies
// folded into the same group commit are told apart too: the second sees
// the first's row.
func (q *Queue) Enqueue(ctx context.Context, jobs ...NewJob) ([]Enqueued, error) {
	type enqueued struct {
		jobs   []Enqueued
		counts outcomeCounts
	}
	done, err := WriteResult(ctx, q.db, func(tx *WriteTx) (enqueued, error) {
		out := make([]Enqueued, len(jobs))
		var counts outcomeCounts
		for i, j := range jobs {
			e, err := q.insertJob(tx, j)
			if err != nil {
				return enqueued{}, fmt.Errorf("%s: %w", j.ProcessingID, err)
			}
			if j.Failed != "" && !e.Duplicate {
				counts.add(j.Queue, StateFailed)
			}
			out[i] = e
		}
		return enqueued{out, counts}, countOutcomes(tx, counts)
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	q.report(done.counts)
	out := done.jobs
	for i, e := range out {
		if !e.Duplicate && jobs[i].Failed == "" {
			q.wake(jobs[i].Queue)
		}
	}
	return out, nil
}

// insertJob adds one job under its delivery key, if any.
func (q *Queue) insertJob(tx *WriteTx, j NewJob) (Enqueued, error) {
	ms := j.ReceivedAt.UnixMilli()
	if j.Key != "" {
		res, err := tx.Exec(insertDeliverySQL, j.Queue, j.Key, j.ProcessingID, ms)
		if err != nil {
			return Enqueued{}, fmt.Errorf("record delivery key: %w", err)
		}
		if rowsAffected(res) == 0 {
			first := Enqueued{Duplicate: true}
			err := tx.QueryRow(deliveryJobSQL, j.Queue, j.Key).Scan(&first.ProcessingID)
			return first, err
		}
	}
	var res sql.Result
	var err error
	if j.Failed != "" {
		res, err = tx.Exec(enqueueFailedSQL, j.ProcessingID, j.Queue, j.Payload, q.attempts, ms, j.Failed)
	} else {
		res, err = tx.Exec(enqueueSQL, j.ProcessingID, j.Queue, j.Payload, q.attempts, ms, ms)
	}
	if err != nil {
		return Enqueued{}, err
	}
	return Enqueued{ProcessingID: j.ProcessingID, Duplicate: rowsAffected(res) == 0}, nil
}

// A retry whose time has come goes back to waiting inside the claim
// transaction, so no separate timer has to move it.
const promoteDueSQL = `
UPDATE queue_jobs SET state = 'waiting'
WHERE queue = ? AND state = 'delayed' AND run_at <= ?`

const claimSQL = `
UPDATE queue_jobs
SET state = 'active', attempts = attempts + 1, lease_until = ?
WHERE id IN (
  SELECT id FROM queue_jobs
  WHERE queue = ? AND state = 'waiting'
  ORDER BY run_at, id
  LIMIT ? + 0) -- a bare "LIMIT ?" makes SQLite re-prepare the statement at every claim
RETURNING id, processing_id, payload, attempts, max_attempts, received_at`

// Claim leases up to n ready jobs of a queue, oldest first. A claim lost
// in a power cut only lets the jobs be claimed again, so it is committed
// without waiting for the disk (DB.WriteUnsynced).
func (q *Queue) Claim(ctx context.Context, queue string, n int) ([]Job, error) {
	jobs, err := WriteResultUnsynced(ctx, q.db, func(tx *WriteTx) ([]Job, error) {
		now := q.now()
		if _, err := tx.Exec(promoteDueSQL, queue, now.UnixMilli()); err != nil {
			return nil, fmt.Errorf("promote due retries: %w", err)
		}
		rows, err := tx.Query(claimSQL, now.Add(q.lease).UnixMilli(), queue, n)
		if err != nil {
			return nil, err
		}
		return collectRows(rows, func(scan func(...any) error) (Job, error) {
			j := Job{Queue: queue}
			var received int64
			err := scan(&j.ID, &j.ProcessingID, &j.Payload, &j.Attempt, &j.MaxAttempts, &received)
			j.ReceivedAt = time.UnixMilli(received)
			return j, err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", queue, err)
	}
	return jobs, nil
}

const nextDueSQL = `SELECT min(run_at) FROM queue_jobs WHERE queue = ? AND state = 'delayed'`

// NextRetry returns when the earliest delayed job of a queue becomes due.
func (q *Queue) NextRetry(ctx context.Context, queue string) (time.Time, bool, error) {
	var ms sql.NullInt64
	if err := q.db.r.QueryRowContext(ctx, nextDueSQL, queue).Scan(&ms); err != nil {
		return time.Time{}, false, fmt.Errorf("next retry of %s: %w", queue, err)
	}
	return time.UnixMilli(ms.Int64), ms.Valid, nil
}

const completeSQL = `
UPDATE queue_jobs
SET state = 'completed', result = ?, finished_at = ?, lease_until = NULL, last_error = NULL
WHERE id = ? AND state = 'active' AND attempts = ?`

const failSQL = `
UPDATE queue_jobs
SET state = 'failed', last_error = ?, finished_at = ?, lease_until = NULL
WHERE id = ? AND state = 'active' AND attempts = ?`

const retrySQL = `
UPDATE queue_jobs
SET state = 'delayed', last_error = ?, run_at = ?, lease_until = NULL
WHERE id = ? AND state = 'active' AND attempts = ?`

const releaseSQL = `
UPDATE queue_jobs
SET state = 'waiting', attempts = attempts - 1, lease_until = NULL, last_error = ?
WHERE id = ? AND state = 'active' AND attempts = ?`

const countOutcomesSQL = `
UPDATE queue_stats SET completed = completed + ?, failed = failed + ? WHERE queue = ?`

// Outcomes counts how the attempts of one queue's jobs ended in one
// commit: completed, failed for good, or failed and to be tried again
// (a retry with backoff, or a lease that expired with attempts left).
type Outcomes struct {
	Completed, Retried, Failed int64
}

// outcomeCounts are Outcomes by queue; the zero value is ready to use and
// allocates nothing until a first outcome.
type outcomeCounts map[string]Outcomes

// add counts a job of queue that moved to state.
func (c *outcomeCounts) add(queue, state string) {
	if *c == nil {
		*c = outcomeCounts{}
	}
	o := (*c)[queue]
	switch state {
	case StateCompleted:
		o.Completed++
	case StateFailed:
		o.Failed++
	case StateDelayed, StateWaiting:
		o.Retried++
	}
	(*c)[queue] = o
}

// countOutcomes adds to the cumulative counts of queue_stats: per queue,
// jobs completed and jobs failed. Retries are not kept there.
func countOutcomes(tx *WriteTx, counts outcomeCounts) error {
	for queue, c := range counts {
		if c.Completed == 0 && c.Failed == 0 {
			continue
		}
		if _, err := tx.Exec(countOutcomesSQL, c.Completed, c.Failed, queue); err != nil {
			return fmt.Errorf("count outcomes: %w", err)
		}
	}
	return nil
}

// OnOutcomes has fn told, after each commit, how the attempts it recorded
// ended, per queue (the metrics count them). Call it before the queue is
// used; fn must be quick, it runs on the caller of the write.
func (q *Queue) OnOutcomes(fn func(queue string, o Outcomes)) { q.observe = fn }

// report tells the OnOutcomes function about committed outcomes.
func (q *Queue) report(counts outcomeCounts) {
	if q.observe == nil {
		return
	}
	for queue, o := range counts {
		q.observe(queue, o)
	}
}

// Ack is how one claimed job ended.
type Ack struct {
	Job Job
	// Exactly one of the following describes the outcome.
	Result    []byte // the job succeeded with this JSON result
	Err       error  // the attempt failed; retried unless Permanent or the last
	Permanent bool
	Release   string // give the job back unfinished, without spending the attempt, for this reason
}

// state names the state an Ack moves its job to.
func (a Ack) state() string {
	switch {
	case a.Release != "":
		return StateWaiting
	case a.Err == nil:
		return StateCompleted
	case a.Permanent || a.Job.LastAttempt():
		return StateFailed
	}
	return StateDelayed
}

// Ack records the outcomes of many claimed jobs in one transaction, and
// reports for each whether its claim was still current: a job whose lease
// expired and was handed out again keeps the newer claim's outcome. A
// failed attempt is retried after an exponential backoff (Backoff,
// 2×Backoff, 4×Backoff…); a permanent error, or the last allowed attempt,
// fails the job for good. The cumulative counts move in the same
// transaction. An outcome lost in a power cut only runs the job again, so
// it is committed without waiting for the disk (DB.WriteUnsynced).
func (q *Queue) Ack(ctx context.Context, acks []Ack) ([]bool, error) {
	type acked struct {
		current []bool
		counts  outcomeCounts
	}
	now := q.now()
	done, err := WriteResultUnsynced(ctx, q.db, func(tx *WriteTx) (acked, error) {
		current := make([]bool, len(acks))
		var counts outcomeCounts
		for i, a := range acks {
			res, err := q.applyAck(tx, a, now)
			if err != nil {
				return acked{}, fmt.Errorf("%s: %w", a.Job.ProcessingID, err)
			}
			current[i] = rowsAffected(res) == 1
			if current[i] && a.Release == "" {
				counts.add(a.Job.Queue, a.state())
			}
		}
		return acked{current, counts}, countOutcomes(tx, counts)
	})
	if err != nil {
		return nil, fmt.Errorf("ack: %w", err)
	}
	q.report(done.counts)
	q.wakeForRetries(acks)
	return done.current, nil
}

// applyAck moves one job to its outcome's state, guarded by the claim's
// attempt number.
func (q *Queue) applyAck(tx *WriteTx, a Ack, now time.Time) (sql.Result, error) {
	j := a.Job
	switch a.state() {
	case StateWaiting:
		return tx.Exec(releaseSQL, a.Release, j.ID, j.Attempt)
	case StateCompleted:
		return tx.Exec(completeSQL, string(a.Result), now.UnixMilli(), j.ID, j.Attempt)
	case StateFailed:
		return tx.Exec(failSQL, a.Err.Error(), now.UnixMilli(), j.ID, j.Attempt)
	}
	runAt := now.Add(q.retryDelay(j.Attempt)).UnixMilli()
	return tx.Exec(retrySQL, a.Err.Error(), runAt, j.ID, j.Attempt)
}

// wakeForRetries wakes the queues that acks made claimable again now
// (released jobs) or later (retries): a pool asleep until an older retry
// time must look again.
func (q *Queue) wakeForRetries(acks []Ack) {
	for _, a := range acks {
		if o := a.state(); o == StateWaiting || o == StateDelayed {
			q.wake(a.Job.Queue)
		}
	}
}

func (q *Queue) retryDelay(attempt int) time.Duration {
	d := q.backoff
	for i := 1; i < attempt && d < q.maxDelay; i++ {
		d *= 2
	}
	return min(d, q.maxDelay)
}

// exec runs one statement through the writer and returns how many rows
// it changed.
func (q *Queue) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return WriteResult(ctx, q.db, func(tx *WriteTx) (int64, error) {
		res, err := tx.Exec(query, args...)
		if err != nil {
			return 0, err
		}
		return rowsAffected(res), nil
	})
}

func rowsAffected(res sql.Result) int64 {
	n, err := res.RowsAffected()
	if err != nil {
		return 0
	}
	return n
}
