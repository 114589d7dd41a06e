package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The capture tests run against a real Postgres, straight and, in CI,
// through PgBouncer in transaction mode, where LISTEN hears nothing and
// the poll carries every event.

// likesTable is an activity table of the app, as Supabase projects have
// them: created_at without time zone, to check it is read as UTC.
const likesTable = `
CREATE TABLE likes (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id    uuid NOT NULL REFERENCES users(id),
  post_id    uuid,
  created_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
)`

// captureDatabase is a migrated database with a likes table, capture
// triggers attached.
func captureDatabase(t testing.TB) (string, *pgx.Conn) {
	t.Helper()
	dbURL := freshDatabase(t)
	c := connect(t, dbURL)
	pgExec(t, c, likesTable)
	if err := runMigrate(context.Background(), dbURL, io.Discard); err != nil {
		t.Fatal(err)
	}
	return dbURL, c
}

// captureEnv is the environment of a hookd pulling from dbURL: polled
// often, since through PgBouncer the poll is all there is.
func captureEnv(dbURL string) map[string]string {
	return map[string]string{"DATABASE_URL": dbURL, "OUTBOX_POLL_INTERVAL": "50ms"}
}

// waitCaptured waits until the outbox is empty and the queues are drained.
func waitCaptured(t testing.TB, a *testApp, c *pgx.Conn) map[string]QueueCounts {
	t.Helper()
	waitOutboxEmpty(t, c)
	return a.waitDrained(t)
}

