package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A batch of activities in the embedded store: points summed per user,
// the later event time kept, users created on the way, and the same
// batch again changes nothing.
func TestRecordActivitiesBatch(t *testing.T) {
	app, cfg := openApp(t, nil)
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	recs := []ActivityRecord{
		{ProcessingID: "p-1", UserID: "u-1", Action: "comment", TargetType: "post", TargetID: "post-1", Points: 10, At: t0.Add(2 * time.Hour)},
		{ProcessingID: "p-2", UserID: "u-2", Action: "share", Points: 15, At: t0},
		{ProcessingID: "p-3", UserID: "u-1", Action: "like", TargetType: "post", TargetID: "post-1", Points: 5, At: t0.Add(time.Hour)},
	}
	for run := 1; run <= 2; run++ {
		out, err := app.store.RecordActivities(context.Background(), recs)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		for i, o := range out {
			if o.Err != nil || o.Applied != (run == 1) {
				t.Errorf("run %d, record %d: %+v, want applied=%v", run, i, o, run == 1)
			}
		}
		db := openFile(t, cfg.DataDir)
		if s := queryInt(t, db, `SELECT engagement_score FROM users WHERE id = 'u-1'`); s != 15 {
			t.Errorf("run %d: u-1 score %d, want 15", run, s)
		}
		if s := queryInt(t, db, `SELECT engagement_score FROM users WHERE id = 'u-2'`); s != 15 {
			t.Errorf("run %d: u-2 score %d, want 15", run, s)
		}
		if at := queryString(t, db, `SELECT last_activity_at FROM users WHERE id = 'u-1'`); at != "2026-11-28T11:00:00.000Z" {
			t.Errorf("run %d: u-1 last_activity_at %q, want the later event", run, at)
		}
		if n := queryInt(t, db, `SELECT count(*) FROM users`); n != 2 {
			t.Errorf("run %d: %d users, want u-1 and u-2 created", run, n)
		}
		if n := queryInt(t, db, `SELECT count(*) FROM activity_logs`); n != 3 {
			t.Errorf("run %d: %d logs, want 3", run, n)
		}
		if n := queryInt(t, db, `SELECT count(*) FROM activity_logs WHERE target_type IS NULL AND target_id IS NULL AND processing_id = 'p-2'`); n != 1 {
			t.Errorf("run %d: empty target not stored as NULL", run)
		}
	}
}

// A record the database refuses (here by a trigger a user might add)
// fails alone: its savepoint is rolled back, its batch-mates are written.
func TestRecordActivitiesIsolatesAFailingRecord(t *testing.T) {
	app, cfg := openApp(t, nil)
	if _, err := openFile(t, cfg.DataDir).Exec(`
CREATE TRIGGER refuse_bad BEFORE INSERT ON activity_logs WHEN NEW.processing_id = 'bad'
BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END`); err != nil {
		t.Fatal(err)
	}
	recs := []ActivityRecord{
		{ProcessingID: "good-1", UserID: "u-1", Action: "like", Points: 5, At: time.Now()},
		{ProcessingID: "bad", UserID: "u-1", Action: "like", Points: 5, At: time.Now()},
		{ProcessingID: "good-2", UserID: "u-1", Action: "comment", Points: 10, At: time.Now()},
	}
	out, err := app.store.RecordActivities(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if !out[0].Applied || out[0].Err != nil || !out[2].Applied || out[2].Err != nil {
		t.Errorf("good records %+v %+v, want applied", out[0], out[2])
	}
	if out[1].Err == nil || !strings.Contains(out[1].Err.Error(), "refused by trigger") {
		t.Errorf("bad record: %+v, want the trigger's error", out[1])
	}
	db := openFile(t, cfg.DataDir)
	if s := queryInt(t, db, `SELECT engagement_score FROM users WHERE id = 'u-1'`); s != 15 {
		t.Errorf("score %d, want 15 (the bad record's points not added)", s)
	}
}

// The embedded store reads on connections of its own. Five job analyses,
// each reading tens of thousands of candidates for seconds, had taken
// every read connection, and health, which counts the queues within 2 s,
// answered 503 "queue cannot commit" although the queue was fine. Here
// every connection the store reads on is held by an open read; health and
// a job's status must still answer (the status within 5 s: without a
// deadline, a read with no connection to run on waits for ever).
func TestStoreReadsLeaveTheQueueReadsFree(t *testing.T) {
	a := startApp(t, map[string]string{"LEADERBOARD_DISABLED": "true"})
	id := a.mustAccept(t, "/api/activity/score", `{"userId":"user-1","action":"like"}`)
	a.waitDrained(t)
	for range storeReadConns {
		snap, err := a.store.LeaderboardSnapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(snap.Close)
	}
	if r := a.do(t, http.MethodGet, "/api/health/queues", "", "", nil); r.Status != http.StatusOK || r.str("status") != "ok" {
		t.Errorf("health with the store's reads all held: %d %s, want 200 ok", r.Status, r.Raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s, err := a.queue.Status(ctx, id); err != nil || s.State != StateCompleted {
		t.Errorf("job status with the store's reads all held: %+v %v, want completed", s, err)
	}

	// When it is the queue's own reads that are all held, health is
	// unavailable, and says that reading failed, not committing.
	for range queueReadConns {
		conn, err := a.db.r.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
	}
	if r := a.do(t, http.MethodGet, "/api/health/queues", "", "", nil); r.Status != http.StatusServiceUnavailable || r.str("queue") != publicReadProblem {
		t.Errorf("health with the queue's reads all held: %d %s, want 503 %q", r.Status, r.Raw, publicReadProblem)
	}
}
