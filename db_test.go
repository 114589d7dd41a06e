package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

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

// A write that rode in a transaction that failed runs again alone; the
// value WriteResult returns is the second run's, whose transaction
// committed, not the first's.
func TestWriteResultComesFromTheCommittedRun(t *testing.T) {
	db, _ := openTestQueue(t, testQueueOptions)
	ctx := context.Background()
	if err := db.Write(ctx, func(tx *WriteTx) error {
		_, err := tx.Exec(`CREATE TABLE runs (n INTEGER)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, db) // the next two writes share the next transaction
	var runs atomic.Int64
	type result struct {
		n   int64
		err error
	}
	counted := make(chan result, 1)
	go func() {
		n, err := WriteResult(ctx, db, func(tx *WriteTx) (int64, error) {
			n := runs.Add(1)
			_, err := tx.Exec(`INSERT INTO runs (n) VALUES (?)`, n)
			return n, err
		})
		counted <- result{n, err}
	}()
	waitQueued(t, db, 1)
	failed := make(chan error, 1)
	go func() { failed <- db.Write(ctx, func(*WriteTx) error { return errors.New("a bad write") }) }()
	waitQueued(t, db, 2)
	release()
	if err := <-failed; err == nil {
		t.Fatal("the bad write succeeded")
	}
	r := <-counted
	if r.err != nil || runs.Load() != 2 || r.n != 2 {
		t.Fatalf("WriteResult returned %d, %v after %d runs; want 2, the committed run's", r.n, r.err, runs.Load())
	}
	if got := queryString(t, inspect(t, db), `SELECT group_concat(n) FROM runs`); got != "2" {
		t.Errorf("rows %q, want only the committed run's", got)
	}
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

// The processingId indexes are keyed by substr(processing_id, -22, 13),
// which must be the id's milliseconds for new ids to land on the indexes'
// last pages. The test reads the key from the indexes' own SQL, then
// evaluates that expression on real ids.
func TestProcessingIDIndexKey(t *testing.T) {
	const key = "substr(processing_id, -22, 13)"
	db, _ := openTestQueue(t, testQueueOptions)
	file := inspect(t, db)
	for _, index := range []string{"queue_jobs_processing_id", "activity_logs_processing_id"} {
		def := queryString(t, file, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`, index)
		if !strings.Contains(def, "("+key+", processing_id)") {
			t.Errorf("index %s is %q, want it keyed by (%s, processing_id)", index, def, key)
		}
	}
	at := time.UnixMilli(1764331200123)
	for _, id := range []string{newProcessingID("activity", "00000000-0000-4000-8000-000000000001", at), newProcessingID("job", "j", at)} {
		if got := queryString(t, file, `SELECT `+key+` FROM (SELECT ? AS processing_id)`, id); got != "1764331200123" {
			t.Errorf("index key of %s is %q, want its milliseconds", id, got)
		}
	}
}

// inspect opens db's file on a connection of its own, as someone looking
// at hookd.db with sqlite3 while hookd runs would.
func inspect(t testing.TB, db *DB) *sql.DB {
	t.Helper()
	return openFile(t, filepath.Dir(db.Path))
}

// holdWriter keeps db's writer busy in a write of its own until release
// is called, so that writes submitted meanwhile queue up and are taken
// together into the next transaction. The test's cleanup releases it too,
// before the database is closed, should the test stop first.
func holdWriter(t testing.TB, db *DB) (release func()) {
	t.Helper()
	inside, held := make(chan struct{}), make(chan struct{})
	release = sync.OnceFunc(func() { close(held) })
	t.Cleanup(release)
	go db.Write(context.Background(), func(*WriteTx) error { close(inside); <-held; return nil })
	<-inside
	return release
}

// waitQueued waits until n writes wait for db's writer, and fails the test
// if they do not within 10 seconds: a write that never queues would
// otherwise hang the test until go test's own timeout.
func waitQueued(t testing.TB, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(db.ops) < n {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s, %d writes are queued, want %d", len(db.ops), n)
		}
		time.Sleep(time.Millisecond)
	}
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

// Writes waiting together are committed durable ones first, with
// synchronous=FULL, then unsynced ones in a transaction of their own,
// with synchronous=NORMAL; a failing unsynced write fails alone.
func TestWriterCommitsDurableWritesFirst(t *testing.T) {
	db, _ := openTestQueue(t, testQueueOptions)
	ctx := context.Background()
	if err := db.Write(ctx, func(tx *WriteTx) error {
		_, err := tx.Exec(`CREATE TABLE seen (n INTEGER PRIMARY KEY, kind TEXT, synchronous INTEGER)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, db) // what comes next waits together
	record := func(kind string) func(tx *WriteTx) error {
		return func(tx *WriteTx) error {
			var sync int
			if err := tx.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil {
				return err
			}
			_, err := tx.Exec(`INSERT INTO seen (kind, synchronous) VALUES (?, ?)`, kind, sync)
			return err
		}
	}
	errs := make(chan error, 5)
	submit := func(unsynced bool, fn func(tx *WriteTx) error) {
		write := db.Write
		if unsynced {
			write = db.WriteUnsynced
		}
		want := len(db.ops) + 1 // counted before the write can land
		go func() { errs <- write(ctx, fn) }()
		waitQueued(t, db, want)
	}
	submit(true, record("unsynced"))
	submit(false, record("durable"))
	submit(true, func(*WriteTx) error { return errors.New("bad write") })
	submit(true, record("unsynced"))
	submit(false, record("durable"))
	release()
	failed := 0
	for range 5 {
		if err := <-errs; err != nil {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d writes failed, want the bad one alone", failed)
	}
	rows, err := inspect(t, db).Query(`SELECT kind || ':' || synchronous FROM seen ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := collectRows(rows, func(scan func(...any) error) (s string, err error) { err = scan(&s); return s, err })
	if err != nil {
		t.Fatal(err)
	}
	// synchronous: 2 is FULL, 1 NORMAL.
	if want := "durable:2 durable:2 unsynced:1 unsynced:1"; strings.Join(got, " ") != want {
		t.Errorf("committed %q, want %q", strings.Join(got, " "), want)
	}
	var sync int
	if err := db.Write(ctx, func(tx *WriteTx) error { return tx.QueryRow(`PRAGMA synchronous`).Scan(&sync) }); err != nil || sync != 2 {
		t.Errorf("a durable write after them ran with synchronous=%d (%v), want 2 (FULL)", sync, err)
	}
}
