package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresStore writes results to Supabase Postgres. Rows for
// jobs, posts and users must exist: the app creates them, hookd only adds
// its columns and tables. Each method is one round trip or one short
// transaction, and safe to repeat.
type PostgresStore struct {
	pool *pgxpool.Pool
}

// OpenPostgres builds a pool from DATABASE_URL without connecting: a
// database that is down at start must not stop hookd from accepting
// webhooks. poolSize applies when the URL does not set pool_max_conns.
//
// Unless the URL says otherwise (default_query_exec_mode), statements are
// sent with the extended protocol's unnamed statement (QueryExecModeExec):
// nothing is prepared and cached on a server connection, which is what
// Supabase's transaction pooler (Supavisor, PgBouncer) requires.
func OpenPostgres(url string, poolSize int) (*PostgresStore, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", redactURLError(err))
	}
	if !strings.Contains(url, "default_query_exec_mode") {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(poolSize)
	}
	if !strings.Contains(url, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", redactURLError(err))
	}
	return &PostgresStore{pool: pool}, nil
}

// redactURLError replaces a parse error, whose text can quote the
// connection string and so the password, by a fixed message.
func redactURLError(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("not a valid Postgres connection string (postgres://user:password@host:5432/db?sslmode=require); its text is not shown because it holds the password")
	}
	return err
}

// Close closes the pool.
func (s *PostgresStore) Close() { s.pool.Close() }

// Migrate applies the migrations the database lacks (see migrations.go),
// each in its own transaction, and returns the names of those it applied;
// run again, it does nothing.
func (s *PostgresStore) Migrate(ctx context.Context) ([]string, error) {
	applied, err := migratePostgres(ctx, s.pool, postgresMigrations)
	if err != nil {
		return applied, fmt.Errorf("migrate: %w", err)
	}
	return applied, nil
}

// requiredColumns are the columns of the app's tables hookd reads or
// writes, by table, as its first migration left them; what later
// migrations add (activity_logs.event_key, the hookd schema) is vouched
// for by checkVersion.
var requiredColumns = map[string][]string{
	"users":         {"id", "engagement_score", "last_activity_at"},
	"candidates":    {"id", "skills", "experience_level", "location"},
	"jobs":          {"id", "analysis_completed", "candidates_count", "analyzed_at", "extracted_skills"},
	"posts":         {"id", "is_flagged", "flag_reason", "moderated_at", "moderation_status"},
	"job_matches":   {"job_id", "candidate_id", "match_score", "matched_skills"},
	"activity_logs": {"user_id", "action", "target_type", "target_id", "points_earned", "processing_id", "created_at"},
}

const columnsSQL = `
SELECT table_name::text, column_name::text FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = ANY($1::text[])`

// ErrSchema marks a database that lacks hookd's columns or tables.
var ErrSchema = errors.New("schema")

// CheckSchema verifies that every table and column hookd needs exists. The
// error names what is missing and the command that adds it.
func (s *PostgresStore) CheckSchema(ctx context.Context) error {
	tables := make([]string, 0, len(requiredColumns))
	for t := range requiredColumns {
		tables = append(tables, t)
	}
	rows, err := s.pool.Query(ctx, columnsSQL, tables)
	if err != nil {
		return classifyPG(fmt.Errorf("check schema: %w", err))
	}
	present, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var t, c string
		err := r.Scan(&t, &c)
		return t + "." + c, err
	})
	if err != nil {
		return classifyPG(fmt.Errorf("check schema: %w", err))
	}
	var missing []string
	for table, cols := range requiredColumns {
		for _, c := range cols {
			if !slices.Contains(present, table+"."+c) {
				missing = append(missing, table+"."+c)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%w: the database lacks %s: run `hookd migrate` with the same DATABASE_URL",
			ErrSchema, strings.Join(missing, ", "))
	}
	return s.checkVersion(ctx)
}

// checkVersion verifies that every migration this hookd knows has run:
// the outbox, for one, comes with migration 2.
func (s *PostgresStore) checkVersion(ctx context.Context) error {
	var version int
	err := s.pool.QueryRow(ctx, postgresVersionSQL).Scan(&version)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		version, err = 0, nil
	}
	if err != nil {
		return classifyPG(fmt.Errorf("check schema version: %w", err))
	}
	if version < len(postgresMigrations) {
		return fmt.Errorf("%w: the database has hookd's migrations up to %d of %d: run `hookd migrate` with the same DATABASE_URL",
			ErrSchema, version, len(postgresMigrations))
	}
	return nil
}

// Ping reports whether the database answers and has hookd's schema; the
// workers' gate calls it while the store is down.
func (s *PostgresStore) Ping(ctx context.Context) error { return s.CheckSchema(ctx) }

