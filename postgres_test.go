package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The Postgres tests need TEST_DATABASE_URL (CI sets it, once straight to
// Postgres and once through PgBouncer in transaction mode). Each test gets
// a database of its own holding the app's fixture schema.

//go:embed testdata/supabase_app_schema.sql
var appFixture string

// TestMain says once, where a developer sees it, that the Postgres tests
// will skip. `go test ./...` shows a passing package's output only with
// -v, so the notice goes to the terminal itself when there is one.
func TestMain(m *testing.M) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		notice := "hookd: the Postgres tests skip: set TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them (.ci/run does)\n"
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			tty.WriteString(notice)
			tty.Close()
		} else {
			os.Stderr.WriteString(notice)
		}
	}
	os.Exit(m.Run())
}

func testDatabaseURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Skip("TEST_DATABASE_URL is not set: the Postgres tests need a server, e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable (.ci/run sets it)")
	}
	return base
}

// freshDatabase creates an empty database with the app's tables and
// returns its URL; the database is dropped when the test ends.
func freshDatabase(t testing.TB) string {
	t.Helper()
	base := testDatabaseURL(t)
	var b [6]byte
	rand.Read(b[:])
	name := "hookd_test_" + hex.EncodeToString(b[:])
	admin := connect(t, base)
	pgExec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), withSimpleProtocol(base))
		if err == nil {
			c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	pgExec(t, connect(t, u.String()), appFixture)
	return u.String()
}

// migratedDatabase is freshDatabase plus `hookd migrate`.
func migratedDatabase(t testing.TB) string {
	t.Helper()
	dbURL := freshDatabase(t)
	if err := runMigrate(context.Background(), dbURL, io.Discard); err != nil {
		t.Fatal(err)
	}
	return dbURL
}

func withSimpleProtocol(dbURL string) string {
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	return dbURL + sep + "default_query_exec_mode=simple_protocol"
}

func connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), withSimpleProtocol(dbURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func pgExec(t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func pgInt(t testing.TB, c *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n *int64
	if err := c.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if n == nil {
		return 0
	}
	return int(*n)
}

func schemaSnapshot(t testing.TB, c *pgx.Conn) string {
	t.Helper()
	var s string
	err := c.QueryRow(context.Background(), `
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
  SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || coalesce(column_default, '') AS x
  FROM information_schema.columns WHERE table_schema = 'public'
  UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
) s`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A fresh database gets every migration, recorded; a second migrate
// changes nothing, not even the record.
func TestPostgresMigrateTwice(t *testing.T) {
	dbURL := freshDatabase(t)
	c := connect(t, dbURL)
	before := schemaSnapshot(t, c)
	var said strings.Builder
	if err := runMigrate(context.Background(), dbURL, &said); err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	var names []string
	for _, m := range postgresMigrations {
		names = append(names, m.name)
	}
	if want := "applied " + strings.Join(names, ", ") + "\n"; !strings.Contains(said.String(), want) {
		t.Errorf("the first migrate says %q, want the migrations it applied: %q", said.String(), want)
	}
	once := schemaSnapshot(t, c)
	if once == before {
		t.Fatal("the first migrate changed nothing")
	}
	if v := pgVersions(t, dbURL); v != allPostgresVersions() {
		t.Errorf("versions recorded %q, want %q", v, allPostgresVersions())
	}
	const appliedSQL = `SELECT string_agg(applied_at::text, ',' ORDER BY version) FROM hookd.schema_migrations`
	var applied, reapplied string
	if err := c.QueryRow(context.Background(), appliedSQL).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	said.Reset()
	if err := runMigrate(context.Background(), dbURL, &said); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if !strings.Contains(said.String(), "nothing to apply") {
		t.Errorf("the second migrate says %q, want nothing applied", said.String())
	}
	if twice := schemaSnapshot(t, c); twice != once {
		t.Errorf("the second migrate changed the schema:\n%s\n---\n%s", once, twice)
	}
	if err := c.QueryRow(context.Background(), appliedSQL).Scan(&reapplied); err != nil || reapplied != applied {
		t.Errorf("the second migrate applied again: %s, then %s (%v)", applied, reapplied, err)
	}
	for _, table := range []string{"job_matches", "activity_logs"} {
		if pgInt(t, c, `SELECT count(*) FROM information_schema.tables WHERE table_name = $1`, table) != 1 {
			t.Errorf("table %s missing after migrate", table)
		}
	}
	if pgInt(t, c, `SELECT count(*) FROM pg_indexes WHERE tablename = 'candidates' AND indexdef LIKE '%USING gin (skills)%'`) != 1 {
		t.Error("no GIN index on candidates.skills")
	}
}

func TestPostgresMigrateWithoutAppTablesFails(t *testing.T) {
	base := testDatabaseURL(t)
	var b [6]byte
	rand.Read(b[:])
	name := "hookd_test_" + hex.EncodeToString(b[:])
	pgExec(t, connect(t, base), "CREATE DATABASE "+name)
	t.Cleanup(func() { pgExec(t, connect(t, base), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, _ := url.Parse(base)
	u.Path = "/" + name
	err := runMigrate(context.Background(), u.String(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "must exist first") {
		t.Fatalf("migrate on an empty database: %v, want a failure saying the app's tables must exist", err)
	}
	if n := pgInt(t, connect(t, u.String()), `SELECT count(*) FROM information_schema.tables WHERE table_schema IN ('public', 'hookd')`); n != 0 {
		t.Errorf("a failed migrate left %d tables behind: it must run in one transaction", n)
	}
}

func TestPostgresStartAgainstUnmigratedDatabaseFails(t *testing.T) {
	dbURL := freshDatabase(t)
	cfg, err := LoadConfig(testEnv(t, map[string]string{"DATABASE_URL": dbURL}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenApp(context.Background(), cfg, testLogger())
	if err == nil {
		t.Fatal("hookd started against a database without its columns")
	}
	for _, want := range []string{"hookd migrate", "jobs.analysis_completed", "activity_logs.processing_id"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start error %q does not name %q", err, want)
		}
	}
}

func startPostgresApp(t testing.TB, dbURL string, overrides map[string]string) *testApp {
	t.Helper()
	env := map[string]string{"DATABASE_URL": dbURL}
	for k, v := range overrides {
		env[k] = v
	}
	return startApp(t, env)
}

const (
	userA = "00000000-0000-4000-8000-00000000000a"
	jobGo = "10000000-0000-4000-8000-000000000001"
	postA = "20000000-0000-4000-8000-000000000001"
)

func TestPostgresRejectsNonUUIDs(t *testing.T) {
	a := startPostgresApp(t, migratedDatabase(t), nil)
	for _, c := range []struct{ path, body, field string }{
		{"/api/jobs/analyze", `{"jobId":"job-123","title":"t"}`, "jobId"},
		{"/api/posts/moderate", `{"postId":"post-1","content":"hello"}`, "postId"},
		{"/api/posts/moderate", `{"postId":"` + postA + `","content":"hello","userId":"user-1"}`, "userId"},
		{"/api/activity/score", `{"userId":"user-1","action":"like"}`, "userId"},
	} {
		r := a.post(t, c.path, c.body)
		if r.Status != http.StatusBadRequest || !strings.HasPrefix(r.str("error"), c.field+": must be a UUID") {
			t.Errorf("%s %s: %d %s, want 400 naming %s", c.path, c.body, r.Status, r.Raw, c.field)
		}
	}
	// targetId and company_id are free text.
	a.mustAccept(t, "/api/activity/score", `{"userId":"`+userA+`","action":"view","targetId":"post-1"}`)
	counts, _ := a.queue.Counts(context.Background())
	if n := counts[QueueJobAnalysis].Waiting + counts[QueuePostModeration].Waiting; n != 0 {
		t.Errorf("%d rejected webhooks were queued", n)
	}
}

// The match scores against Postgres, with four candidates: one per case.
func TestPostgresJobAnalysis(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	pgExec(t, c, `INSERT INTO jobs (id, title, location, required_skills, experience_level) VALUES ($1, 'Backend engineer', 'Paris, France', '{Go,PostgreSQL,Docker,Kubernetes}', 'Senior')`, jobGo)
	pgExec(t, c, `INSERT INTO candidates (id, skills, experience_level, location) VALUES
	 ('c0000000-0000-4000-8000-000000000100', '{golang,Postgres,Docker,Kubernetes}', 'Senior', 'Paris'),
	 ('c0000000-0000-4000-8000-000000000045', '{Go,PostgreSQL}', 'Mid', 'Lyon'),
	 ('c0000000-0000-4000-8000-000000000038', '{Go}', 'Lead', 'Remote'),
	 ('c0000000-0000-4000-8000-000000000000', '{Java}', 'Senior', 'Paris')`)
	a := startPostgresApp(t, dbURL, nil)
	body := `{"jobId":"` + jobGo + `","title":"Backend engineer","location":"Paris, France",
		"requiredSkills":["Go","PostgreSQL","Docker","Kubernetes"],"experienceLevel":"Senior"}`
	for run := 1; run <= 2; run++ {
		id := a.mustAccept(t, "/api/jobs/analyze", body)
		a.waitDrained(t)
		if s := a.status(t, id); s.State != StateCompleted {
			t.Fatalf("run %d: %+v", run, s)
		}
		rows, err := c.Query(context.Background(), `SELECT right(candidate_id::text, 3), match_score FROM job_matches WHERE job_id = $1 ORDER BY 2 DESC`, jobGo)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			var id string
			var score int
			err := r.Scan(&id, &score)
			return fmt.Sprintf("%s=%d", id, score), err
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, " ") != "100=100 045=45" {
			t.Fatalf("run %d: matches %v, want 100=100 045=45 (38 is below 40, Java shares nothing)", run, got)
		}
	}
	var done bool
	var count int
	var skills []string
	err := c.QueryRow(context.Background(), `SELECT analysis_completed, candidates_count, extracted_skills FROM jobs WHERE id = $1`, jobGo).Scan(&done, &count, &skills)
	if err != nil || !done || count != 2 || strings.Join(skills, ",") != "Docker,Go,Kubernetes,PostgreSQL" {
		t.Errorf("job row: done=%v count=%d skills=%v err=%v", done, count, skills, err)
	}
	var matched []string
	if err := c.QueryRow(context.Background(), `SELECT matched_skills FROM job_matches WHERE match_score = 45`).Scan(&matched); err != nil || strings.Join(matched, ",") != "Go,PostgreSQL" {
		t.Errorf("matched_skills %v %v", matched, err)
	}
}

func TestPostgresMissingRowsFailPermanently(t *testing.T) {
	a := startPostgresApp(t, migratedDatabase(t), map[string]string{"JOB_ATTEMPTS": "5"})
	ids := []string{
		a.mustAccept(t, "/api/jobs/analyze", `{"jobId":"`+jobGo+`","title":"Ghost job","requiredSkills":["Go"]}`),
		a.mustAccept(t, "/api/posts/moderate", `{"postId":"`+postA+`","content":"hello"}`),
		a.mustAccept(t, "/api/activity/score", `{"userId":"`+userA+`","action":"like"}`),
	}
	a.waitDrained(t)
	for i, want := range []string{"job " + jobGo + " not found", "post " + postA + " not found", "user " + userA + " not found"} {
		s := a.status(t, ids[i])
		if s.State != StateFailed || s.Attempts != 1 || s.LastError == nil || !strings.Contains(*s.LastError, want) {
			t.Errorf("%s: %+v (%v), want failed after one attempt naming %q", ids[i], s, deref(s.LastError), want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestPostgresActivityAndModeration(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	pgExec(t, c, `INSERT INTO users (id, email) VALUES ($1, 'a@example.com')`, userA)
	pgExec(t, c, `INSERT INTO posts (id, user_id, content) VALUES ($1, $2, 'Free money, click here')`, postA, userA)
	a := startPostgresApp(t, dbURL, nil)
	like := a.mustAccept(t, "/api/activity/score", `{"userId":"`+userA+`","action":"like","targetId":"`+postA+`","targetType":"post","occurredAt":"2024-01-15T23:30:00+01:00"}`)
	a.mustAccept(t, "/api/activity/score", `{"userId":"`+userA+`","action":"comment","targetId":"`+postA+`","targetType":"post","occurredAt":"2024-01-16T12:00:00+01:00"}`)
	a.mustAccept(t, "/api/posts/moderate", `{"postId":"`+postA+`","content":"Free money, click here","userId":"`+userA+`"}`)
	a.waitDrained(t)
	check := func(when string) {
		if n := pgInt(t, c, `SELECT count(*) FROM activity_logs WHERE user_id = $1`, userA); n != 2 {
			t.Errorf("%s: %d logs, want 2", when, n)
		}
		if s := pgInt(t, c, `SELECT engagement_score FROM users WHERE id = $1`, userA); s != 18 {
			t.Errorf("%s: engagement_score %d, want 18", when, s)
		}
	}
	check("after the drain")
	var last time.Time
	if err := c.QueryRow(context.Background(), `SELECT last_activity_at FROM users WHERE id = $1`, userA).Scan(&last); err != nil || !last.Equal(time.Date(2024, 1, 16, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("last_activity_at %v %v", last, err)
	}
	out, err := a.store.RecordActivities(context.Background(), []ActivityRecord{{ProcessingID: like, UserID: userA, Action: "like", Points: 8, At: time.Now()}})
	if err != nil || out[0] != (Recorded{}) {
		t.Fatalf("re-run of %s: %+v err=%v, want a no-op", like, out, err)
	}
	check("after a re-run")

	var flagged bool
	var status, reason string
	err = c.QueryRow(context.Background(), `SELECT is_flagged, moderation_status, flag_reason FROM posts WHERE id = $1 AND moderated_at IS NOT NULL`, postA).Scan(&flagged, &status, &reason)
	if err != nil || !flagged || status == StatusApproved || !strings.Contains(reason, "spam") {
		t.Errorf("post: flagged=%v status=%q reason=%q err=%v", flagged, status, reason, err)
	}
}

// tcpProxy stands between hookd and Postgres so a test can cut the line.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	up     bool
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, up: true, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

func (p *tcpProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		up := p.up
		p.mu.Unlock()
		if !up {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns[client], p.conns[server] = true, true
		p.mu.Unlock()
		go func() { io.Copy(server, client); server.Close() }()
		go func() { io.Copy(client, server); client.Close() }()
	}
}

// cut closes every open connection and refuses new ones until restore.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = false
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	p.up = true
	p.mu.Unlock()
}

// viaProxy rewrites a database URL to go through the proxy.
func viaProxy(t *testing.T, dbURL string) (*tcpProxy, string) {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	return p, u.String()
}

func insertUsers(t testing.TB, c *pgx.Conn, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
	}
	pgExec(t, c, `INSERT INTO users (id) SELECT unnest($1::uuid[])`, ids)
	return ids
}

// A 15 s outage while webhooks keep arriving: every webhook is answered
// 200, health says degraded, and once the line is back everything drains
// with nothing failed and every event applied once.
func TestPostgresOutage(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	users := insertUsers(t, c, 20)
	proxy, hookdURL := viaProxy(t, dbURL)
	a := startPostgresApp(t, hookdURL, map[string]string{"JOB_ATTEMPTS": "2", "JOB_BACKOFF_MS": "10"})

	send := func(n int) {
		for i := range n {
			a.mustAccept(t, "/api/activity/score", fmt.Sprintf(`{"userId":%q,"action":"like","occurredAt":"2024-01-15T12:00:00Z"}`, users[i%len(users)]))
		}
	}
	send(100)
	a.waitDrained(t)
	proxy.cut()
	deadline := time.Now().Add(15 * time.Second)
	sent := 100
	for time.Now().Before(deadline) {
		send(20)
		sent += 20
		time.Sleep(250 * time.Millisecond)
	}
	code, h := a.health(t)
	if code != http.StatusOK || h.Status != "degraded" || h.Store != "results store unreachable" {
		t.Errorf("health during the outage: %d %+v, want 200 degraded, no details without the secret", code, h)
	}
	withSecret := a.do(t, http.MethodGet, "/api/health/queues", "", "", map[string]string{"x-webhook-secret": testSecret})
	if !strings.Contains(withSecret.Raw, "127.0.0.1") {
		t.Errorf("health with the secret: %s, want the store's error in full", withSecret.Raw)
	}
	proxy.restore()
	counts := a.waitDrained(t)
	if c := counts[QueueActivityScoring]; c.Failed != 0 || int(c.Completed) != sent {
		t.Errorf("after the outage: %+v, want %d completed and none failed", c, sent)
	}
	if n := pgInt(t, c, `SELECT count(*) FROM activity_logs`); n != sent {
		t.Errorf("%d logs, want %d", n, sent)
	}
	if s := pgInt(t, c, `SELECT sum(engagement_score) FROM users`); s != 5*sent {
		t.Errorf("sum of scores %d, want %d", s, 5*sent)
	}
	if code, h := a.health(t); h.Status != "ok" {
		t.Errorf("health after the outage: %d %+v", code, h)
	}
}

// A database that is down when hookd starts: it starts anyway, accepts,
// reports degraded, and drains once the database answers.
func TestPostgresUnreachableAtStart(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	users := insertUsers(t, c, 1)
	proxy, hookdURL := viaProxy(t, dbURL)
	proxy.cut()
	a := startPostgresApp(t, hookdURL, nil)
	a.mustAccept(t, "/api/activity/score", `{"userId":"`+users[0]+`","action":"apply"}`)
	if _, h := a.health(t); h.Status != "degraded" {
		t.Errorf("health with the database down at start: %+v", h)
	}
	proxy.restore()
	a.waitDrained(t)
	if s := pgInt(t, c, `SELECT engagement_score FROM users`); s != 20 && s != 30 {
		t.Errorf("score %d after the database came back, want the apply's points", s)
	}
}

// kill -9 while the workers drain into Postgres: nothing lost, nothing
// applied twice.
func TestPostgresKillMidDrain(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	users := insertUsers(t, c, 50)
	dataDir := t.TempDir()
	// The line is cut while the webhooks arrive, so that the drain starts
	// with all of them queued and the kill lands in its middle.
	proxy, hookdURL := viaProxy(t, dbURL)
	proxy.cut()
	env := []string{"DATABASE_URL=" + hookdURL, "ACTIVITY_SCORING_CONCURRENCY=4"}
	p := startProcess(t, dataDir, env...)
	client := &http.Client{Timeout: 10 * time.Second}
	const n = 2000
	for i := range n {
		body := fmt.Sprintf(`{"userId":%q,"action":"share","occurredAt":"2024-01-15T12:00:00Z"}`, users[i%len(users)])
		req, _ := http.NewRequest(http.MethodPost, p.url+"/api/activity/score", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-webhook-secret", testSecret)
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook %d: %v %v", i, err, resp)
		}
		resp.Body.Close()
	}
	proxy.restore()
	for pgInt(t, c, `SELECT count(*) FROM activity_logs`) < n/4 {
		time.Sleep(5 * time.Millisecond)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	applied := pgInt(t, c, `SELECT count(*) FROM activity_logs`)
	if applied >= n {
		t.Fatalf("the kill came too late: all %d applied", applied)
	}
	p = startProcess(t, dataDir, env...)
	counts := p.waitDrained(t)
	if got := pgInt(t, c, `SELECT count(*) FROM activity_logs`); got != n {
		t.Errorf("%d logs after restart, want %d", got, n)
	}
	if s := pgInt(t, c, `SELECT sum(engagement_score) FROM users`); s != 15*n {
		t.Errorf("sum of scores %d, want %d", s, 15*n)
	}
	if f := counts[QueueActivityScoring].Failed; f != 0 {
		t.Errorf("%d failed", f)
	}
}

// BenchmarkPostgresActivityEndToEnd measures accepted → applied activity
// jobs into Postgres at the default concurrency (20 workers): b.N
// webhooks are accepted over HTTP, then the timer runs until they are
// all applied.
func BenchmarkPostgresActivityEndToEnd(b *testing.B) {
	dbURL := migratedDatabase(b)
	c := connect(b, dbURL)
	users := insertUsers(b, c, 100)
	a := startApp(b, map[string]string{"DATABASE_URL": dbURL})
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < b.N; i += 16 {
				a.mustAccept(b, "/api/activity/score", fmt.Sprintf(`{"userId":%q,"action":"like"}`, users[i%len(users)]))
			}
		})
	}
	wg.Wait()
	a.waitDrained(b)
	elapsed := time.Since(start)
	if n := pgInt(b, c, `SELECT count(*) FROM activity_logs`); n != b.N {
		b.Fatalf("%d applied, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
}

// One unknown user in a batch of activities fails alone: the batch's
// transaction is rolled back and each record is written on its own.
func TestPostgresActivityBatchIsolatesABadRecord(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	users := insertUsers(t, c, 1)
	a := startPostgresApp(t, dbURL, nil)
	ghost := "00000000-0000-4000-8000-0000000000ff"
	recs := []ActivityRecord{
		{ProcessingID: "p-1", UserID: users[0], Action: "like", Points: 5, At: time.Now()},
		{ProcessingID: "p-2", UserID: ghost, Action: "like", Points: 5, At: time.Now()},
		{ProcessingID: "p-3", UserID: users[0], Action: "comment", Points: 10, At: time.Now()},
	}
	for run := 1; run <= 2; run++ {
		out, err := a.store.RecordActivities(context.Background(), recs)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		firstRun := run == 1
		if out[0].Applied != firstRun || out[0].Err != nil || out[2].Applied != firstRun || out[2].Err != nil {
			t.Errorf("run %d: good records %+v %+v, want applied=%v", run, out[0], out[2], firstRun)
		}
		if !IsPermanent(out[1].Err) || !strings.Contains(out[1].Err.Error(), "user "+ghost+" not found in users") {
			t.Errorf("run %d: unknown user: %v, want a permanent error naming the user", run, out[1].Err)
		}
		if s := pgInt(t, c, `SELECT engagement_score FROM users WHERE id = $1`, users[0]); s != 15 {
			t.Errorf("run %d: engagement_score %d, want 15", run, s)
		}
	}
}
