package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// DB is the one SQLite file, hookd.db, that holds the queue and, in
// embedded mode, the results. It is opened twice:
//
//   - w has exactly one connection, owned by one writer goroutine. Every
//     write in the process — enqueues, claims, acks, embedded results — is
//     handed to it with Write, and it folds whatever is pending into a
//     single transaction (group commit): one fsync serves many callers,
//     and each caller still waits for the commit of its own write. Writers
//     queue in Go instead of spinning on SQLite's busy lock, and BEGIN
//     IMMEDIATE means a transaction never has to upgrade.
//   - r is a small pool of read-only connections for the queue (health's
//     counts, job status, the workers' scheduling); in WAL mode readers
//     never block the writer nor wait for it.
//   - sr is a second such pool for the embedded store, whose reads can
//     each last seconds (a job analysis over 100,000 candidates, a
//     leaderboard rebuild). Sharing r, five analyses at once had taken
//     every connection, and health, which counts the queues within 2 s,
//     answered 503 "queue cannot commit" while nothing was wrong.
//   - c is one connection that checkpoints the WAL back into the file in
//     the background, so the writer rarely stops to do it.
//
// synchronous=FULL makes every commit fsync the WAL: a commit that returned
// survives a power cut, which is what lets the webhook answer 200. Writes
// that may be lost in a power cut (the queue's claims and acks: a job
// whose claim or outcome is lost runs again, and every handler is
// idempotent) are submitted with WriteUnsynced: the writer commits them in
// a transaction of their own, after the durable writes it holds and
// without waiting for the disk (synchronous=NORMAL). The WAL is written in
// order, so the next durable commit's fsync makes them durable too, and a
// power cut can only lose a suffix of them. Under mixed load, the workers'
// claims and acks had made the writer's transactions, which every webhook
// waits for, longer and more frequent.
//
// The WAL's size is bounded (see runCheckpointer and restartWAL): once a
// background checkpoint finds it holding Tuning.WALRestartBytes, the
// writer, between two transactions, copies the little the checkpoint
// left and makes the next commit start the WAL again from its beginning.
type DB struct {
	Path string

	w  *sql.DB
	r  *sql.DB
	sr *sql.DB
	c  *sql.DB

	ops chan *writeOp
	// Owned by the writer goroutine: see WriteTx.
	prepared   map[string]*sql.Stmt
	unprepared []string
	unsynced   bool // the writer's connection runs synchronous=NORMAL
	durable    []*writeOp
	lazy       []*writeOp
	closing    chan struct{}
	stopped    chan struct{}
	committed  chan struct{} // a commit left frames in the WAL
	restartDue chan struct{} // the WAL has grown past WALRestartBytes
	ckptDone   chan struct{}
	pageSize   int64
	restartAt  int64 // Tuning.WALRestartBytes
	once       sync.Once
	lastErr    atomic.Pointer[string]
	restarts   atomic.Int64 // completed restartWAL calls
}

// ErrClosed is returned by writes submitted after Close.
var ErrClosed = errors.New("hookd.db is closed")

// Tuning holds the settings hookd.db runs with. BENCHMARKS.md, "hookd.db
// settings", gives the measurements that chose the defaults.
type Tuning struct {
	PageSize        int           // bytes; applies when the file is created
	CacheKiB        int           // page cache of each connection
	CheckpointEvery time.Duration // at most one background checkpoint per period
	MaxBatch        int           // writes one transaction folds together at most
	// WALRestartBytes is the WAL size at which the writer pauses to
	// restart the WAL; the file is also cut back to this size afterwards
	// (journal_size_limit).
	WALRestartBytes int64
}

// The read pools' sizes (see DB). The store's bounds how many long reads
// run at once; on two cores more would only take turns.
const (
	queueReadConns = 4
	storeReadConns = 4
)

// DefaultTuning is what OpenDB uses.
var DefaultTuning = Tuning{PageSize: 4096, CacheKiB: 2000, CheckpointEvery: 100 * time.Millisecond, MaxBatch: 1024, WALRestartBytes: 32 << 20}