const moderatePostPG = `
UPDATE posts
SET is_flagged = $2, flag_reason = nullif($3, ''), moderation_status = $4, moderated_at = $5
WHERE id = $1::uuid`

// SaveModeration writes the outcome on the post; a missing post is a
// permanent failure.
func (s *PostgresStore) SaveModeration(ctx context.Context, p PostTask, m ModerationRecord) error {
	tag, err := s.pool.Exec(ctx, moderatePostPG, p.PostID, m.Status != StatusApproved, m.Reason, m.Status, m.At)
	if err != nil {
		return classifyPG(fmt.Errorf("save moderation %s: %w", p.PostID, err))
	}
	if tag.RowsAffected() == 0 {
		return Permanent(fmt.Errorf("post %s not found in posts", p.PostID))
	}
	return nil
}

// A batch of activities in one statement, so one implicit transaction:
// each log row is inserted unless its processing_id exists, and only the
// new rows add their points, summed per user. The users are locked in id
// order before they are updated, so that concurrent batches sharing users
// wait for each other instead of deadlocking; FOR NO KEY UPDATE does not
// conflict with the foreign-key checks of other inserts. It returns the
// processing_id of every new row.
const recordActivitiesPG = `
WITH logged AS (
  INSERT INTO activity_logs (user_id, action, target_type, target_id, points_earned, processing_id, created_at, event_key)
  SELECT user_id, action, nullif(target_type, ''), nullif(target_id, ''), points, processing_id, created_at, nullif(event_key, '')
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::text[])
       AS a (user_id, action, target_type, target_id, points, processing_id, created_at, event_key)
  ON CONFLICT DO NOTHING -- on processing_id or on event_key
  RETURNING user_id, points_earned, created_at, processing_id),
per_user AS (
  SELECT user_id, sum(points_earned) AS points, max(created_at) AS last
  FROM logged GROUP BY user_id),
locked AS (
  SELECT id FROM users WHERE id IN (SELECT user_id FROM per_user)
  ORDER BY id FOR NO KEY UPDATE),
scored AS (
  UPDATE users u
  SET engagement_score = u.engagement_score + p.points,
      last_activity_at = greatest(u.last_activity_at, p.last)
  FROM per_user p JOIN locked l ON l.id = p.user_id
  WHERE u.id = p.user_id)
SELECT processing_id FROM logged`

// RecordActivities writes the whole batch with one statement (see
// recordActivitiesPG). When it fails permanently (bad data, a constraint),
// each record is written alone, so that, say, one unknown user (a foreign
// key violation) fails only its own job. Other errors (a timeout, the
// database down) fail the whole call: a slow database is not sent the
// batch again one statement per record. If the database goes away midway
// through the records, the ones written keep their outcome and the rest
// get the error, so that the written ones still reach the leaderboard.
func (s *PostgresStore) RecordActivities(ctx context.Context, recs []ActivityRecord) ([]Recorded, error) {
	out, err := s.recordBatch(ctx, recs)
	if len(recs) == 1 {
		return out, missingUser(err, recs[0].UserID)
	}
	if err == nil || !IsPermanent(err) {
		return out, err
	}
	out = make([]Recorded, len(recs))
	for i, a := range recs {
		one, err := s.recordBatch(ctx, []ActivityRecord{a})
		switch {
		case err == nil:
			out[i] = one[0]
		case IsUnavailable(err):
			for j := i; j < len(recs); j++ {
				out[j].Err = err
			}
			return out, nil
		default:
			out[i].Err = fmt.Errorf("record activity %s: %w", a.ProcessingID, missingUser(err, a.UserID))
		}
	}
	return out, nil
}

// recordBatch writes recs in one statement and one round trip.
func (s *PostgresStore) recordBatch(ctx context.Context, recs []ActivityRecord) ([]Recorded, error) {
	n := len(recs)
	users, actions, types, targets, ids, events := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	points, at := make([]int32, n), make([]time.Time, n)
	for i, a := range recs {
		users[i], actions[i], types[i], targets[i], ids[i], events[i] = a.UserID, a.Action, a.TargetType, a.TargetID, a.ProcessingID, a.EventKey
		points[i], at[i] = int32(a.Points), a.At
	}
	rows, err := s.pool.Query(ctx, recordActivitiesPG, users, actions, types, targets, points, ids, at, events)
	if err != nil {
		return nil, classifyPG(fmt.Errorf("record %d activities: %w", n, err))
	}
	logged, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, classifyPG(fmt.Errorf("record %d activities: %w", n, err))
	}
	isNew := make(map[string]bool, len(logged))
	for _, id := range logged {
		isNew[id] = true
	}
	out := make([]Recorded, n)
	for i, a := range recs {
		out[i].Applied = isNew[a.ProcessingID]
	}
	return out, nil
}