// waitOutboxEmpty waits until every captured event has been pulled.
func waitOutboxEmpty(t testing.TB, c *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for pgInt(t, c, `SELECT count(*) FROM hookd.outbox`) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox not empty after 60s: %d events", pgInt(t, c, `SELECT count(*) FROM hookd.outbox`))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkScores checks that every user's engagement_score is the sum of
// the points of their activity logs, and that there are n logs, one per
// event.
func checkScores(t testing.TB, c *pgx.Conn, n int) {
	t.Helper()
	if got := pgInt(t, c, `SELECT count(*) FROM activity_logs`); got != n {
		t.Errorf("%d activity logs, want %d", got, n)
	}
	if dup := pgInt(t, c, `SELECT count(*) FROM (SELECT event_key FROM activity_logs WHERE event_key IS NOT NULL GROUP BY event_key HAVING count(*) > 1) d`); dup != 0 {
		t.Errorf("%d events logged more than once", dup)
	}
	off := pgInt(t, c, `
SELECT count(*) FROM users u
WHERE engagement_score <> (SELECT coalesce(sum(points_earned), 0) FROM activity_logs l WHERE l.user_id = u.id)`)
	if off != 0 {
		t.Errorf("%d users whose engagement_score is not the sum of their logs", off)
	}
}

// Everything inserted while no hookd runs is processed once it starts:
// a job, the candidate who matches it, a spam post and fifty likes. Health
// then shows an empty outbox (the backlog before a pull is checked by
// TestPostgresCaptureBacklogInHealth: here the workers pull at once).
func TestPostgresCaptureDownThenUp(t *testing.T) {
	dbURL, c := captureDatabase(t)
	users := insertUsers(t, c, 5)
	pgExec(t, c, `INSERT INTO jobs (id, title, location, required_skills, experience_level) VALUES ($1, 'Backend engineer', 'Paris', '{Go,PostgreSQL}', 'Senior')`, jobGo)
	pgExec(t, c, `INSERT INTO candidates (id, skills, experience_level, location) VALUES ('c0000000-0000-4000-8000-000000000001', '{golang,postgres}', 'Senior', 'Paris')`)
	pgExec(t, c, `INSERT INTO posts (id, user_id, content, links) VALUES ($1, $2, 'Free money!!! click here to earn $$$ fast', '{https://bit.ly/x}')`, postA, users[0])
	pgExec(t, c, `INSERT INTO likes (user_id, post_id) SELECT ($1::uuid[])[1 + i % 5], $2 FROM generate_series(0, 49) AS i`, users, postA)
	if n := pgInt(t, c, `SELECT count(*) FROM hookd.outbox`); n != 53 {
		t.Fatalf("%d events captured, want 53", n)
	}

	a := startPostgresApp(t, dbURL, captureEnv(dbURL))
	waitCaptured(t, a, c)
	if n := pgInt(t, c, `SELECT count(*) FROM jobs WHERE analysis_completed`); n != 1 {
		t.Errorf("%d jobs analysed, want 1", n)
	}
	if s := pgInt(t, c, `SELECT match_score FROM job_matches WHERE job_id = $1`, jobGo); s != 100 {
		t.Errorf("match score %d, want 100 (found either way: analysis or candidate matching)", s)
	}
	if n := pgInt(t, c, `SELECT count(*) FROM posts WHERE moderation_status <> 'approved' AND is_flagged`); n != 1 {
		t.Errorf("the spam post is not flagged")
	}
	checkScores(t, c, 50)
	code, h := a.health(t)
	if code != http.StatusOK || h.Outbox == nil || h.Outbox.Backlog != 0 || h.Outbox.OldestAgeSeconds != 0 {
		t.Errorf("health %d %+v %+v", code, h, h.Outbox)
	}
}

// backlogApp serves a hookd whose outbox holds three events, the oldest
// 90 s old, and pulls nothing (no workers run).
func backlogApp(t *testing.T) (*App, *httptest.Server) {
	t.Helper()
	dbURL, c := captureDatabase(t)
	users := insertUsers(t, c, 1)
	pgExec(t, c, `INSERT INTO likes (user_id) SELECT $1 FROM generate_series(1, 3)`, users[0])
	pgExec(t, c, `UPDATE hookd.outbox SET captured_at = now() - interval '90 seconds'`)
	app, _ := openApp(t, map[string]string{"DATABASE_URL": dbURL})
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return app, srv
}

// Health reports the events waiting, and how old the oldest is.
func TestPostgresCaptureBacklogInHealth(t *testing.T) {
	_, srv := backlogApp(t)
	resp, err := http.Get(srv.URL + "/api/health/queues")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h healthReply
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	if h.Outbox == nil || h.Outbox.Backlog != 3 || h.Outbox.OldestAgeSeconds < 90 || h.Outbox.OldestAgeSeconds > 120 {
		t.Errorf("outbox %+v, want 3 events, the oldest 90 s old", h.Outbox)
	}
}

// A real hookd killed (-9) while it drains a one-statement insert of
// 3,000 likes: after a restart, exactly one log per like and exact
// scores.
func TestPostgresCaptureKillMidDrain(t *testing.T) {
	dbURL, c := captureDatabase(t)
	users := insertUsers(t, c, 20)
	const n = 3000
	dir := t.TempDir()
	p := startProcess(t, dir, "DATABASE_URL="+dbURL, "OUTBOX_POLL_INTERVAL=50ms")
	pgExec(t, c, `INSERT INTO likes (user_id) SELECT ($1::uuid[])[1 + i % 20] FROM generate_series(0, $2 - 1) AS i`, users, n)
	deadline := time.Now().Add(30 * time.Second)
	for pgInt(t, c, `SELECT count(*) FROM activity_logs`) < n/10 {
		if time.Now().After(deadline) {
			t.Fatal("nothing processed in 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.kill(t)
	if left := pgInt(t, c, `SELECT count(*) FROM hookd.outbox`) + n - pgInt(t, c, `SELECT count(*) FROM activity_logs`); left == 0 {
		t.Fatalf("the kill came after the last event: nothing was in flight, the test proves nothing")
	}
	p = startProcess(t, dir, "DATABASE_URL="+dbURL, "OUTBOX_POLL_INTERVAL=50ms")
	waitOutboxEmpty(t, c)
	p.waitDrained(t)
	checkScores(t, c, n)
}

// Two hookd processes, each with its own DATA_DIR, on one database: every
// event is applied once.
func TestPostgresCaptureTwoProcesses(t *testing.T) {
	dbURL, c := captureDatabase(t)
	users := insertUsers(t, c, 10)
	env := []string{"DATABASE_URL=" + dbURL, "OUTBOX_POLL_INTERVAL=20ms"}
	p1 := startProcess(t, t.TempDir(), env...)
	p2 := startProcess(t, t.TempDir(), env...)
	const n = 2000
	for i := 0; i < 4; i++ {
		pgExec(t, c, `INSERT INTO likes (user_id) SELECT ($1::uuid[])[1 + i % 10] FROM generate_series(0, $2 - 1) AS i`, users, n/4)
	}
	waitOutboxEmpty(t, c)
	c1, c2 := p1.waitDrained(t), p2.waitDrained(t)
	done1, done2 := c1[QueueActivityScoring].Completed, c2[QueueActivityScoring].Completed
	if done1+done2 != n {
		t.Errorf("jobs completed %d + %d, want %d in all: an event was queued twice or lost", done1, done2, n)
	}
	checkScores(t, c, n)
}

// A like captured and also sent by a Database Webhook scores once.
func TestPostgresCaptureAndWebhookApplyOnce(t *testing.T) {
	dbURL, c := captureDatabase(t)
	users := insertUsers(t, c, 1)
	a := startPostgresApp(t, dbURL, captureEnv(dbURL))
	var record string
	err := c.QueryRow(context.Background(), `INSERT INTO likes (user_id) VALUES ($1) RETURNING to_jsonb(likes.*)::text`, users[0]).Scan(&record)
	if err != nil {
		t.Fatal(err)
	}
	a.mustAccept(t, "/api/activity/score", `{"type":"INSERT","table":"likes","schema":"public","record":`+record+`,"old_record":null}`)
	waitCaptured(t, a, c)
	checkScores(t, c, 1)
}

// The app's roles insert through Supabase's REST API: their rows are
// captured with no grant on schema hookd, and they cannot read the outbox.
func TestPostgresCaptureAsAppRole(t *testing.T) {
	dbURL, c := captureDatabase(t)
	users := insertUsers(t, c, 1)
	pgExec(t, c, `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF; END $$`)
	pgExec(t, c, `GRANT USAGE ON SCHEMA public TO authenticated`)
	pgExec(t, c, `GRANT SELECT, INSERT ON likes, posts TO authenticated`)
	pgExec(t, c, `SET ROLE authenticated`)
	pgExec(t, c, `INSERT INTO likes (user_id) VALUES ($1)`, users[0])
	pgExec(t, c, `INSERT INTO posts (user_id, content) VALUES ($1, 'Hello from the app')`, users[0])
	_, err := c.Exec(context.Background(), `SELECT * FROM hookd.outbox`)
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the app's role read the outbox: %v", err)
	}
	pgExec(t, c, `RESET ROLE`)
	if n := pgInt(t, c, `SELECT count(*) FROM hookd.outbox`); n != 2 {
		t.Fatalf("%d events captured from the app's role, want 2", n)
	}
	a := startPostgresApp(t, dbURL, captureEnv(dbURL))
	waitCaptured(t, a, c)
	checkScores(t, c, 1)
	if n := pgInt(t, c, `SELECT count(*) FROM posts WHERE moderation_status = 'approved'`); n != 1 {
		t.Errorf("%d posts moderated, want 1", n)
	}
}

// Rows hookd was not written for: a 200 KB description, a column of a
// type it has never seen, a timestamp without time zone, a table created
// after the first migrate. None makes the app's write fail; an event too
// large to be a job fails as a job and does not hold back the others.
func TestPostgresCaptureOddRows(t *testing.T) {
	dbURL, c := captureDatabase(t)
	users := insertUsers(t, c, 1)
	pgExec(t, c, `CREATE TYPE mood AS ENUM ('happy', 'sad')`)
	pgExec(t, c, `ALTER TABLE posts ADD COLUMN mood mood, ADD COLUMN spot point, ADD COLUMN words tsvector`)
	pgExec(t, c, `INSERT INTO posts (user_id, content, mood, spot, words) VALUES ($1, 'Hello', 'happy', point(1, 2), to_tsvector('hello'))`, users[0])
	huge := strings.Repeat("Go and PostgreSQL. ", 200_000/19)
	pgExec(t, c, `INSERT INTO jobs (title, description) VALUES ('Huge', $1)`, huge)
	pgExec(t, c, `INSERT INTO likes (user_id, created_at) VALUES ($1, '2024-01-15 21:30:00')`, users[0])
	pgExec(t, c, `CREATE TABLE shares (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id uuid REFERENCES users(id), post_id uuid, created_at timestamptz DEFAULT now())`)
	if err := runMigrate(context.Background(), dbURL, io.Discard); err != nil {
		t.Fatal(err)
	}
	pgExec(t, c, `INSERT INTO shares (user_id) VALUES ($1)`, users[0])

	env := captureEnv(dbURL)
	env["MAX_BODY_BYTES"] = "65536"
	a := startPostgresApp(t, dbURL, env)
	counts := waitCaptured(t, a, c)
	if f := counts[QueueJobAnalysis].Failed; f != 1 {
		t.Errorf("job analysis failed %d, want the huge job failed", f)
	}
	failed := failedJobError(t, a, QueueJobAnalysis)
	if !strings.Contains(failed, "larger than MAX_BODY_BYTES") {
		t.Errorf("the huge job's error: %q", failed)
	}
	if n := pgInt(t, c, `SELECT count(*) FROM posts WHERE moderation_status = 'approved'`); n != 1 {
		t.Errorf("the post with odd columns was not moderated")
	}
	var at time.Time
	if err := c.QueryRow(context.Background(), `SELECT created_at FROM activity_logs WHERE action = 'like'`).Scan(&at); err != nil || !at.Equal(time.Date(2024, 1, 15, 21, 30, 0, 0, time.UTC)) {
		t.Errorf("like logged at %v %v, want 2024-01-15 21:30 UTC", at, err)
	}
	if n := pgInt(t, c, `SELECT count(*) FROM activity_logs WHERE action = 'share'`); n != 1 {
		t.Errorf("the share, in a table created after the first migrate, was not scored")
	}
	checkScores(t, c, 2)
}

// failedJobError returns the last error of the failed job of a queue.
func failedJobError(t testing.TB, a *testApp, queue string) string {
	t.Helper()
	return queryString(t, inspect(t, a.db), `SELECT last_error FROM queue_jobs WHERE queue = ? AND state = 'failed'`, queue)
}

// An event hookd cannot decode fails as a job saying why, and the events
// behind it go on.
func TestPostgresCaptureBadEventFailsAlone(t *testing.T) {
	dbURL, c := captureDatabase(t)
	users := insertUsers(t, c, 1)
	pgExec(t, c, `INSERT INTO hookd.outbox (op, table_name, record) VALUES ('INSERT', 'likes', '{"user_id":"not-a-uuid"}')`)
	pgExec(t, c, `INSERT INTO hookd.outbox (op, table_name, record) VALUES ('INSERT', 'likes', '"not a row"')`)
	pgExec(t, c, `INSERT INTO likes (user_id) VALUES ($1)`, users[0])
	a := startPostgresApp(t, dbURL, captureEnv(dbURL))
	counts := waitCaptured(t, a, c)
	if c := counts[QueueActivityScoring]; c.Failed != 2 || c.Completed != 1 {
		t.Errorf("activity counts %+v, want 2 failed, 1 completed", c)
	}
	rows, err := inspect(t, a.db).Query(`SELECT processing_id, last_error FROM queue_jobs WHERE state = 'failed' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := collectRows(rows, func(scan func(...any) error) (string, error) {
		var id, msg string
		err := scan(&id, &msg)
		return id + ": " + msg, err
	})
	if err != nil || len(errs) != 2 || !strings.Contains(errs[0], "must be a UUID") || !strings.Contains(errs[1], "record: must be a JSON object") {
		t.Errorf("failed jobs %q %v", errs, err)
	}
	checkScores(t, c, 1)
}

// A candidate inserted after a job is matched with it by capture.
func TestPostgresCaptureCandidateAfterJob(t *testing.T) {
	dbURL, c := captureDatabase(t)
	a := startPostgresApp(t, dbURL, captureEnv(dbURL))
	pgExec(t, c, `INSERT INTO jobs (id, title, location, required_skills, experience_level) VALUES ($1, 'Backend engineer', 'Paris', '{Go,PostgreSQL}', 'Senior')`, jobGo)
	waitCaptured(t, a, c)
	pgExec(t, c, `INSERT INTO candidates (id, skills, experience_level, location) VALUES ('c0000000-0000-4000-8000-000000000001', '{golang,postgres}', 'Mid', 'Remote')`)
	waitCaptured(t, a, c)
	score := pgInt(t, c, `SELECT match_score FROM job_matches WHERE job_id = $1`, jobGo)
	if want := 70 + 10 + 5; score != want {
		t.Errorf("match score %d, want %d", score, want)
	}
	pgExec(t, c, `UPDATE candidates SET skills = '{Java}'`)
	waitCaptured(t, a, c)
	if n := pgInt(t, c, `SELECT count(*) FROM job_matches`); n != 0 {
		t.Errorf("%d matches left after the candidate's skills changed, want 0", n)
	}
	if n := pgInt(t, c, `SELECT candidates_count FROM jobs`); n != 0 {
		t.Errorf("candidates_count %d, want 0", n)
	}
}

// A project that ran on webhooks alone has rows that never got their
// work: backfill counts them (-dry-run), then queues them through the
// outbox; rows already done are left alone, and running it twice scores
// nothing twice.
func TestPostgresBackfill(t *testing.T) {
	dbURL, c := captureDatabase(t)
	users := insertUsers(t, c, 2)
	// Rows from before capture: the triggers are dropped while they go in.
	pgExec(t, c, `DROP TRIGGER hookd_capture_insert ON likes; DROP TRIGGER hookd_capture_insert ON jobs; DROP TRIGGER hookd_capture_insert ON posts`)
	pgExec(t, c, `INSERT INTO jobs (title, required_skills) VALUES ('Go developer', '{Go}'), ('Done already', '{Go}')`)
	pgExec(t, c, `UPDATE jobs SET analysis_completed = true WHERE title = 'Done already'`)
	pgExec(t, c, `INSERT INTO posts (user_id, content) VALUES ($1, 'Hello'), ($1, 'Moderated already')`, users[0])
	pgExec(t, c, `UPDATE posts SET moderated_at = now(), moderation_status = 'approved' WHERE content = 'Moderated already'`)
	pgExec(t, c, `INSERT INTO likes (user_id, created_at) SELECT $1, timestamp '2024-01-15 10:00:00' + i * interval '1 minute' FROM generate_series(1, 10) AS i`, users[0])
	// The first three were scored by webhooks: their logs match by user, time and action.
	pgExec(t, c, `INSERT INTO activity_logs (user_id, action, points_earned, processing_id, created_at)
SELECT user_id, 'like', 5, 'old-' || id, created_at AT TIME ZONE 'UTC' FROM likes ORDER BY created_at LIMIT 3`)
	pgExec(t, c, `UPDATE users SET engagement_score = 15 WHERE id = $1`, users[0])
	if err := runMigrate(context.Background(), dbURL, io.Discard); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := runBackfill(context.Background(), []string{"-dry-run"}, dbURL, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"jobs           would queue 1", "posts          would queue 1", "likes          would queue 7"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run says\n%s\nwant a line %q", out.String(), want)
		}
	}
	if n := pgInt(t, c, `SELECT count(*) FROM hookd.outbox`); n != 0 {
		t.Fatalf("the dry run queued %d events", n)
	}
	for run := 1; run <= 2; run++ {
		out.Reset()
		if err := runBackfill(context.Background(), nil, dbURL, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(out.String(), "likes          queued 7") {
		t.Errorf("backfill says\n%s", out.String())
	}
	a := startPostgresApp(t, dbURL, captureEnv(dbURL))
	waitCaptured(t, a, c)
	checkScores(t, c, 10)
	if n := pgInt(t, c, `SELECT count(*) FROM jobs WHERE NOT analysis_completed`) + pgInt(t, c, `SELECT count(*) FROM posts WHERE moderated_at IS NULL`); n != 0 {
		t.Errorf("%d rows still without their work", n)
	}
	out.Reset()
	if err := runBackfill(context.Background(), []string{"-dry-run"}, dbURL, &out, io.Discard); err != nil || !strings.Contains(out.String(), "likes          would queue 0") {
		t.Errorf("after the backfill: %v\n%s", err, out.String())
	}
}

// captureBatch is the size of the one-statement inserts the capture
// benchmarks make.
const captureBatch = 10_000

// BenchmarkCaptureTrigger measures what the capture trigger adds to the
// app's own write: one INSERT of 10,000 likes, with the trigger attached
// and without. An operation is one such INSERT.
func BenchmarkCaptureTrigger(b *testing.B) {
	for _, capture := range []bool{false, true} {
		b.Run(fmt.Sprintf("capture=%v", capture), func(b *testing.B) {
			_, c := captureDatabase(b)
			users := insertUsers(b, c, 100)
			if !capture {
				pgExec(b, c, `DROP TRIGGER hookd_capture_insert ON likes`)
			}
			b.ResetTimer()
			for range b.N {
				pgExec(b, c, `INSERT INTO likes (user_id) SELECT ($1::uuid[])[1 + i % 100] FROM generate_series(0, $2 - 1) AS i`, users, captureBatch)
				b.StopTimer()
				pgExec(b, c, `TRUNCATE likes, hookd.outbox`)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/insert")
		})
	}
}

// BenchmarkPostgresCaptureEndToEnd measures a row's way from the app's
// INSERT to its result: one statement inserts 10,000 likes, and the
// operation ends when all 10,000 are in activity_logs.
func BenchmarkPostgresCaptureEndToEnd(b *testing.B) {
	dbURL, c := captureDatabase(b)
	users := insertUsers(b, c, 100)
	a := startPostgresApp(b, dbURL, captureEnv(dbURL))
	b.ResetTimer()
	for i := range b.N {
		pgExec(b, c, `INSERT INTO likes (user_id) SELECT ($1::uuid[])[1 + i % 100] FROM generate_series(0, $2 - 1) AS i`, users, captureBatch)
		for pgInt(b, c, `SELECT count(*) FROM activity_logs`) < (i+1)*captureBatch {
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.StopTimer()
	waitCaptured(b, a, c)
	checkScores(b, c, b.N*captureBatch)
	b.ReportMetric(float64(b.N*captureBatch)/b.Elapsed().Seconds(), "events/s")
}