// writeOp is one caller's part of a group commit.
type writeOp struct {
	apply    func(tx *WriteTx) error
	done     chan error
	unsynced bool // see WriteUnsynced
}

// WriteTx is the writer's transaction, as Write hands it to its callers.
// Each SQL text is prepared once on the writer's connection and reused:
// parsing the same INSERT again for every webhook cost 6% of the accept
// path's CPU. A text seen for the first time runs unprepared and is
// prepared after the transaction ends, when the connection is free
// (database/sql cannot prepare on a connection a transaction holds).
type WriteTx struct {
	tx    *sql.Tx
	db    *DB
	bound map[*sql.Stmt]*sql.Stmt // prepared statement → its form bound to tx
}

// Exec runs a statement that returns no rows.
func (t *WriteTx) Exec(query string, args ...any) (sql.Result, error) {
	if st := t.stmt(query); st != nil {
		return st.Exec(args...)
	}
	return t.tx.Exec(query, args...)
}

// Query runs a statement that returns rows.
func (t *WriteTx) Query(query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(query); st != nil {
		return st.Query(args...)
	}
	return t.tx.Query(query, args...)
}

// QueryRow runs a statement that returns at most one row.
func (t *WriteTx) QueryRow(query string, args ...any) *sql.Row {
	if st := t.stmt(query); st != nil {
		return st.QueryRow(args...)
	}
	return t.tx.QueryRow(query, args...)
}

// stmt binds the prepared statement for query to this transaction, or
// returns nil and notes the query for prepareNew.
func (t *WriteTx) stmt(query string) *sql.Stmt {
	st, ok := t.db.prepared[query]
	if !ok {
		t.db.prepared[query] = nil
		t.db.unprepared = append(t.db.unprepared, query)
	}
	if st == nil {
		return nil
	}
	b, ok := t.bound[st]
	if !ok {
		b = t.tx.Stmt(st)
		t.bound[st] = b
	}
	return b
}

// prepareNew prepares the statements first seen in the last transaction.
// One that fails to prepare stays unprepared: its error shows where it runs.
func (db *DB) prepareNew() {
	for _, query := range db.unprepared {
		if st, err := db.w.Prepare(query); err == nil {
			db.prepared[query] = st
		}
	}
	db.unprepared = db.unprepared[:0]
}

// OpenDB opens (creating if needed) DATA_DIR/hookd.db and brings its
// schema up to date (see migrations.go).
func OpenDB(dataDir string) (*DB, error) { return OpenTunedDB(dataDir, DefaultTuning) }

// OpenTunedDB is OpenDB with other settings, for the benchmarks that
// choose them.
func OpenTunedDB(dataDir string, t Tuning) (*DB, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create DATA_DIR %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, "hookd.db")
	w, err := openSQLite(path, "immediate", false, 1, t)
	if err != nil {
		return nil, err
	}
	if err := migrateSQLite(w, sqliteMigrations); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	pools := []*sql.DB{w}
	closeAll := func() {
		for _, p := range pools {
			p.Close()
		}
	}
	for _, conns := range []int{queueReadConns, storeReadConns} {
		p, err := openSQLite(path, "deferred", true, conns, t)
		if err != nil {
			closeAll()
			return nil, err
		}
		pools = append(pools, p)
	}
	c, err := openSQLite(path, "deferred", false, 1, t)
	if err != nil {
		closeAll()
		return nil, err
	}
	pools = append(pools, c)
	var pageSize int64 // the file's, which may predate Tuning.PageSize
	if err := w.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		closeAll()
		return nil, fmt.Errorf("open %s: read page size: %w", path, err)
	}
	db := &DB{
		w: w, r: pools[1], sr: pools[2], c: c, Path: path,
		ops:        make(chan *writeOp, t.MaxBatch),
		prepared:   make(map[string]*sql.Stmt),
		closing:    make(chan struct{}),
		stopped:    make(chan struct{}),
		committed:  make(chan struct{}, 1),
		restartDue: make(chan struct{}, 1),
		ckptDone:   make(chan struct{}),
		pageSize:   pageSize,
		restartAt:  t.WALRestartBytes,
	}
	go db.runWriter()
	go db.runCheckpointer(t.CheckpointEvery)
	return db, nil
}

