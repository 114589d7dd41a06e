package main

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// hookd's two schemas, hookd.db's and its part of Postgres, change by
// numbered migrations: migrations/sqlite/NNNN_what.sql and
// migrations/postgres/NNNN_what.sql, built into the binary. Each runs
// once, in order, in a transaction of its own that also records its
// number, so a database is never left half migrated. A released
// migration is never edited: to change a schema, add the next number.
// SQLite cannot drop a column or a constraint in place, so a non-additive
// change to hookd.db rebuilds the table in its file (create the new
// table, copy the rows, drop the old one, rename, create the indexes).
//
//   - hookd.db records its version in PRAGMA user_version and is migrated
//     by OpenDB, before the writer starts. The queue and the embedded
//     store's tables are one sequence, applied in Postgres mode too
//     (the store's tables then stay empty): one file, one version.
//   - Postgres records each version applied in hookd.schema_migrations,
//     and is migrated by `hookd migrate` only: hookd itself never changes
//     the app's database, it checks the columns it needs (CheckSchema).
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

var (
	sqliteMigrations   = mustLoadMigrations(migrationFiles, "migrations/sqlite")
	postgresMigrations = mustLoadMigrations(migrationFiles, "migrations/postgres")
)

// migration is one numbered schema change.
type migration struct {
	version int
	name    string // its file's name, for messages
	sql     string
}

// loadMigrations reads dir's NNNN_what.sql files in order. Their numbers
// must run 1, 2, 3… with no gap and no repeat: a database's version then
// names exactly the migrations it has had.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries { // ReadDir sorts by name
		number, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(number)
		if !ok || err != nil || len(number) != 4 || path.Ext(e.Name()) != ".sql" {
			return nil, fmt.Errorf("migration %s/%s: want a name like 0001_what.sql", dir, e.Name())
		}
		if version != len(out)+1 {
			return nil, fmt.Errorf("migration %s/%s: number %d comes after %d, want %d", dir, e.Name(), version, len(out), len(out)+1)
		}
		text, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: version, name: e.Name(), sql: string(text)})
	}
	return out, nil
}

func mustLoadMigrations(fsys fs.FS, dir string) []migration {
	m, err := loadMigrations(fsys, dir)
	if err != nil {
		panic(err)
	}
	return m
}

// errNewerSchema marks a database migrated by a newer hookd than this one.
var errNewerSchema = errors.New("the schema is newer than this hookd")

