package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// DB is the one SQLite file, hookd.db, that holds the queue and, in
// embedded mode, the results. It is opened twice:
//
//   - W has exactly one connection. Every write in the process goes through
//     it, so writers queue up in Go instead of spinning on SQLite's busy
//     lock, and BEGIN IMMEDIATE means a transaction never has to upgrade.
//   - R is a small pool of read-only connections; in WAL mode readers never
//     block the writer nor wait for it.
//
// synchronous=FULL makes every commit fsync the WAL: a commit that returned
// survives a power cut, which is what lets the webhook answer 200.
type DB struct {
	W    *sql.DB
	R    *sql.DB
	Path string
}

// OpenDB opens (creating if needed) DATA_DIR/hookd.db.
func OpenDB(dataDir string) (*DB, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create DATA_DIR %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, "hookd.db")
	w, err := openSQLite(path, "immediate", false, 1)
	if err != nil {
		return nil, err
	}
	r, err := openSQLite(path, "deferred", true, 4)
	if err != nil {
		w.Close()
		return nil, err
	}
	return &DB{W: w, R: r, Path: path}, nil
}

func openSQLite(path, txlock string, readOnly bool, conns int) (*sql.DB, error) {
	q := url.Values{}
	q.Set("_txlock", txlock)
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
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

// Close checkpoints the WAL into the main file, so a cleanly stopped
// hookd.db can be copied on its own, and closes both pools.
func (db *DB) Close() error {
	_, cerr := db.W.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	rerr := db.R.Close()
	werr := db.W.Close()
	if cerr != nil {
		return fmt.Errorf("checkpoint %s: %w", db.Path, cerr)
	}
	if werr != nil {
		return werr
	}
	return rerr
}
