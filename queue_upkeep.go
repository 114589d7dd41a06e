package main

// The queue's upkeep: leases that ran out, jobs a previous process left
// active, and old rows, pruned.

import (
	"context"
	"fmt"
	"time"
)

// Expired leases: back to waiting, or failed when no attempt is left.
const reapSQL = `
UPDATE queue_jobs
SET state       = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'waiting' END,
    finished_at = CASE WHEN attempts >= max_attempts THEN ?1 END,
    last_error  = 'lease expired: the worker did not finish within the lease',
    lease_until = NULL
WHERE state = 'active' AND lease_until < ?1
RETURNING queue, state`

// ReapExpired takes back every job whose lease has run out, so a job held
// by a stuck worker runs again, and wakes the pools of queues that hold
// waiting jobs (see wakeWaiting). It returns how many jobs it took back.
func (q *Queue) ReapExpired(ctx context.Context) (int, error) {
	type reaped struct{ queue, state string }
	type taken struct {
		n      int
		counts outcomeCounts
	}
	done, err := WriteResult(ctx, q.db, func(tx *WriteTx) (taken, error) {
		rows, err := tx.Query(reapSQL, q.now().UnixMilli())
		if err != nil {
			return taken{}, err
		}
		jobs, err := collectRows(rows, func(scan func(...any) error) (j reaped, err error) {
			err = scan(&j.queue, &j.state)
			return j, err
		})
		if err != nil {
			return taken{}, err
		}
		var counts outcomeCounts
		for _, j := range jobs {
			counts.add(j.queue, j.state)
		}
		return taken{len(jobs), counts}, countOutcomes(tx, counts)
	})
	if err != nil {
		return 0, fmt.Errorf("reap expired leases: %w", err)
	}
	q.report(done.counts)
	if err := q.wakeWaiting(ctx); err != nil { // the reaped jobs put back to wait among them
		return 0, err
	}
	return done.n, nil
}

// A job of the queue is waiting: the claim index answers.
const hasWaitingSQL = `SELECT EXISTS (SELECT 1 FROM queue_jobs WHERE queue = ? AND state = 'waiting')`

// wakeWaiting wakes the pools of the queues holding a waiting job. A job
// that another process made waiting (`hookd jobs retry` on the same
// file) has nobody to signal it, and an idle pool would otherwise sleep
// until the queue's next enqueue.
func (q *Queue) wakeWaiting(ctx context.Context) error {
	for _, name := range q.names {
		var waiting bool
		if err := q.db.r.QueryRowContext(ctx, hasWaitingSQL, name).Scan(&waiting); err != nil {
			return fmt.Errorf("look for waiting jobs of %s: %w", name, err)
		}
		if waiting {
			q.wake(name)
		}
	}
	return nil
}

const recoverSQL = `UPDATE queue_jobs SET state = 'waiting', lease_until = NULL WHERE state = 'active'`

// RecoverAbandoned returns to waiting every job a previous process left
// active. Call it at start, before any worker claims.
func (q *Queue) RecoverAbandoned(ctx context.Context) (int, error) {
	n, err := q.exec(ctx, recoverSQL)
	if err != nil {
		return 0, fmt.Errorf("recover abandoned jobs: %w", err)
	}
	return int(n), nil
}

// Old rows are deleted a batch at a time so that pruning a large backlog
// never holds the writer for long.
const (
	pruneBatch = 1000

	pruneCompletedSQL = `
DELETE FROM queue_jobs WHERE id IN (
  SELECT id FROM queue_jobs WHERE state = 'completed' AND finished_at < ? LIMIT ?)`

	pruneDeliveriesSQL = `
DELETE FROM queue_deliveries WHERE rowid IN (
  SELECT rowid FROM queue_deliveries WHERE created_at < ? LIMIT ?)`
)

// PruneCompleted deletes completed jobs finished before cutoff. The
// cumulative counts live in queue_stats and are not affected.
func (q *Queue) PruneCompleted(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := q.pruneBefore(ctx, pruneCompletedSQL, cutoff)
	if err != nil {
		return n, fmt.Errorf("prune completed jobs: %w", err)
	}
	return n, nil
}

// PruneDeliveries forgets the delivery keys recorded before cutoff.
func (q *Queue) PruneDeliveries(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := q.pruneBefore(ctx, pruneDeliveriesSQL, cutoff)
	if err != nil {
		return n, fmt.Errorf("prune delivery keys: %w", err)
	}
	return n, nil
}

// pruneBefore runs a batched delete taking (cutoff, batch size) until a
// batch comes back short, and returns how many rows went.
func (q *Queue) pruneBefore(ctx context.Context, query string, cutoff time.Time) (int, error) {
	total := 0
	for {
		n, err := q.exec(ctx, query, cutoff.UnixMilli(), pruneBatch)
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < pruneBatch {
			return total, nil
		}
	}
}