// migrateSQLite brings hookd.db up to the last of migrations, one
// transaction per migration on conn, the writer's connection (so BEGIN
// IMMEDIATE). A file of a newer hookd is refused rather than run with a
// schema this one does not know.
func migrateSQLite(conn *sql.DB, migrations []migration) error {
	var version int
	if err := conn.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("%w: hookd.db is at version %d and this hookd knows versions up to %d; run the newer hookd that wrote it, or restore a backup",
			errNewerSchema, version, len(migrations))
	}
	for _, m := range migrations[version:] {
		if err := applySQLiteMigration(conn, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// user_version takes no parameter: the number is written into the text.
const setUserVersionSQL = `PRAGMA user_version = %d`

func applySQLiteMigration(conn *sql.DB, m migration) error {
	tx, err := conn.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rebuild, err := setAsideUnversionedTable(tx, m.version)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(m.sql); err != nil {
		return err
	}
	if rebuild != "" {
		if err := restoreRows(tx, rebuild); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(fmt.Sprintf(setUserVersionSQL, m.version)); err != nil {
		return err
	}
	return tx.Commit()
}

// unversionedRebuilds names the table, by the migration that creates it,
// that a file made before migrations were numbered (user_version 0) may
// hold in an older shape: the first hookd versions declared processing_id
// UNIQUE on the column, where migrations 1 and 2 declare the uniqueness
// as a time-ordered index, and SQLite cannot drop a column's constraint
// in place. Such a table is rebuilt, rows kept, in the migration's own
// transaction. Only migrations 1 and 2 can meet such a file: a later
// change to these tables is a migration file like any other.
var unversionedRebuilds = map[int]string{1: "queue_jobs", 2: "activity_logs"}

// Counts the single-column UNIQUE constraints of table ?1 on column ?2.
const uniqueConstraintSQL = `
SELECT count(*) FROM pragma_index_list(?1) AS l
WHERE l.origin = 'u' AND (SELECT group_concat(name) FROM pragma_index_info(l.name)) = ?2`

// setAsideUnversionedTable renames the table migration version would
// rebuild, if it has the old constraint, to <table>_old and drops its
// indexes, whose names the migration is about to use again. It returns
// the table's name, or "" when there is nothing to rebuild.
func setAsideUnversionedTable(tx *sql.Tx, version int) (string, error) {
	table, ok := unversionedRebuilds[version]
	if !ok {
		return "", nil
	}
	var n int
	if err := tx.QueryRow(uniqueConstraintSQL, table, "processing_id").Scan(&n); err != nil {
		return "", fmt.Errorf("inspect %s: %w", table, err)
	}
	if n == 0 {
		return "", nil
	}
	rows, err := tx.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, table)
	if err != nil {
		return "", fmt.Errorf("rebuild %s: %w", table, err)
	}
	indexes, err := collectRows(rows, func(scan func(...any) error) (name string, err error) {
		err = scan(&name)
		return name, err
	})
	if err != nil {
		return "", fmt.Errorf("rebuild %s: %w", table, err)
	}
	for _, name := range indexes {
		if _, err := tx.Exec(`DROP INDEX "` + name + `"`); err != nil {
			return "", fmt.Errorf("rebuild %s: %w", table, err)
		}
	}
	if _, err := tx.Exec(`ALTER TABLE ` + table + ` RENAME TO ` + table + `_old`); err != nil {
		return "", fmt.Errorf("rebuild %s: %w", table, err)
	}
	return table, nil
}

// restoreRows copies the rows of <table>_old into the table the migration
// created, then drops <table>_old.
func restoreRows(tx *sql.Tx, table string) error {
	if _, err := tx.Exec(`INSERT INTO ` + table + ` SELECT * FROM ` + table + `_old`); err != nil {
		return fmt.Errorf("rebuild %s: copy rows: %w", table, err)
	}
	if _, err := tx.Exec(`DROP TABLE ` + table + `_old`); err != nil {
		return fmt.Errorf("rebuild %s: %w", table, err)
	}
	return nil
}

// The advisory lock serializes concurrent `hookd migrate` runs (two
// deploys at once): the second waits, then finds the migration recorded.
// It is taken per transaction and released by its commit or rollback, so
// it works through PgBouncer or Supavisor in transaction mode, where a
// session lock could be taken on one server connection and released on
// another. The key is "hookd" in ASCII.
const migrateLockSQL = `SELECT pg_advisory_xact_lock(448546171748)`

// The version table is hookd's own; created under the lock, since two
// concurrent CREATE ... IF NOT EXISTS can both try to create it.
const migrationsTableSQL = `
CREATE SCHEMA IF NOT EXISTS hookd;
CREATE TABLE IF NOT EXISTS hookd.schema_migrations (
  version    integer PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
)`

const postgresVersionSQL = `SELECT coalesce(max(version), 0) FROM hookd.schema_migrations`

const recordMigrationSQL = `INSERT INTO hookd.schema_migrations (version) VALUES ($1)`

// migratePostgres applies the migrations the database lacks, in order,
// each in its own transaction, and returns the names of those it applied.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, migrations []migration) ([]string, error) {
	var applied []string
	for {
		name, err := applyNextPostgresMigration(ctx, pool, migrations)
		if err != nil || name == "" {
			return applied, err
		}
		applied = append(applied, name)
	}
}

// applyNextPostgresMigration applies the first migration the database
// lacks, in one transaction with its version row, and returns its name,
// "" when there was none left.
func applyNextPostgresMigration(ctx context.Context, pool *pgxpool.Pool, migrations []migration) (string, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, migrateLockSQL); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	// Several statements in one text go by the simple protocol.
	if _, err := tx.Exec(ctx, migrationsTableSQL, pgx.QueryExecModeSimpleProtocol); err != nil {
		return "", fmt.Errorf("create hookd.schema_migrations: %w", err)
	}
	var version int
	if err := tx.QueryRow(ctx, postgresVersionSQL).Scan(&version); err != nil {
		return "", fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return "", fmt.Errorf("%w: the database is at version %d and this hookd knows versions up to %d; migrate with the newer hookd",
			errNewerSchema, version, len(migrations))
	}
	if version == len(migrations) {
		return "", tx.Commit(ctx)
	}
	m := migrations[version]
	if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		return "", fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.Exec(ctx, recordMigrationSQL, m.version); err != nil {
		return "", fmt.Errorf("migration %s: record it: %w", m.name, err)
	}
	return m.name, tx.Commit(ctx)
}
