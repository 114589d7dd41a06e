package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// schemaVersion reads hookd.db's PRAGMA user_version.
func schemaVersion(t testing.TB, dataDir string) int {
	t.Helper()
	return queryInt(t, openFile(t, dataDir), `PRAGMA user_version`)
}

// schemaObjects lists the tables, indexes and triggers of a SQLite file.
func schemaObjects(t testing.TB, file *sql.DB) []string {
	t.Helper()
	rows, err := file.Query(`SELECT type || ' ' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := collectRows(rows, func(scan func(...any) error) (s string, err error) {
		err = scan(&s)
		return s, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// A new hookd.db gets every migration, and its version says so.
func TestMigrateNewFile(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v := schemaVersion(t, dir); v != len(sqliteMigrations) || v < 2 {
		t.Errorf("user_version %d, want %d", v, len(sqliteMigrations))
	}
	objects := schemaObjects(t, inspect(t, db))
	for _, want := range []string{"table queue_jobs", "table queue_deliveries", "table activity_logs", "table candidate_skills",
		"index queue_jobs_processing_id", "index activity_logs_processing_id", "trigger candidates_skills_insert", "table offer_skills", "trigger jobs_offer_skills"} {
		if !slices.Contains(objects, want) {
			t.Errorf("a new file lacks %s: %v", want, objects)
		}
	}
	openQueueOn(t, db, testQueueOptions)
	if n := queryInt(t, inspect(t, db), `SELECT count(*) FROM queue_stats`); n != len(Kinds) {
		t.Errorf("%d queue_stats rows, want one per queue", n)
	}
}

// A hookd.db written before migrations were numbered (user_version 0) is
// brought to the current schema with its rows, whichever script made it:
// the first versions', with processing_id UNIQUE on its columns (those
// tables are rebuilt, the column constraints replaced by the ordered
// indexes, uniqueness still enforced), or the last unversioned one's,
// which was migrations 1 and 2 run at every start. A second open changes
// nothing.
func TestMigrateUnversionedFiles(t *testing.T) {
	beforeOrderedIDs, err := os.ReadFile(filepath.Join("testdata", "schema-before-ordered-ids.sql"))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := OpenDB(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := schemaObjects(t, inspect(t, fresh))
	fresh.Close()

	for name, script := range map[string]string{
		"before ordered ids": string(beforeOrderedIDs),
		"last unversioned":   sqliteMigrations[0].sql + sqliteMigrations[1].sql,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			seedUnversionedFile(t, dir, script)
			for open := 1; open <= 2; open++ {
				db, err := OpenDB(dir)
				if err != nil {
					t.Fatalf("open %d: %v", open, err)
				}
				checkUpgradedFile(t, db, want)
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// seedUnversionedFile makes hookd.db in dir with script, as a hookd from
// before numbered migrations did, with two jobs and one logged activity.
func seedUnversionedFile(t *testing.T, dir, script string) {
	t.Helper()
	seed := openFile(t, dir)
	for _, stmt := range []string{script,
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
	if v := queryInt(t, seed, `PRAGMA user_version`); v != 0 {
		t.Fatalf("seeded user_version %d, want 0", v)
	}
	seed.Close()
}

// checkUpgradedFile checks a file seeded by seedUnversionedFile once
// OpenDB has migrated it: the current schema (want: a new file's tables,
// indexes and triggers), the seeded rows, uniqueness by processingId.
func checkUpgradedFile(t *testing.T, db *DB, want []string) {
	t.Helper()
	file := inspect(t, db)
	if v := queryInt(t, file, `PRAGMA user_version`); v != len(sqliteMigrations) {
		t.Errorf("user_version %d, want %d", v, len(sqliteMigrations))
	}
	if got := schemaObjects(t, file); !slices.Equal(got, want) {
		t.Errorf("schema objects\n%v\nwant those of a new file\n%v", got, want)
	}
	for _, table := range []string{"queue_jobs", "activity_logs"} {
		if n := queryInt(t, file, uniqueConstraintSQL, table, "processing_id"); n != 0 {
			t.Errorf("%s keeps %d column constraints", table, n)
		}
	}
	q, store := openQueueOn(t, db, testQueueOptions), OpenSQLiteStore(db)
	st, err := q.Status(context.Background(), "activity-u-1-1764331200000-0a1b2c3d")
	if err != nil || st.State != StateCompleted || string(st.Result) != `{"points":5}` {
		t.Errorf("status %+v, %v", st, err)
	}
	if n := queryInt(t, file, `SELECT count(*) FROM queue_jobs`); n != 2 {
		t.Errorf("%d jobs, want 2", n)
	}
	_, dup, err := enqueueOnce(context.Background(), q, QueueActivityScoring, "", "activity-u-2-1764331200001-0a1b2c3e", []byte(`{}`), time.Now())
	if err != nil || !dup || queryInt(t, file, `SELECT count(*) FROM queue_jobs`) != 2 {
		t.Errorf("a second job with the same processingId: duplicate %v, %v; want the unique index to refuse it", dup, err)
	}
	out, err := store.RecordActivities(context.Background(), []ActivityRecord{{
		ProcessingID: "activity-u-1-1764331200000-0a1b2c3d", UserID: "u-1", Action: "like", Points: 5, At: time.Now()}})
	if err != nil || out[0] != (Recorded{}) {
		t.Errorf("re-recording a logged activity: %+v, %v, want a no-op", out, err)
	}
	if s := queryInt(t, file, `SELECT engagement_score FROM users WHERE id = 'u-1'`); s != 5 {
		t.Errorf("score %d, want 5", s)
	}
}

// A hookd.db migrated by a newer hookd is refused, untouched: this one
// does not know its schema.
func TestOpenRefusesAFileOfANewerHookd(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	newer := len(sqliteMigrations) + 1
	if _, err := openFile(t, dir).Exec(fmt.Sprintf(`PRAGMA user_version = %d`, newer)); err != nil {
		t.Fatal(err)
	}
	_, err = OpenDB(dir)
	if !errors.Is(err, errNewerSchema) || !strings.Contains(err.Error(), fmt.Sprintf("version %d", newer)) {
		t.Fatalf("open a file at version %d: %v, want a refusal naming the version", newer, err)
	}
	if v := schemaVersion(t, dir); v != newer {
		t.Errorf("user_version %d after the refusal, want %d", v, newer)
	}
}

// A migration commits with its version or not at all: a failing one
// leaves the file at the version before it, and the next open takes up
// from there without running the earlier ones again.
func TestSQLiteMigrationCommitsWithItsVersion(t *testing.T) {
	dir := t.TempDir()
	file := openFile(t, dir)
	migrations := []migration{
		{version: 1, name: "0001_a.sql", sql: `CREATE TABLE a (x)`},
		{version: 2, name: "0002_b.sql", sql: `CREATE TABLE b (x); INSERT INTO no_such_table VALUES (1)`},
	}
	err := migrateSQLite(file, migrations)
	if err == nil || !strings.Contains(err.Error(), "0002_b.sql") {
		t.Fatalf("a failing migration: %v, want an error naming it", err)
	}
	if v := queryInt(t, file, `PRAGMA user_version`); v != 1 {
		t.Errorf("user_version %d after migration 2 failed, want 1", v)
	}
	if n := queryInt(t, file, `SELECT count(*) FROM sqlite_master WHERE name = 'b'`); n != 0 {
		t.Error("the failed migration's first statement stayed")
	}
	migrations[1].sql = `CREATE TABLE b (x)`
	if err := migrateSQLite(file, migrations); err != nil { // CREATE TABLE a again would fail
		t.Fatalf("the fixed migration: %v", err)
	}
	if v := queryInt(t, file, `PRAGMA user_version`); v != 2 {
		t.Errorf("user_version %d, want 2", v)
	}
}

// Migration files are numbered 0001, 0002… with no gap and no repeat.
func TestLoadMigrations(t *testing.T) {
	files := func(names ...string) fstest.MapFS {
		fsys := fstest.MapFS{}
		for _, n := range names {
			fsys["m/"+n] = &fstest.MapFile{Data: []byte("-- " + n)}
		}
		return fsys
	}
	got, err := loadMigrations(files("0002_b.sql", "0001_a.sql", "0003_c.sql"), "m")
	if err != nil || len(got) != 3 {
		t.Fatalf("%v, %v", got, err)
	}
	for i, m := range got {
		if m.version != i+1 || m.sql != "-- "+m.name || !strings.HasPrefix(m.name, fmt.Sprintf("%04d_", i+1)) {
			t.Errorf("migration %d: %+v", i+1, m)
		}
	}
	for _, bad := range [][]string{
		{"0001_a.sql", "0003_c.sql"},
		{"0001_a.sql", "0001_b.sql"},
		{"0002_b.sql"},
		{"1_a.sql"},
		{"0001-a.sql"},
		{"0001_a.txt"},
	} {
		if _, err := loadMigrations(files(bad...), "m"); err == nil {
			t.Errorf("%v loaded", bad)
		}
	}
}

// pgVersions lists the versions recorded in hookd.schema_migrations.
func pgVersions(t testing.TB, dbURL string) string {
	t.Helper()
	var s *string
	err := connect(t, dbURL).QueryRow(context.Background(),
		`SELECT string_agg(version::text, ',' ORDER BY version) FROM hookd.schema_migrations`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return ""
	}
	return *s
}

// allPostgresVersions is what pgVersions reads once every migration ran.
func allPostgresVersions() string {
	v := make([]string, len(postgresMigrations))
	for i := range v {
		v[i] = fmt.Sprint(i + 1)
	}
	return strings.Join(v, ",")
}

// A database that an older hookd migrated (its script run as is, no
// schema hookd) is taken up as it stands: migration 1 changes nothing
// there and is recorded, the later ones run, and it ends up with the
// schema of a new database, rows kept.
func TestPostgresMigrateUpgradesUnversionedDatabase(t *testing.T) {
	dbURL := freshDatabase(t)
	c := connect(t, dbURL)
	pgExec(t, c, postgresMigrations[0].sql)
	users := insertUsers(t, c, 1)
	pgExec(t, c, `INSERT INTO activity_logs (user_id, action, points_earned, processing_id) VALUES ($1, 'like', 5, 'p-1')`, users[0])
	if err := runMigrate(context.Background(), dbURL, io.Discard); err != nil {
		t.Fatal(err)
	}
	fresh := schemaSnapshot(t, connect(t, migratedDatabase(t)))
	if upgraded := schemaSnapshot(t, c); upgraded != fresh {
		t.Errorf("an upgraded database differs from a new one:\n%s\n---\n%s", upgraded, fresh)
	}
	if v := pgVersions(t, dbURL); v != allPostgresVersions() {
		t.Errorf("versions recorded %q, want %q", v, allPostgresVersions())
	}
	if n := pgInt(t, c, `SELECT count(*) FROM activity_logs WHERE processing_id = 'p-1'`); n != 1 {
		t.Errorf("%d activity logs kept, want 1", n)
	}
}

// Deploys that migrate at the same time: one applies each migration, the
// others wait for it and find it done.
func TestPostgresConcurrentMigrates(t *testing.T) {
	dbURL := freshDatabase(t)
	const runs = 4
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() { errs[i] = runMigrate(context.Background(), dbURL, io.Discard) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate %d: %v", i, err)
		}
	}
	if v := pgVersions(t, dbURL); v != allPostgresVersions() {
		t.Errorf("versions recorded %q, want each once: %q", v, allPostgresVersions())
	}
}

// A database migrated by a newer hookd is refused and left as it is.
func TestPostgresMigrateRefusesANewerDatabase(t *testing.T) {
	dbURL := migratedDatabase(t)
	newer := len(postgresMigrations) + 1
	pgExec(t, connect(t, dbURL), `INSERT INTO hookd.schema_migrations (version) VALUES ($1)`, newer)
	pg, err := OpenPostgres(dbURL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	_, err = pg.Migrate(context.Background())
	if !errors.Is(err, errNewerSchema) || !strings.Contains(err.Error(), fmt.Sprintf("version %d", newer)) {
		t.Fatalf("migrate a database at version %d: %v, want a refusal naming the version", newer, err)
	}
	if v := pgVersions(t, dbURL); v != allPostgresVersions()+fmt.Sprintf(",%d", newer) {
		t.Errorf("versions %q after the refusal", v)
	}
}
