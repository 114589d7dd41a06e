package main

// The outbox: events captured inside Postgres, pulled into the queue.
//
// Supabase's Database Webhooks are sent by pg_net, which tries each
// request once: every event that fires while hookd is stopped, restarting
// or unreachable is lost, and it sends about 200 requests a second at
// most. So `hookd migrate` also installs capture triggers (see
// migrations/postgres and AttachCapture): each row change of a kind's
// tables writes the envelope a Database Webhook would send into
// hookd.outbox, in the same transaction as the change, and NOTIFYs
// hookd_outbox. hookd pulls the outbox here.
//
// A batch of events is claimed with FOR UPDATE SKIP LOCKED, so several
// hookd processes on one database (a rolling deploy) take disjoint
// events; each event becomes the job its webhook route would queue, all
// committed to hookd.db in one transaction; then the events are deleted
// and the Postgres transaction commits. If hookd dies between the two
// commits, the events are still in the outbox and are pulled again: each
// carries a delivery key (its row event, else its outbox id), so the
// repeat finds its job and adds nothing, and its processingId is made of
// the event itself, so that even a copy queued by another process writes
// its results once (activity_logs.processing_id and event_key are unique;
// analysis and moderation replace their results).

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// outboxChannel is what the capture trigger NOTIFYs.
const outboxChannel = "hookd_outbox"

// outboxBatch is how many events one pull claims.
const outboxBatch = 1000

// Outbox pulls captured events into the queue.
type Outbox struct {
	Pool    *pgxpool.Pool
	Queue   Intake
	Kinds   []Kind
	MaxBody int64         // an event larger than a webhook may be fails
	Poll    time.Duration // how long to wait for a NOTIFY before looking anyway
	// ListenURL is where to LISTEN: a direct or session-pooled
	// connection. Through a transaction pooler LISTEN hears nothing, and
	// the poll alone finds the events.
	ListenURL string
	Log       *slog.Logger
}

// Run pulls until ctx ends: whenever a NOTIFY arrives, every Poll
// otherwise, and at once again after a full batch.
func (o *Outbox) Run(ctx context.Context) {
	wake := make(chan struct{}, 1)
	go o.listen(ctx, wake)
	delay := time.Second
	for ctx.Err() == nil {
		n, err := o.Pull(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			o.Log.Warn("outbox pull failed; events wait in Postgres", "err", err, "retryIn", delay)
			sleep(ctx, delay)
			delay = min(2*delay, 30*time.Second)
			continue
		case n == outboxBatch:
			continue
		}
		delay = time.Second
		select {
		case <-wake:
		case <-time.After(o.Poll):
		case <-ctx.Done():
		}
	}
}

// listen wakes the puller on every NOTIFY, reconnecting after a failure.
func (o *Outbox) listen(ctx context.Context, wake chan struct{}) {
	delay := time.Second
	for ctx.Err() == nil {
		err := o.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		o.Log.Info("outbox LISTEN unavailable; polling", "err", err, "every", o.Poll, "retryIn", delay)
		sleep(ctx, delay)
		delay = min(2*delay, time.Minute)
	}
}

func (o *Outbox) listenOnce(ctx context.Context, wake chan struct{}) error {
	conn, err := pgx.Connect(ctx, o.ListenURL)
	if err != nil {
		return fmt.Errorf("connect: %w", redactURLError(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+outboxChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	notify(wake) // whatever arrived before LISTEN
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		notify(wake)
	}
}

// Each event as the envelope its webhook would have been, beside its
// table, so that the kind is known without parsing the envelope.
const claimOutboxSQL = `
SELECT id, table_name,
       json_build_object('type', op, 'table', table_name, 'schema', 'public',
                         'record', record, 'old_record', old_record)::text,
       captured_at
FROM hookd.outbox
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED`

const deleteOutboxSQL = `DELETE FROM hookd.outbox WHERE id = ANY($1::bigint[])`

// Pull moves one batch of events from the outbox into the queue and
// returns how many it took.
func (o *Outbox) Pull(ctx context.Context) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, o.Pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, claimOutboxSQL, outboxBatch)
		events, err := pgx.CollectRows(rows, pgx.RowToStructByPos[capturedEvent])
		if err != nil {
			return fmt.Errorf("claim events: %w", err)
		}
		n = len(events)
		if n == 0 {
			return nil
		}
		jobs := make([]NewJob, 0, n)
		ids := make([]int64, n)
		for i, e := range events {
			ids[i] = e.ID
			if j, ok := o.job(e); ok {
				jobs = append(jobs, j)
			}
		}
		if _, err := o.Queue.Enqueue(ctx, jobs...); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, deleteOutboxSQL, ids); err != nil {
			return fmt.Errorf("delete pulled events: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pull outbox: %w", classifyPG(err))
	}
	return n, nil
}