// missingUser names the user when err is the foreign key of activity_logs
// refusing a user the app does not have, as job and post errors name
// theirs.
func missingUser(err error, userID string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" && pgErr.TableName == "activity_logs" {
		return Permanent(fmt.Errorf("user %s not found in users", userID))
	}
	return err
}

// classifyPG sorts a database error into the classes of errors.go:
// bad data and constraint violations can never succeed (permanent); a
// database that cannot be reached, is shutting down or refuses connections
// is unavailable, and the job waits for it without spending an attempt;
// anything else is retried as transient.
func classifyPG(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "22", "23", "42": // data exception, integrity violation, syntax or undefined object
			return Permanent(err)
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			if pgErr.Code != "57014" { // query_canceled is a plain timeout
				return Unavailable(err)
			}
		}
		return err
	}
	if isConnectionError(err) {
		return Unavailable(err)
	}
	return err
}

func isConnectionError(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// pgSnapshot is a read-only REPEATABLE READ transaction: each of its
// queries sees the database as its first one did, whatever is committed
// meanwhile. MVCC keeps that view without blocking any writer; it holds
// one pool connection while a rebuild runs.
type pgSnapshot struct {
	tx pgx.Tx
}

// LeaderboardSnapshot pins the database as it is now.
func (s *PostgresStore) LeaderboardSnapshot(ctx context.Context) (LeaderboardSnapshot, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, classifyPG(fmt.Errorf("begin the leaderboard snapshot: %w", err))
	}
	// The transaction's snapshot is taken by its first query, not by
	// BEGIN: it must be taken before this returns.
	if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
		tx.Rollback(context.Background())
		return nil, classifyPG(fmt.Errorf("begin the leaderboard snapshot: %w", err))
	}
	return &pgSnapshot{tx: tx}, nil
}

const userScoresPG = `SELECT id::text, engagement_score::bigint FROM users WHERE engagement_score > 0`

// UserScores streams every positive engagement score.
func (s *pgSnapshot) UserScores(ctx context.Context, fn func(UserScore) error) error {
	var u UserScore
	return s.forEach(ctx, "read user scores", userScoresPG, nil, []any{&u.UserID, &u.Score}, func() error { return fn(u) })
}

// The database sums the points by target and hour (UTC), and sends the
// rows of each type and hour together, which redka writes fastest (see
// loaderBufferRows); idx_activity_logs_created_at serves the range.
const trendingSincePG = `
SELECT lower(target_type), target_id, date_trunc('hour', created_at, 'UTC'), coalesce(sum(points_earned), 0)::bigint
FROM activity_logs
WHERE created_at >= $1 AND lower(target_type) = ANY($2::text[]) AND target_id IS NOT NULL
GROUP BY 1, 3, 2
ORDER BY 1, 3, 2`

// TrendingSince streams recent activity points by target and hour.
func (s *pgSnapshot) TrendingSince(ctx context.Context, since time.Time, fn func(HourlyPoints) error) error {
	var h HourlyPoints
	return s.forEach(ctx, "read trending activity", trendingSincePG, []any{since, TrendingTypes},
		[]any{&h.TargetType, &h.TargetID, &h.Hour, &h.Points}, func() error { return fn(h) })
}

// forEach runs query in the snapshot, scans each row into dest and calls
// fn after each. An error of fn is returned as it is; the database's is
// classified and named by what.
func (s *pgSnapshot) forEach(ctx context.Context, what, query string, args, dest []any, fn func() error) error {
	var fnErr error
	rows, err := s.tx.Query(ctx, query, args...)
	if err == nil {
		_, err = pgx.ForEachRow(rows, dest, func() error {
			fnErr = fn()
			return fnErr
		})
	}
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return classifyPG(fmt.Errorf("%s: %w", what, err))
	}
	return nil
}

const loggedPG = `SELECT processing_id FROM activity_logs WHERE processing_id = ANY($1::text[])`

// Logged returns which of ids the snapshot's activity_logs hold.
func (s *pgSnapshot) Logged(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := s.tx.Query(ctx, loggedPG, ids)
	if err != nil {
		return nil, classifyPG(fmt.Errorf("look up logged activities: %w", err))
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, classifyPG(fmt.Errorf("look up logged activities: %w", err))
	}
	logged := make(map[string]bool, len(found))
	for _, id := range found {
		logged[id] = true
	}
	return logged, nil
}

// Close ends the transaction; a rollback is all a read needs.
func (s *pgSnapshot) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.tx.Rollback(ctx)
}
