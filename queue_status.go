package main

// What the queue says of itself: the counts health and the metrics
// report, and one job's status.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// QueueCounts is one queue's line in the health report.
type QueueCounts struct {
	Waiting   int64 `json:"waiting"`
	Active    int64 `json:"active"`
	Delayed   int64 `json:"delayed"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	// FailedNow is the failed jobs still in the file, those an operator
	// can retry or discard; Failed counts every failure since the file
	// was created. Not in health's answer, which predates it.
	FailedNow int64 `json:"-"`
}

const countStateSQL = `SELECT count(*) FROM queue_jobs WHERE queue = ? AND state = ?`
const statsSQL = `SELECT queue, completed, failed FROM queue_stats`

// Counts reports every queue's live and cumulative counts, read in one
// snapshot.
func (q *Queue) Counts(ctx context.Context) (map[string]QueueCounts, error) {
	tx, err := q.db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer tx.Rollback()
	out := make(map[string]QueueCounts, len(q.names))
	for _, name := range q.names {
		var c QueueCounts
		for _, s := range []struct {
			state string
			dst   *int64
		}{{StateWaiting, &c.Waiting}, {StateActive, &c.Active}, {StateDelayed, &c.Delayed}, {StateFailed, &c.FailedNow}} {
			if err := tx.QueryRowContext(ctx, countStateSQL, name, s.state).Scan(s.dst); err != nil {
				return nil, fmt.Errorf("count %s %s jobs: %w", name, s.state, err)
			}
		}
		out[name] = c
	}
	rows, err := tx.QueryContext(ctx, statsSQL)
	if err != nil {
		return nil, fmt.Errorf("read queue stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var completed, failed int64
		if err := rows.Scan(&name, &completed, &failed); err != nil {
			return nil, fmt.Errorf("read queue stats: %w", err)
		}
		if c, ok := out[name]; ok {
			c.Completed, c.Failed = completed, failed
			out[name] = c
		}
	}
	return out, rows.Err()
}

// JobStatus is what GET /api/processing/:id reports.
type JobStatus struct {
	ProcessingID string          `json:"processingId"`
	Queue        string          `json:"queue"`
	State        string          `json:"state"`
	Attempts     int             `json:"attempts"`
	LastError    *string         `json:"lastError"`
	Result       json.RawMessage `json:"result"`
}

// processingIDIs finds the job whose processingId is ?1. Its first
// condition is the key of queue_jobs_processing_id, written exactly as
// the index is: a lookup that drifts from it scans the whole table.
const processingIDIs = `substr(processing_id, -22, 13) = substr(?1, -22, 13) AND processing_id = ?1`

const statusSQL = `
SELECT queue, state, attempts, last_error, result FROM queue_jobs
WHERE ` + processingIDIs

// ErrNotFound means no job has that processingId (or it was pruned).
var ErrNotFound = errors.New("not found")

// Status looks a job up by its processingId.
func (q *Queue) Status(ctx context.Context, processingID string) (JobStatus, error) {
	s := JobStatus{ProcessingID: processingID}
	var lastErr, result sql.NullString
	err := q.db.r.QueryRowContext(ctx, statusSQL, processingID).Scan(&s.Queue, &s.State, &s.Attempts, &lastErr, &result)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("job status %s: %w", processingID, err)
	}
	if lastErr.Valid {
		s.LastError = &lastErr.String
	}
	if result.Valid {
		s.Result = json.RawMessage(result.String)
	}
	return s, nil
}