// capturedEvent is a row of hookd.outbox, its fields in the order of
// claimOutboxSQL's columns (read by position).
type capturedEvent struct {
	ID         int64
	Table      string
	Event      string
	CapturedAt time.Time
}

// job turns an event into the job its webhook route would queue, or a
// failed job saying why it cannot be one; ok is false for an event that
// needs no work (an UPDATE that changed nothing hookd reads).
func (o *Outbox) job(e capturedEvent) (j NewJob, ok bool) {
	k := o.kindOf(e.Table)
	j = NewJob{Queue: k.Queue, ReceivedAt: e.CapturedAt, Key: "outbox:" + strconv.FormatInt(e.ID, 10)}
	// fail makes j a failed job: its id unread, named by its outbox id.
	fail := func(payload []byte, why string) (NewJob, bool) {
		j.ProcessingID, j.Payload, j.Failed = eventProcessingID(k.Prefix, "", e), payload, why
		return j, true
	}
	if int64(len(e.Event)) > o.MaxBody {
		return fail([]byte(truncate(e.Event, 4096)),
			fmt.Sprintf("captured event of %d bytes is larger than MAX_BODY_BYTES (%d)", len(e.Event), o.MaxBody))
	}
	a, err := k.Decode([]byte(e.Event), e.CapturedAt)
	if err == nil && a.Skip == "" {
		err = checkUUIDs(a.Keys)
	}
	switch {
	case err != nil:
		return fail([]byte(e.Event), "captured event: "+err.Error())
	case a.Skip != "":
		o.Log.Debug("captured event skipped", "outboxId", e.ID, "reason", a.Skip)
		return j, false
	}
	payload, err := json.Marshal(a.Task)
	if err != nil {
		return fail([]byte(e.Event), "encode task: "+err.Error())
	}
	if a.RowKey != "" {
		j.Key = "row:" + a.RowKey // the key its webhook carries, so that the two meet
	}
	j.ProcessingID, j.Payload = eventProcessingID(k.Prefix, a.ID, e), payload
	return j, true
}

// kindOf is the kind that takes table's events; activity scoring takes
// tables no kind names (rows with an action column), as its route does.
func (o *Outbox) kindOf(table string) Kind {
	var activity Kind
	for _, k := range o.Kinds {
		for _, t := range k.Tables {
			if t == table {
				return k
			}
		}
		if k.Queue == QueueActivityScoring {
			activity = k
		}
	}
	return activity
}

// eventProcessingID is a processingId of the usual form made of the
// event alone: its capture time and its outbox id stand for the time and
// the random suffix, so every process that pulls the event names its job
// alike. An event whose id cannot be read is named by its outbox id.
func eventProcessingID(prefix, id string, e capturedEvent) string {
	if id == "" {
		id = "outbox." + strconv.FormatInt(e.ID, 10)
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(e.ID))
	return formatProcessingID(prefix, id, e.CapturedAt, [5]byte(b[3:]))
}

const outboxStatsSQL = `
SELECT count(*), coalesce(extract(epoch FROM now() - min(captured_at)), 0)::float8 FROM hookd.outbox`

// OutboxStats is the outbox's line in health.
type OutboxStats struct {
	Backlog          int64   `json:"backlog"`
	OldestAgeSeconds float64 `json:"oldestAgeSeconds"`
}

// Stats counts the events waiting in the outbox and the age of the oldest.
func (o *Outbox) Stats(ctx context.Context) (OutboxStats, error) {
	var s OutboxStats
	err := o.Pool.QueryRow(ctx, outboxStatsSQL).Scan(&s.Backlog, &s.OldestAgeSeconds)
	if err != nil {
		return s, fmt.Errorf("outbox backlog: %w", classifyPG(err))
	}
	return s, nil
}