// runCheckpointer copies the WAL back into hookd.db after commits, at
// most once per period. SQLite's automatic checkpoint would run inside
// the commit that crosses its threshold, on the writer: 15% of the
// writer's time under load, while the other core sat idle. A PASSIVE
// checkpoint never blocks the writer.
//
// Copying is not enough to bound the WAL. SQLite writes the WAL from its
// beginning again only when a transaction starts with every frame
// already copied, and under steady traffic the writer commits again
// while each checkpoint copies (2–13 ms): measured at 3,300 webhooks/s,
// 78 of 80 checkpoints copied every frame there was when they began, no
// reader held one back, and the WAL still grew by 60 MB a second. So once
// the WAL holds WALRestartBytes, the checkpointer asks the writer for a
// pause between two transactions (restartWAL).
func (db *DB) runCheckpointer(every time.Duration) {
	defer close(db.ckptDone)
	for {
		select {
		case <-db.committed:
		case <-db.closing:
			return
		}
		switch c, err := walCheckpoint(db.c, "PASSIVE"); {
		case err != nil:
			slog.Warn("background checkpoint of hookd.db failed; the WAL grows until one succeeds", "err", err)
		case walFileSize(c.frames, db.pageSize) >= db.restartAt:
			notify(db.restartDue)
		}
		select {
		case <-time.After(every):
		case <-db.closing:
			return
		}
	}
}

// Write runs fn inside the writer's next transaction and returns once that
// transaction has committed, with fn's error or the commit's. fn must only
// use tx, and may run twice: when a shared transaction fails, each of its
// writes is retried in a transaction of its own, so that one bad write
// fails alone. A write that produces a value returns it with WriteResult,
// never through variables fn sets, which a first run would leave behind.
func (db *DB) Write(ctx context.Context, fn func(tx *WriteTx) error) error {
	return db.submit(ctx, &writeOp{apply: fn, done: make(chan error, 1)})
}

// WriteUnsynced is Write for a write that may be lost in a power cut (see
// DB): it returns once committed, without waiting for the disk.
func (db *DB) WriteUnsynced(ctx context.Context, fn func(tx *WriteTx) error) error {
	return db.submit(ctx, &writeOp{apply: fn, done: make(chan error, 1), unsynced: true})
}

