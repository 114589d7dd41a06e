package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A hookd.db written by an earlier version, with processing_id UNIQUE on
// its columns, is rebuilt at open: rows kept, the column constraints
// replaced by the ordered indexes, uniqueness still enforced, and a second
// open changes nothing.
func TestApplySchemaRebuildsOldUniqueConstraints(t *testing.T) {
	dir := t.TempDir()
	old, err := os.ReadFile(filepath.Join("testdata", "schema-before-ordered-ids.sql"))
	if err != nil {
		t.Fatal(err)
	}
	seed := openFile(t, dir)
	for _, stmt := range []string{string(old),
		`INSERT INTO queue_jobs (processing_id, queue, state, payload, max_attempts, run_at, received_at, result)
		 VALUES ('activity-u-1-1764331200000-0a1b2c3d', 'activity-scoring', 'completed', '{}', 3, 1, 1764331200000, '{"points":5}'),
		        ('activity-u-2-1764331200001-0a1b2c3e', 'activity-scoring', 'waiting', '{}', 3, 2, 1764331200001, NULL)`,
		`INSERT INTO users (id, created_at, engagement_score) VALUES ('u-1', '2026-11-28T12:00:00.000Z', 5)`,
		`INSERT INTO activity_logs (id, user_id, action, points_earned, processing_id, created_at)
		 VALUES ('log-1', 'u-1', 'like', 5, 'activity-u-1-1764331200000-0a1b2c3d', '2026-11-28T12:00:00.000Z')`,
	} {
		if _, err := seed.Exec(stmt); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	seed.Close()

	for open := 1; open <= 2; open++ {
		db, q, store := openQueueAndStore(t, dir)
		for table := range map[string]bool{"queue_jobs": true, "activity_logs": true} {
			var n int
			if err := inspect(t, db).QueryRow(uniqueConstraintSQL, table, "processing_id").Scan(&n); err != nil || n != 0 {
				t.Errorf("open %d: %s keeps %d column constraints (%v)", open, table, n, err)
			}
			if n := queryInt(t, inspect(t, db), `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?`, table+"_processing_id"); n != 1 {
				t.Errorf("open %d: no %s_processing_id index", open, table)
			}
		}
		st, err := q.Status(context.Background(), "activity-u-1-1764331200000-0a1b2c3d")
		if err != nil || st.State != StateCompleted || string(st.Result) != `{"points":5}` {
			t.Errorf("open %d: status %+v, %v", open, st, err)
		}
		if n := queryInt(t, inspect(t, db), `SELECT count(*) FROM queue_jobs`); n != 2 {
			t.Errorf("open %d: %d jobs, want 2", open, n)
		}
		err = q.Enqueue(context.Background(), QueueActivity, "activity-u-2-1764331200001-0a1b2c3e", []byte(`{}`), time.Now())
		if err == nil || !strings.Contains(err.Error(), "UNIQUE") {
			t.Errorf("open %d: a second job with the same processingId: %v, want a UNIQUE error", open, err)
		}
		out, err := store.RecordActivities(context.Background(), []ActivityRecord{{
			ProcessingID: "activity-u-1-1764331200000-0a1b2c3d", UserID: "u-1", Action: "like", Points: 5, At: time.Now()}})
		if err != nil || out[0] != (ActivityOutcome{}) {
			t.Errorf("open %d: re-recording a logged activity: %+v, %v, want a no-op", open, out, err)
		}
		if s := queryInt(t, inspect(t, db), `SELECT engagement_score FROM users WHERE id = 'u-1'`); s != 5 {
			t.Errorf("open %d: score %d, want 5", open, s)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Looking a job up by processingId reads the index, not the table.
func TestStatusLookupUsesTheIndex(t *testing.T) {
	db, _ := openTestQueue(t, testQueueOptions)
	rows, err := inspect(t, db).Query(`EXPLAIN QUERY PLAN `+statusSQL, "activity-u-1-1764331200000-0a1b2c3d")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if got := strings.Join(plan, "; "); !strings.Contains(got, "USING INDEX queue_jobs_processing_id") {
		t.Errorf("plan %q does not use queue_jobs_processing_id", got)
	}
}

func openQueueAndStore(t *testing.T, dir string) (*DB, *Queue, *SQLiteStore) {
	t.Helper()
	db, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	q, err := OpenQueue(db, testQueueOptions)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	store, err := OpenSQLiteStore(db)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return db, q, store
}

// A statement that fails (and so fails to prepare) does not break Close.
func TestCloseAfterAStatementFailedToPrepare(t *testing.T) {
	db, err := OpenDB(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = db.Write(context.Background(), func(tx *WriteTx) error {
		_, err := tx.Exec(`INSERT INTO no_such_table VALUES (1)`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("write into a missing table: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// The processingId indexes are keyed by substr(id, -22, 13), which must be
// the id's milliseconds for new ids to land on the indexes' last pages.
func TestProcessingIDIndexKey(t *testing.T) {
	db, _ := openTestQueue(t, testQueueOptions)
	at := time.UnixMilli(1764331200123)
	for _, id := range []string{newProcessingID("activity", "00000000-0000-4000-8000-000000000001", at), newProcessingID("job", "j", at)} {
		if key := queryString(t, inspect(t, db), `SELECT substr(?, -22, 13)`, id); key != "1764331200123" {
			t.Errorf("index key of %s is %q, want its milliseconds", id, key)
		}
	}
}

// inspect opens db's file on a connection of its own, as someone looking
// at hookd.db with sqlite3 while hookd runs would.
func inspect(t testing.TB, db *DB) *sql.DB {
	t.Helper()
	return openFile(t, filepath.Dir(db.Path))
}

// setWriterReadOnly makes every write through db fail, as a full or
// read-only disk would (on), or lets them succeed again (off). The writer
// has exactly one connection, and query_only is a setting of the
// connection.
func setWriterReadOnly(t testing.TB, db *DB, on bool) {
	t.Helper()
	if _, err := db.w.Exec(fmt.Sprintf(`PRAGMA query_only = %t`, on)); err != nil {
		t.Fatal(err)
	}
}
