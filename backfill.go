package main

// `hookd backfill`: work for rows that never got it. A project that ran on
// Database Webhooks alone lost every event sent while hookd was down; this
// finds the rows those events were about and puts their events in the
// outbox, where a running hookd (or the next one to start) pulls them like
// any captured event. Running it twice is harmless: job analysis and
// moderation replace their results, and an activity is scored once per
// row event.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// backfillSource is one kind of row that may lack its work: the rows of
// table that where selects.
type backfillSource struct {
	table string
	where string // a condition on the row r, written by hookd
	why   string
}

// The job offers never analysed and the posts never moderated carry a
// mark of it. Candidates do not: one with no match may never have been
// matched or may match nothing, so they are left out (see docs/supabase.md).
var backfillRows = []backfillSource{
	{"jobs", "NOT r.analysis_completed", "job offers never analysed"},
	{"posts", "r.moderated_at IS NULL", "posts never moderated"},
}

// An activity row leaves no mark of being scored but its log: a row is
// unscored when activity_logs has no log of its action by its user at its
// time (the event time is the log's created_at), looked up through the
// index on (user_id, created_at). A row without user_id or created_at
// cannot be compared, and its table is skipped.
const unscoredActivitySQL = `NOT EXISTS (
  SELECT 1 FROM public.activity_logs l
  WHERE l.user_id = r.user_id AND l.created_at = %s AND l.action = %s)`

// BackfillCount is what backfill found (and queued) in one table.
type BackfillCount struct {
	Table string
	Rows  int64
	Why   string
}

// Backfill puts into the outbox the events of the rows that lack their
// work, or with dryRun only counts them. Everything is one transaction.
func (s *PostgresStore) Backfill(ctx context.Context, dryRun bool) ([]BackfillCount, error) {
	var out []BackfillCount
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		sources, skipped, err := backfillSources(ctx, tx)
		if err != nil {
			return err
		}
		out = skipped
		for _, src := range sources {
			n, err := backfillTable(ctx, tx, src, dryRun)
			if err != nil {
				return fmt.Errorf("backfill %s: %w", src.table, err)
			}
			out = append(out, BackfillCount{src.table, n, src.why})
		}
		return nil
	})
	if err != nil {
		return nil, classifyPG(err)
	}
	return out, nil
}

// backfillSources adds to backfillRows the activity tables that exist,
// and lists those it cannot compare with their logs (Rows -1).
func backfillSources(ctx context.Context, tx pgx.Tx) ([]backfillSource, []BackfillCount, error) {
	sources := slices.Clone(backfillRows)
	var skipped []BackfillCount
	for _, table := range activityTableNames() {
		var createdAt, userID *string // their types, nil when absent
		err := tx.QueryRow(ctx, columnTypesSQL, table).Scan(&createdAt, &userID)
		if err == pgx.ErrNoRows {
			continue // no such table
		}
		if err != nil {
			return nil, nil, err
		}
		if createdAt == nil || userID == nil {
			skipped = append(skipped, BackfillCount{table, -1, "no user_id or created_at to compare with activity_logs"})
			continue
		}
		at := "r.created_at"
		if *createdAt == "timestamp without time zone" {
			at = "(r.created_at AT TIME ZONE 'UTC')" // read as UTC, as hookd reads it
		}
		where := fmt.Sprintf(unscoredActivitySQL, at, quoteLiteral(activityTables[table].action))
		sources = append(sources, backfillSource{table, where, "activity rows without a log"})
	}
	return sources, skipped, nil
}

// The types of a public table's created_at and user_id; no row when the
// table does not exist.
const columnTypesSQL = `
SELECT (SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = t.relname AND column_name = 'created_at'),
       (SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = t.relname AND column_name = 'user_id')
FROM pg_class t WHERE t.oid = to_regclass('public.' || quote_ident($1))`

// backfillTable counts, or queues, one source's rows.
func backfillTable(ctx context.Context, tx pgx.Tx, src backfillSource, dryRun bool) (int64, error) {
	from := fmt.Sprintf(`FROM %s AS r WHERE %s`, pgx.Identifier{"public", src.table}.Sanitize(), src.where)
	if dryRun {
		var n int64
		err := tx.QueryRow(ctx, `SELECT count(*) `+from).Scan(&n)
		return n, err
	}
	tag, err := tx.Exec(ctx, fmt.Sprintf(`
INSERT INTO hookd.outbox (op, table_name, record)
SELECT 'INSERT', %s, to_jsonb(r)
%s ORDER BY r.created_at`, quoteLiteral(src.table), from))
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() > 0 {
		_, err = tx.Exec(ctx, `SELECT pg_notify('`+outboxChannel+`', '')`)
	}
	return tag.RowsAffected(), err
}

// quoteLiteral quotes one of hookd's own names as a SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// runBackfill is `hookd backfill [-dry-run]`.
func runBackfill(ctx context.Context, args []string, url string, out, stderr io.Writer) error {
	fs := flag.NewFlagSet("hookd backfill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "count the rows that lack their work, queue nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pg, err := postgresFor("backfill", url)
	if err != nil {
		return err
	}
	defer pg.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := pg.CheckSchema(ctx); err != nil {
		return err
	}
	counts, err := pg.Backfill(ctx, *dryRun)
	if err != nil {
		return err
	}
	verb := "queued"
	if *dryRun {
		verb = "would queue"
	}
	for _, c := range counts {
		if c.Rows < 0 {
			fmt.Fprintf(out, "%-14s skipped: %s\n", c.Table, c.Why)
			continue
		}
		fmt.Fprintf(out, "%-14s %s %d: %s\n", c.Table, verb, c.Rows, c.Why)
	}
	return nil
}