func (db *DB) submit(ctx context.Context, op *writeOp) error {
	select {
	case db.ops <- op:
	case <-db.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-op.done:
		return err
	case <-db.stopped:
		// The writer answers every op it took before stopping; one left
		// unanswered was never taken, so it was never committed.
		select {
		case err := <-op.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// WriteResult is Write for a write that produces a value: it returns what
// fn returned in the run whose transaction committed. Runs of one write
// follow each other on the writer goroutine and the committed one is the
// last, so each run's value replaces the one before.
func WriteResult[T any](ctx context.Context, db *DB, fn func(tx *WriteTx) (T, error)) (T, error) {
	return writeResult(ctx, db.Write, fn)
}

// WriteResultUnsynced is WriteResult through WriteUnsynced.
func WriteResultUnsynced[T any](ctx context.Context, db *DB, fn func(tx *WriteTx) (T, error)) (T, error) {
	return writeResult(ctx, db.WriteUnsynced, fn)
}

func writeResult[T any](ctx context.Context, write func(context.Context, func(*WriteTx) error) error, fn func(tx *WriteTx) (T, error)) (T, error) {
	var result T
	err := write(ctx, func(tx *WriteTx) error {
		var err error
		result, err = fn(tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return result, nil
}

// CommitError says why the last commit failed, "" when it succeeded.
// Health turns a non-empty answer into 503.
func (db *DB) CommitError() string {
	if p := db.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

func (db *DB) runWriter() {
	defer close(db.stopped)
	batch := make([]*writeOp, 0, cap(db.ops))
	for {
		select {
		case op := <-db.ops:
			batch = db.collect(append(batch[:0], op))
			db.commitDurableFirst(batch)
			select {
			case <-db.restartDue:
				db.restartWAL("RESTART")
			default:
			}
		case <-db.restartDue:
			// Idle: nothing is waiting, so the file can go entirely.
			db.restartWAL("TRUNCATE")
		case <-db.closing:
			for {
				select {
				case op := <-db.ops:
					db.commitDurableFirst([]*writeOp{op})
				default:
					return
				}
			}
		}
	}
}

// collect adds the writes already waiting, without blocking: whatever
// arrived while the previous transaction was committing rides this one.
func (db *DB) collect(batch []*writeOp) []*writeOp {
	for len(batch) < cap(batch) {
		select {
		case op := <-db.ops:
			batch = append(batch, op)
		default:
			return batch
		}
	}
	return batch
}

// commitDurableFirst commits a batch's durable writes, whose callers wait
// for the disk, then its unsynced ones, in a transaction that does not
// (see DB).
func (db *DB) commitDurableFirst(batch []*writeOp) {
	db.durable, db.lazy = db.durable[:0], db.lazy[:0]
	for _, op := range batch {
		if op.unsynced {
			db.lazy = append(db.lazy, op)
		} else {
			db.durable = append(db.durable, op)
		}
	}
	if len(db.durable) > 0 {
		db.setUnsynced(false)
		db.commit(db.durable)
	}
	if len(db.lazy) > 0 {
		db.setUnsynced(true)
		db.commit(db.lazy)
	}
}

// setUnsynced switches the writer's connection between synchronous=FULL
// and NORMAL. If NORMAL cannot be set, FULL stays: slower, never less
// durable.
func (db *DB) setUnsynced(unsynced bool) {
	if db.unsynced == unsynced {
		return
	}
	mode := "FULL"
	if unsynced {
		mode = "NORMAL"
	}
	if _, err := db.w.Exec(`PRAGMA synchronous = ` + mode); err != nil {
		slog.Warn("set synchronous on hookd.db's writer", "mode", mode, "err", err)
		return
	}
	db.unsynced = unsynced
}

// commit runs a batch in one transaction. If it fails, each write is
// retried alone, so that a bad write does not fail the writes that rode
// with it.
func (db *DB) commit(batch []*writeOp) {
	err := db.runBatch(batch)
	if err != nil && len(batch) > 1 {
		for _, op := range batch {
			err = db.runBatch([]*writeOp{op})
			op.done <- err
		}
	} else {
		for _, op := range batch {
			op.done <- err
		}
	}
	if err != nil {
		msg := err.Error()
		db.lastErr.Store(&msg)
	} else {
		db.lastErr.Store(nil)
	}
}

// checkpointResult is what PRAGMA wal_checkpoint reports.
type checkpointResult struct {
	busy   bool // the checkpoint could not finish: a reader or another checkpoint was in the way
	frames int  // frames in the WAL
	copied int  // of those, copied back into the database file
}

// walCheckpoint runs a checkpoint in mode (PASSIVE, RESTART or TRUNCATE)
// on conn.
func walCheckpoint(conn *sql.DB, mode string) (checkpointResult, error) {
	var c checkpointResult
	err := conn.QueryRow(`PRAGMA wal_checkpoint(`+mode+`)`).Scan(&c.busy, &c.frames, &c.copied)
	if err != nil {
		return c, fmt.Errorf("checkpoint (%s): %w", mode, err)
	}
	return c, nil
}

// walFileSize is the size of a WAL file holding frames pages: a 32-byte
// header, then each page after a 24-byte frame header.
func walFileSize(frames int, pageSize int64) int64 { return 32 + int64(frames)*(24+pageSize) }

// restartWalBusyTimeout is how long restartWAL waits for readers still
// on the WAL. It runs on the writer, so every webhook waits with it; a
// reader that outlasts it (the leaderboard's rebuild reading the store,
// say) delays the restart to the checkpointer's next request instead.
const restartWalBusyTimeout = 10 // milliseconds

// restartWAL checkpoints on the writer's own connection, between two
// transactions: with no commit in flight the checkpoint copies the few
// frames the background one left and, once no reader is on the WAL,
// makes the next commit write the WAL from its beginning. journal_size_limit
// then cuts the file back to WALRestartBytes; TRUNCATE (used when the
// writer is idle) empties it. Measured cost: see BENCHMARKS.md, "WAL".
func (db *DB) restartWAL(mode string) {
	if _, err := db.w.Exec(fmt.Sprintf(`PRAGMA busy_timeout = %d`, restartWalBusyTimeout)); err != nil {
		slog.Warn("restart the WAL of hookd.db: set busy timeout", "err", err)
		return
	}
	c, err := walCheckpoint(db.w, mode)
	if _, rerr := db.w.Exec(`PRAGMA busy_timeout = ` + writerBusyTimeout); rerr != nil {
		err = errors.Join(err, fmt.Errorf("reset busy timeout: %w", rerr))
	}
	switch {
	case err != nil:
		slog.Warn("restart the WAL of hookd.db failed; retried after the next checkpoint", "err", err)
	case c.busy:
		slog.Debug("WAL restart of hookd.db postponed: a reader is still on it", "frames", c.frames, "copied", c.copied)
	default:
		db.restarts.Add(1)
	}
}

// WALRestarts counts the times the writer restarted the WAL.
func (db *DB) WALRestarts() int64 { return db.restarts.Load() }

func (db *DB) runBatch(batch []*writeOp) error {
	defer db.prepareNew()
	tx, err := db.w.Begin()
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	wtx := &WriteTx{tx: tx, db: db, bound: make(map[*sql.Stmt]*sql.Stmt)}
	for _, op := range batch {
		if err := op.apply(wtx); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	notify(db.committed)
	return nil
}

// writerBusyTimeout is how long, in milliseconds, a connection waits for
// a lock another one holds: only ever another process (a `sqlite3`
// shell), or a checkpoint.
const writerBusyTimeout = "10000"

func openSQLite(path, txlock string, readOnly bool, conns int, t Tuning) (*sql.DB, error) {
	q := url.Values{}
	q.Set("_txlock", txlock)
	q.Add("_pragma", "busy_timeout("+writerBusyTimeout+")")
	q.Add("_pragma", fmt.Sprintf("page_size(%d)", t.PageSize)) // before WAL, or it is ignored
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// Savepoints keep their undo pages here: a file would cost a write
	// system call per page (7% of the CPU of a mixed load).
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -t.CacheKiB))
	q.Add("_pragma", "wal_autocheckpoint(0)") // see runCheckpointer
	q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", t.WALRestartBytes))
	if readOnly {
		q.Add("_pragma", "query_only(ON)")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// Close stops the writer once it has committed what it already took,
// checkpoints the WAL into the main file, so that a cleanly stopped
// hookd.db can be copied on its own, and closes the connections.
func (db *DB) Close() error {
	db.once.Do(func() { close(db.closing) })
	<-db.stopped
	<-db.ckptDone
	for _, st := range db.prepared {
		if st != nil { // nil: seen, but it failed to prepare
			st.Close()
		}
	}
	// The final checkpoint waits for readers no longer than restartWAL
	// does: in a `hookd jobs` process, a wait on the running hookd's
	// readers would hold that hookd's writer, and every webhook with it.
	// A WAL left behind is checkpointed by the next process.
	_, cerr := db.w.Exec(fmt.Sprintf(`PRAGMA busy_timeout = %d`, restartWalBusyTimeout))
	if cerr == nil {
		_, cerr = db.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	db.c.Close()
	rerr := errors.Join(db.r.Close(), db.sr.Close())
	werr := db.w.Close()
	if cerr != nil {
		return fmt.Errorf("checkpoint %s: %w", db.Path, cerr)
	}
	if werr != nil {
		return werr
	}
	return rerr
}

// collectRows scans every row with scan and closes rows.
func collectRows[T any](rows *sql.Rows, scan func(func(...any) error) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
