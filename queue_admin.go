package main

// The operator's side of the queue: failed jobs listed, looked at,
// retried and discarded (the dashboard and `hookd jobs`).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Admin is what an operator does with failed jobs, from the dashboard or
// `hookd jobs`: look at them, run them again, or give them up.
//
// A retried job is the same job again: same processingId, same payload,
// its attempts back to zero, waiting to be claimed at once. Its last
// error stays until it completes (completing clears it) or fails again
// (the new error replaces it). Only jobs that ran can be retried: a job
// failed on arrival (a captured event that can never become work) would
// fail the same way. Discarding deletes a failed job.
//
// The counts in queue_stats (health's completed and failed, the metrics'
// jobs by state) count each job once, by how it last ended: retrying a
// job takes it out of failed, and it is counted again when it completes
// or fails. A discarded job stays counted as failed, as a pruned
// completed job stays counted as completed.
type Admin interface {
	// Failed lists the failed jobs of a queue ("" for every queue), the
	// latest failure first, at most limit of them, and says how many
	// there are.
	Failed(ctx context.Context, queue string, limit int) ([]JobInfo, int, error)
	// Job reads one job, payload and result included.
	Job(ctx context.Context, processingID string) (JobInfo, error)
	Retry(ctx context.Context, processingID string) error
	RetryAll(ctx context.Context, queue string) (int, error)
	Discard(ctx context.Context, processingID string) error
	DiscardAll(ctx context.Context, queue string) (int, error)
}

// JobInfo is a job as an operator sees it.
type JobInfo struct {
	ProcessingID string
	Queue        string
	State        string
	Attempts     int
	MaxAttempts  int
	ReceivedAt   time.Time
	FinishedAt   time.Time // zero unless completed or failed
	LastError    string
	Payload      []byte // Job only
	Result       []byte // Job only; nil unless completed
}

// ErrNotFailed means the job exists but is not failed: there is nothing
// to retry or discard.
var ErrNotFailed = errors.New("not failed")

// ErrNeverRan means a failed job never ran: it failed on arrival, and
// running it could only fail the same way.
var ErrNeverRan = errors.New("failed on arrival, never ran")

// Admin's statements. A job is named by its processingId as in statusSQL,
// so that SQLite uses queue_jobs_processing_id; a queue's failed jobs are
// read through queue_jobs_claim (queue, state, …).
const (
	jobByIDSQL = `
SELECT queue, state, attempts, max_attempts, received_at, finished_at, last_error, payload, result
FROM queue_jobs
WHERE ` + processingIDIs

	failedJobsSQL = `
SELECT processing_id, queue, attempts, max_attempts, received_at, finished_at, last_error
FROM queue_jobs
WHERE queue IN (SELECT queue FROM queue_stats WHERE ?1 IN ('', queue)) AND state = 'failed'
ORDER BY finished_at DESC, id DESC
LIMIT ?2`

	countFailedSQL = `
SELECT count(*) FROM queue_jobs
WHERE queue IN (SELECT queue FROM queue_stats WHERE ?1 IN ('', queue)) AND state = 'failed'`

	retryJobSQL = `
UPDATE queue_jobs
SET state = 'waiting', attempts = 0, run_at = ?2, finished_at = NULL
WHERE ` + processingIDIs + `
  AND state = 'failed' AND attempts > 0
RETURNING queue`

	retryQueueSQL = `
UPDATE queue_jobs
SET state = 'waiting', attempts = 0, run_at = ?2, finished_at = NULL
WHERE queue = ?1 AND state = 'failed' AND attempts > 0`

	discardJobSQL = `
DELETE FROM queue_jobs
WHERE ` + processingIDIs + ` AND state = 'failed'
RETURNING queue`

	discardQueueSQL = `DELETE FROM queue_jobs WHERE queue = ? AND state = 'failed'`

	jobStateSQL = `
SELECT state FROM queue_jobs
WHERE ` + processingIDIs

	// Never below zero: a file whose counts began after some failures.
	uncountFailedSQL = `UPDATE queue_stats SET failed = max(failed - ?, 0) WHERE queue = ?`
)

// Failed lists failed jobs; see Admin.
func (q *Queue) Failed(ctx context.Context, queue string, limit int) ([]JobInfo, int, error) {
	tx, err := q.db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("list failed jobs: %w", err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, countFailedSQL, queue).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count failed jobs: %w", err)
	}
	rows, err := tx.QueryContext(ctx, failedJobsSQL, queue, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list failed jobs: %w", err)
	}
	jobs, err := collectRows(rows, func(scan func(...any) error) (JobInfo, error) {
		j := JobInfo{State: StateFailed}
		var received int64
		var finished sql.NullInt64
		var lastErr sql.NullString
		err := scan(&j.ProcessingID, &j.Queue, &j.Attempts, &j.MaxAttempts, &received, &finished, &lastErr)
		j.ReceivedAt, j.FinishedAt, j.LastError = time.UnixMilli(received), unixMilliOrZero(finished), lastErr.String
		return j, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list failed jobs: %w", err)
	}
	return jobs, total, nil
}

// Job reads one job; see Admin.
func (q *Queue) Job(ctx context.Context, processingID string) (JobInfo, error) {
	j := JobInfo{ProcessingID: processingID}
	var received int64
	var finished sql.NullInt64
	var lastErr, result sql.NullString
	err := q.db.r.QueryRowContext(ctx, jobByIDSQL, processingID).Scan(
		&j.Queue, &j.State, &j.Attempts, &j.MaxAttempts, &received, &finished, &lastErr, &j.Payload, &result)
	if errors.Is(err, sql.ErrNoRows) {
		return j, ErrNotFound
	}
	if err != nil {
		return j, fmt.Errorf("read job %s: %w", processingID, err)
	}
	j.ReceivedAt, j.FinishedAt, j.LastError = time.UnixMilli(received), unixMilliOrZero(finished), lastErr.String
	if result.Valid {
		j.Result = []byte(result.String)
	}
	return j, nil
}

func unixMilliOrZero(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64)
}

// adminChange is what an operator's write to one job found: the job's
// queue when it changed it; otherwise the job's state, "" when there is
// no such job. Refusals are values, not errors: an error inside a write
// would roll back the writes sharing its transaction, and health would
// report the queue failing.
type adminChange struct {
	queue string
	state string
}

// why turns a refused change into its error. A failed job a retry left
// alone is one that never ran.
func (c adminChange) why(processingID string) error {
	switch {
	case c.state == "":
		return fmt.Errorf("job %s: %w", processingID, ErrNotFound)
	case c.state != StateFailed:
		return fmt.Errorf("job %s is %s: %w", processingID, c.state, ErrNotFailed)
	}
	return fmt.Errorf("job %s: %w: retrying cannot help, discard it", processingID, ErrNeverRan)
}

// lookUp reads the state of a job a change did not apply to.
func lookUp(tx *WriteTx, processingID string) (adminChange, error) {
	var c adminChange
	err := tx.QueryRow(jobStateSQL, processingID).Scan(&c.state)
	if errors.Is(err, sql.ErrNoRows) {
		return adminChange{}, nil
	}
	return c, err
}

// Retry runs a failed job again; see Admin. It returns ErrNotFound,
// ErrNotFailed or ErrNeverRan when there is nothing to retry.
func (q *Queue) Retry(ctx context.Context, processingID string) error {
	now := q.now().UnixMilli()
	c, err := WriteResult(ctx, q.db, func(tx *WriteTx) (adminChange, error) {
		var c adminChange
		err := tx.QueryRow(retryJobSQL, processingID, now).Scan(&c.queue)
		if errors.Is(err, sql.ErrNoRows) {
			return lookUp(tx, processingID)
		}
		if err != nil {
			return c, err
		}
		_, err = tx.Exec(uncountFailedSQL, 1, c.queue)
		return c, err
	})
	if err != nil {
		return fmt.Errorf("retry job %s: %w", processingID, err)
	}
	if c.queue == "" {
		return c.why(processingID)
	}
	q.wake(c.queue)
	return nil
}

// RetryAll runs every failed job of a queue again, but those that failed
// on arrival, and returns how many.
func (q *Queue) RetryAll(ctx context.Context, queue string) (int, error) {
	if err := q.known(queue); err != nil {
		return 0, err
	}
	now := q.now().UnixMilli()
	n, err := WriteResult(ctx, q.db, func(tx *WriteTx) (int64, error) {
		res, err := tx.Exec(retryQueueSQL, queue, now)
		if err != nil {
			return 0, err
		}
		n := rowsAffected(res)
		_, err = tx.Exec(uncountFailedSQL, n, queue)
		return n, err
	})
	if err != nil {
		return 0, fmt.Errorf("retry the failed jobs of %s: %w", queue, err)
	}
	if n > 0 {
		q.wake(queue)
	}
	return int(n), nil
}

// Discard deletes a failed job; see Admin.
func (q *Queue) Discard(ctx context.Context, processingID string) error {
	c, err := WriteResult(ctx, q.db, func(tx *WriteTx) (adminChange, error) {
		var c adminChange
		err := tx.QueryRow(discardJobSQL, processingID).Scan(&c.queue)
		if errors.Is(err, sql.ErrNoRows) {
			return lookUp(tx, processingID)
		}
		return c, err
	})
	if err != nil {
		return fmt.Errorf("discard job %s: %w", processingID, err)
	}
	if c.queue == "" {
		return c.why(processingID)
	}
	return nil
}

// DiscardAll deletes every failed job of a queue and returns how many.
func (q *Queue) DiscardAll(ctx context.Context, queue string) (int, error) {
	if err := q.known(queue); err != nil {
		return 0, err
	}
	n, err := q.exec(ctx, discardQueueSQL, queue)
	if err != nil {
		return 0, fmt.Errorf("discard the failed jobs of %s: %w", queue, err)
	}
	return int(n), nil
}

// ErrUnknownQueue means no queue has that name.
var ErrUnknownQueue = errors.New("unknown queue")

func (q *Queue) known(queue string) error {
	if slices.Contains(q.names, queue) {
		return nil
	}
	return fmt.Errorf("%w %q: the queues are %s", ErrUnknownQueue, queue, strings.Join(q.names, ", "))
}
