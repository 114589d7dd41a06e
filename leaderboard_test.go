package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// testClock is an injected clock that tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// stoppableApp is an in-process hookd that a test can stop, as SIGTERM
// would, and start again on the same DATA_DIR.
type stoppableApp struct {
	*testApp
	stop func()
}

// startClockedApp starts an in-process hookd on dataDir whose leaderboard
// reads clock (nil: time.Now). It is stopped at the end of the test if
// the test has not stopped it.
func startClockedApp(t *testing.T, dataDir string, clock *testClock, overrides map[string]string) stoppableApp {
	t.Helper()
	env := map[string]string{"DATA_DIR": dataDir}
	for k, v := range overrides {
		env[k] = v
	}
	cfg, err := LoadConfig(testEnv(t, env))
	if err != nil {
		t.Fatal(err)
	}
	if clock != nil {
		cfg.Clock = clock.Now
	}
	app, err := OpenApp(context.Background(), cfg, testLogger())
	if err != nil {
		t.Fatalf("open app: %v", err)
	}
	srv := httptest.NewServer(app.Handler())
	stopWork, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunWorkers(stopWork, stopWork) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Close()
			cancel()
			<-done
			if err := app.Close(); err != nil {
				t.Errorf("close app: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stoppableApp{&testApp{App: app, URL: srv.URL, client: srv.Client()}, stop}
}

// get sends an authenticated GET.
func (a *testApp) get(t testing.TB, path string) reply {
	t.Helper()
	return a.do(t, http.MethodGet, path, "", "", map[string]string{"x-webhook-secret": testSecret})
}

// waitBoard waits until the queues are drained and the leaderboard has
// written every event the workers handed it.
func (a *testApp) waitBoard(t testing.TB) {
	t.Helper()
	a.waitDrained(t)
	deadline := time.Now().Add(10 * time.Second)
	for !a.board.IsReady() || !a.board.Settled() {
		if time.Now().After(deadline) {
			t.Fatal("leaderboard not settled after 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (a *testApp) boardUsers(t testing.TB, limit int) []RankedUser {
	t.Helper()
	r := a.get(t, fmt.Sprintf("/api/activity/leaderboard?limit=%d", limit))
	if r.Status != http.StatusOK {
		t.Fatalf("leaderboard: %d %s", r.Status, r.Raw)
	}
	var got leaderboardReply
	if err := json.Unmarshal([]byte(r.Raw), &got); err != nil || got.Users == nil {
		t.Fatalf("leaderboard reply %s: %v", r.Raw, err)
	}
	return got.Users
}

func (a *testApp) trendingTargets(t testing.TB, query string) []TrendingTarget {
	t.Helper()
	r := a.get(t, "/api/activity/trending?"+query)
	if r.Status != http.StatusOK {
		t.Fatalf("trending?%s: %d %s", query, r.Status, r.Raw)
	}
	var got trendingReply
	if err := json.Unmarshal([]byte(r.Raw), &got); err != nil || got.Targets == nil {
		t.Fatalf("trending reply %s: %v", r.Raw, err)
	}
	return got.Targets
}

// storeTop is the leaderboard as docs/api.md defines it (score
// descending, ties by userId ascending), computed in SQL on the embedded
// store.
func storeTop(t testing.TB, db *sql.DB, limit int) []RankedUser {
	t.Helper()
	rows, err := db.Query(`SELECT id, engagement_score FROM users WHERE engagement_score > 0
		ORDER BY engagement_score DESC, id ASC LIMIT ?`, limit)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []RankedUser{}
	for rows.Next() {
		u := RankedUser{Rank: len(out) + 1}
		if err := rows.Scan(&u.UserID, &u.Score); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

// postActivity sends n activity webhooks from 8 clients: user i%users,
// action by i, target i%7; at a peak hour (no off-peak bonus) more than
// 48 hours before clockStart, so that they fill no live trending bucket.
func postActivity(t testing.TB, a *testApp, n, users int) {
	t.Helper()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				a.mustAccept(t, "/api/activity/score", fmt.Sprintf(
					`{"userId":"user-%02d","action":%q,"targetId":"post-%d","targetType":"post","occurredAt":"2025-06-01T12:00:00Z"}`,
					i%users, Actions[(i/users)%len(Actions)], i%7))
			}
		})
	}
	wg.Wait()
}

// The leaderboard after a run of activity webhooks is the store's
// engagement scores, highest first, at every limit: the ties (three
// users with 10 points) come by userId ascending, also where the limit
// cuts through them.
func TestLeaderboardMatchesStoreScores(t *testing.T) {
	a := startApp(t, nil)
	postActivity(t, a, 400, 37)
	for _, u := range []string{"tie-c", "tie-a", "tie-b"} {
		a.mustAccept(t, "/api/activity/score", `{"userId":"`+u+`","action":"comment","occurredAt":"2025-06-10T12:00:00Z"}`)
	}
	a.waitBoard(t)
	db := openFile(t, a.cfg.DataDir)
	all := storeTop(t, db, 1000)
	if len(all) != 40 {
		t.Fatalf("%d users with a score in the store, want 40", len(all))
	}
	for limit := 1; limit <= 45; limit++ {
		want := all[:min(limit, len(all))]
		if got := a.boardUsers(t, limit); !reflect.DeepEqual(got, want) {
			t.Fatalf("limit %d:\n got %v\nwant %v", limit, got, want)
		}
	}
	var ties []string
	for _, u := range all {
		if u.Score == 10 {
			ties = append(ties, u.UserID)
		}
	}
	if strings.Join(ties, ",") != "tie-a,tie-b,tie-c" {
		t.Errorf("users with 10 points in order %v, want tie-a, tie-b, tie-c", ties)
	}
	if def := a.boardUsers(t, 10); len(def) != 10 || a.get(t, "/api/activity/leaderboard").Raw != a.get(t, "/api/activity/leaderboard?limit=10").Raw {
		t.Errorf("the default limit is not 10")
	}
}

// A job that runs again after its log row was recorded (a lease that
// expired, a crash before the ack) must not feed the leaderboard twice.
func TestProcessorRecordsOnlyNewLogRows(t *testing.T) {
	db, err := OpenDB(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	feed := &recordingFeed{}
	store := &feedWatchingStore{Store: OpenSQLiteStore(db), feed: feed}
	p := &Processor{Store: store, Log: testLogger(), Timezone: time.UTC, OffPeak: OffPeak{Start: 22, End: 7}, Now: time.Now, Feed: feed}
	at := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	payload, _ := json.Marshal(ActivityTask{UserID: "u1", Action: "share", TargetID: "p1", TargetType: "post", OccurredAt: at})
	job := Job{ProcessingID: "activity-u1-1", Queue: QueueActivityScoring, Payload: payload}
	for range 2 {
		if out := p.ScoreActivities(context.Background(), []Job{job}); out[0].Err != nil {
			t.Fatal(out[0].Err)
		}
	}
	want := []ActivityEvent{{ProcessingID: "activity-u1-1", UserID: "u1", TargetType: "post", TargetID: "p1", Points: 15, At: at}}
	if !reflect.DeepEqual(feed.got, want) {
		t.Errorf("recorded %+v, want one event %+v", feed.got, want)
	}
	if feed.entered != 2 || feed.inside != 0 {
		t.Errorf("entered %d, still inside %d: want each run to enter once and leave", feed.entered, feed.inside)
	}
	if want := []bool{true, true}; !reflect.DeepEqual(store.writesInside, want) || !reflect.DeepEqual(feed.recordsInside, want[:1]) {
		t.Errorf("store writes inside Enter %v, records inside %v: want every one between Enter and its leave", store.writesInside, feed.recordsInside)
	}
}

// recordingFeed is an ActivityFeed that keeps what it is told, and
// whether each Record came between an Enter and its leave.
type recordingFeed struct {
	got           []ActivityEvent
	entered       int
	inside        int // Enters not yet left
	recordsInside []bool
}

func (f *recordingFeed) Enter() func() {
	f.entered++
	f.inside++
	return func() { f.inside-- }
}

func (f *recordingFeed) Record(events []ActivityEvent) {
	f.got = append(f.got, events...)
	f.recordsInside = append(f.recordsInside, f.inside > 0)
}

// feedWatchingStore notes, for each RecordActivities, whether it ran
// between the feed's Enter and its leave: a rebuild relies on it.
type feedWatchingStore struct {
	Store
	feed         *recordingFeed
	writesInside []bool
}

func (s *feedWatchingStore) RecordActivities(ctx context.Context, recs []ActivityRecord) ([]Recorded, error) {
	s.writesInside = append(s.writesInside, s.feed.inside > 0)
	return s.Store.RecordActivities(ctx, recs)
}

// trendingEvents are activity webhooks at fixed times around the clock's
// 2025-06-10 12:30 UTC, all at peak hours in Paris (no bonus).
var trendingEvents = []string{
	`{"userId":"u1","action":"like","targetId":"P1","targetType":"post","occurredAt":"2025-06-10T12:05:00Z"}`,    // 5, current hour
	`{"userId":"u2","action":"comment","targetId":"P2","targetType":"post","occurredAt":"2025-06-10T11:10:00Z"}`, // 10, 1 h back
	`{"userId":"u1","action":"share","targetId":"P1","targetType":"Post","occurredAt":"2025-06-10T09:59:00Z"}`,   // 15, 3 h back
	`{"userId":"u3","action":"apply","targetId":"P3","targetType":"post","occurredAt":"2025-06-09T13:00:00Z"}`,   // 20, 23 h back
	`{"userId":"u3","action":"like","targetId":"P4","targetType":"post","occurredAt":"2025-06-08T12:00:00Z"}`,    // 48 h back: expired
	`{"userId":"u2","action":"apply","targetId":"J1","targetType":"job","occurredAt":"2025-06-10T12:10:00Z"}`,    // 20, a job
	`{"userId":"u4","action":"view","targetId":"X1","targetType":"comment","occurredAt":"2025-06-10T12:10:00Z"}`, // no trending type
}

var clockStart = time.Date(2025, 6, 10, 12, 30, 0, 0, time.UTC)

// trendingAnswers are the queries the trending tests compare, with what
// the events above must give at clockStart.
var trendingAnswers = map[string][]TrendingTarget{
	"type=post&hours=1":           {{"P1", "post", 5}},
	"type=post&hours=2":           {{"P2", "post", 10}, {"P1", "post", 5}},
	"type=post&hours=3":           {{"P2", "post", 10}, {"P1", "post", 5}},
	"type=post&hours=4":           {{"P1", "post", 20}, {"P2", "post", 10}},
	"type=post&hours=23":          {{"P1", "post", 20}, {"P2", "post", 10}},
	"type=post&hours=24":          {{"P1", "post", 20}, {"P3", "post", 20}, {"P2", "post", 10}},
	"type=post":                   {{"P1", "post", 20}, {"P3", "post", 20}, {"P2", "post", 10}},
	"type=post&hours=48":          {{"P1", "post", 20}, {"P3", "post", 20}, {"P2", "post", 10}},
	"type=post&hours=48&limit=1":  {{"P1", "post", 20}},
	"type=job&hours=1":            {{"J1", "job", 20}},
	"type=job&hours=48&limit=100": {{"J1", "job", 20}},
}

func checkTrending(t *testing.T, a *testApp, want map[string][]TrendingTarget, when string) {
	t.Helper()
	for q, w := range want {
		if got := a.trendingTargets(t, q); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: trending?%s = %v, want %v", when, q, got, w)
		}
	}
}

// Events at fixed times in different hours land in their hour's bucket;
// hours picks the right buckets; a bucket 48 hours old is expired, and
// moving the clock on expires more and sweeps them out of redka.db.
func TestTrendingWindowAndExpiry(t *testing.T) {
	clock := newTestClock(clockStart)
	a := startClockedApp(t, t.TempDir(), clock, nil)
	for _, e := range trendingEvents {
		a.mustAccept(t, "/api/activity/score", e)
	}
	a.waitBoard(t)
	checkTrending(t, a.testApp, trendingAnswers, "at 12:30")
	if exists(t, a.testApp, "trending:post:2025060812") {
		t.Errorf("the bucket of an event 48 h old was written")
	}
	if !exists(t, a.testApp, "trending:post:2025060913") {
		t.Fatalf("the bucket 23 h back is missing")
	}

	// 25 hours later the bucket of 2025-06-09 13:00 is 48 hours old.
	clock.Set(clockStart.Add(25 * time.Hour))
	checkTrending(t, a.testApp, map[string][]TrendingTarget{
		"type=post&hours=48": {{"P1", "post", 20}, {"P2", "post", 10}},
		"type=post&hours=1":  {},
		"type=job&hours=48":  {{"J1", "job", 20}},
	}, "25 h later")
	// The next batch sweeps the expired buckets out.
	a.mustAccept(t, "/api/activity/score", `{"userId":"u5","action":"view","targetId":"P5","targetType":"post","occurredAt":"2025-06-11T13:10:00Z"}`)
	a.waitBoard(t)
	if exists(t, a.testApp, "trending:post:2025060913") {
		t.Errorf("the expired bucket 2025060913 is still in redka.db")
	}
	if !exists(t, a.testApp, "trending:post:2025061012") {
		t.Errorf("a live bucket was swept")
	}
	checkTrending(t, a.testApp, map[string][]TrendingTarget{"type=post&hours=1": {{"P5", "post", 1}}}, "after the sweep")
}

func exists(t *testing.T, a *testApp, key string) bool {
	t.Helper()
	ok, err := a.board.db.Key().Exists(key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// Deleting redka.db is safe: the next start rebuilds it from the store
// and answers exactly as before; a clean restart keeps it as it is.
func TestLeaderboardRebuiltAfterRedkaDeleted(t *testing.T) {
	dir := t.TempDir()
	clock := newTestClock(clockStart)
	a := startClockedApp(t, dir, clock, nil)
	for _, e := range trendingEvents {
		a.mustAccept(t, "/api/activity/score", e)
	}
	postActivity(t, a.testApp, 200, 23)
	a.waitBoard(t)
	checkTrending(t, a.testApp, trendingAnswers, "first run")
	board := a.boardUsers(t, 100)
	if len(board) != 27 {
		t.Fatalf("%d users on the leaderboard, want 27", len(board))
	}

	restart := func(deleteRedka bool) stoppableApp {
		t.Helper()
		a.stop()
		if deleteRedka {
			for _, f := range []string{"redka.db", "redka.db-wal", "redka.db-shm"} {
				os.Remove(filepath.Join(dir, f))
			}
		}
		return startClockedApp(t, dir, clock, nil)
	}
	a = restart(false)
	if a.board.NeedsRebuild() {
		t.Errorf("a clean restart rebuilt the leaderboard")
	}
	a.waitBoard(t)
	checkTrending(t, a.testApp, trendingAnswers, "after a clean restart")
	if got := a.boardUsers(t, 100); !reflect.DeepEqual(got, board) {
		t.Errorf("after a clean restart:\n got %v\nwant %v", got, board)
	}

	a = restart(true)
	if !a.board.NeedsRebuild() {
		t.Fatal("redka.db was deleted but no rebuild was asked for")
	}
	a.waitBoard(t)
	checkTrending(t, a.testApp, trendingAnswers, "after redka.db was deleted")
	if got := a.boardUsers(t, 100); !reflect.DeepEqual(got, board) {
		t.Errorf("after redka.db was deleted:\n got %v\nwant %v", got, board)
	}
}

// A store commit whose redka write never happened (the process died in
// between): the next start sees no clean marker, rebuilds, and the
// leaderboard equals the store again.
func TestLeaderboardRebuiltAfterLostRedkaWrite(t *testing.T) {
	dir := t.TempDir()
	a := startClockedApp(t, dir, nil, nil)
	postActivity(t, a.testApp, 100, 10)
	a.waitBoard(t)
	// The store commit of an activity that the leaderboard never hears of.
	out, err := a.store.RecordActivities(context.Background(), []ActivityRecord{{
		ProcessingID: "activity-lost-1", UserID: "user-03", Action: "apply", Points: 20, At: time.Now(),
	}})
	if err != nil || !out[0].Applied || out[0].Err != nil {
		t.Fatalf("record: %+v %v", out, err)
	}
	db := openFile(t, dir)
	if got, want := a.boardUsers(t, 100), storeTop(t, db, 100); reflect.DeepEqual(got, want) {
		t.Fatal("the lost write is already on the leaderboard: the test proves nothing")
	}
	// The marker is left unset, as by a batch that failed to write or a
	// process killed before its clean shutdown.
	a.board.dirty.Store(true)
	a.stop()

	a = startClockedApp(t, dir, nil, nil)
	if !a.board.NeedsRebuild() {
		t.Fatal("no rebuild after an unclean shutdown")
	}
	a.waitBoard(t)
	if got, want := a.boardUsers(t, 100), storeTop(t, db, 100); !reflect.DeepEqual(got, want) {
		t.Errorf("after restart:\n got %v\nwant %v", got, want)
	}
}

// kill -9 of the real binary while activity is being scored: whatever
// the store committed and redka had not yet written, the restarted
// process rebuilds, and the leaderboard equals the store.
func TestCrashLeaderboardEqualsStore(t *testing.T) {
	dataDir := t.TempDir()
	if accepted := killMidBurst(t, dataDir, 2000); len(accepted) < 2000 {
		t.Fatalf("%d answered 200 before the kill", len(accepted))
	}
	p := startProcess(t, dataDir)
	p.waitDrained(t)
	db := openFile(t, dataDir)
	want := storeTop(t, db, 100)
	if len(want) != 50 {
		t.Fatalf("%d users in the store, want 50", len(want))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := processBoard(t, p)
		if reflect.DeepEqual(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaderboard after the restart:\n got %v\nwant %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopGracefully(t, p) // the logs are read once the process has exited
	if !strings.Contains(p.logs.String(), "leaderboard rebuilt from the store") {
		t.Errorf("the restart after kill -9 did not rebuild the leaderboard")
	}
}

func processBoard(t testing.TB, p *process) []RankedUser {
	t.Helper()
	var r leaderboardReply
	if getFromProcess(t, p.url+"/api/activity/leaderboard?limit=100", &r) != http.StatusOK {
		return nil // rebuilding
	}
	return r.Users
}

// getFromProcess sends an authenticated GET to a running hookd and, if it
// answers 200, decodes the reply into dst. It returns the status.
func getFromProcess(t testing.TB, url string, dst any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("x-webhook-secret", testSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode
	}
	if err := json.NewDecoder(resp.Body).Decode(dst); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// Bad parameters are a 400 naming the parameter; the routes need the
// secret; a leaderboard that is rebuilding answers 503.
func TestLeaderboardRouteErrors(t *testing.T) {
	a := startApp(t, nil)
	a.waitBoard(t) // the rebuild of a new redka.db
	cases := []struct {
		path     string
		status   int
		errorHas string
	}{
		{"/api/activity/leaderboard?limit=0", 400, "limit: want an integer in 1..100"},
		{"/api/activity/leaderboard?limit=101", 400, "limit: want an integer in 1..100"},
		{"/api/activity/leaderboard?limit=ten", 400, "limit: want an integer"},
		{"/api/activity/leaderboard?limit=", 400, "limit: want an integer"},
		{"/api/activity/leaderboard?limit=-1", 400, "limit"},
		{"/api/activity/leaderboard?limit=99999999999999999999999", 400, "limit"},
		{"/api/activity/leaderboard?limit=1&limit=2", 400, "limit: given more than once"},
		{"/api/activity/leaderboard?limt=5", 400, `"limt": unknown query parameter`},
		{"/api/activity/leaderboard?%zz", 400, "query: malformed"},
		{"/api/activity/trending", 400, "type: required; allowed: post, job"},
		{"/api/activity/trending?type=user", 400, "type: want one of post, job"},
		{"/api/activity/trending?type=POST", 400, "type: want one of post, job"},
		{"/api/activity/trending?type=post&hours=0", 400, "hours: want an integer in 1..48"},
		{"/api/activity/trending?type=post&hours=49", 400, "hours: want an integer in 1..48"},
		{"/api/activity/trending?type=post&hours=1.5", 400, "hours"},
		{"/api/activity/trending?type=post&limit=1000", 400, "limit: want an integer in 1..100"},
		{"/api/activity/trending?type=post&type=job", 400, "type: given more than once"},
	}
	for _, c := range cases {
		r := a.get(t, c.path)
		if r.Status != c.status || r.Body["success"] != false || !strings.Contains(r.str("error"), c.errorHas) {
			t.Errorf("GET %s: %d %s, want %d with an error containing %q", c.path, r.Status, r.Raw, c.status, c.errorHas)
		}
	}
	for _, path := range []string{"/api/activity/leaderboard", "/api/activity/trending?type=post"} {
		if r := a.do(t, http.MethodGet, path, "", "", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("GET %s without the secret: %d %s", path, r.Status, r.Raw)
		}
		if r := a.get(t, path); r.Status != http.StatusOK {
			t.Errorf("GET %s on an empty store: %d %s", path, r.Status, r.Raw)
		}
	}
	if r := a.get(t, "/api/activity/leaderboard"); r.Raw != `{"users":[]}`+"\n" {
		t.Errorf("empty leaderboard: %s", r.Raw)
	}

	// A leaderboard that has not been rebuilt yet.
	board, err := OpenLeaderboard(t.TempDir(), "embedded", testLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer board.Close()
	srv := NewServer(ServerConfig{Kinds: Kinds, Queue: a.queue, Secret: testSecret, MaxBody: 1 << 20,
		StoreProblem: func() string { return "" }, Board: board, Log: testLogger()})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/activity/trending?type=post", nil)
	req.Header.Set("x-webhook-secret", testSecret)
	srv.Routes().ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "rebuilding") {
		t.Errorf("while rebuilding: %d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}
}

// LEADERBOARD_DISABLED=1: no redka.db (an old one is removed, so that
// enabling it again rebuilds), the routes answer 404, scoring still works.
func TestLeaderboardDisabled(t *testing.T) {
	dir := t.TempDir()
	a := startClockedApp(t, dir, nil, nil)
	a.mustAccept(t, "/api/activity/score", `{"userId":"u1","action":"like"}`)
	a.waitBoard(t)
	a.stop()
	if _, err := os.Stat(filepath.Join(dir, "redka.db")); err != nil {
		t.Fatal(err)
	}
	a = startClockedApp(t, dir, nil, map[string]string{"LEADERBOARD_DISABLED": "1"})
	if _, err := os.Stat(filepath.Join(dir, "redka.db")); !os.IsNotExist(err) {
		t.Errorf("redka.db still there with the leaderboard disabled: %v", err)
	}
	a.mustAccept(t, "/api/activity/score", `{"userId":"u1","action":"like"}`)
	a.waitDrained(t)
	if r := a.get(t, "/api/activity/leaderboard"); r.Status != http.StatusNotFound || !strings.Contains(r.str("error"), "LEADERBOARD_DISABLED") {
		t.Errorf("disabled leaderboard: %d %s", r.Status, r.Raw)
	}
}

// pgTop is the leaderboard as docs/api.md defines it, computed in
// Postgres.
func pgTop(t testing.TB, c *pgx.Conn) []RankedUser {
	t.Helper()
	rows, err := c.Query(context.Background(), `SELECT id::text, engagement_score::bigint FROM users
		WHERE engagement_score > 0 ORDER BY engagement_score DESC, id ASC LIMIT 100`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RankedUser, error) {
		var u RankedUser
		err := r.Scan(&u.UserID, &u.Score)
		return u, err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		out[i].Rank = i + 1
	}
	return out
}

// In Postgres mode the rebuild reads users.engagement_score and the last
// 48 hours of activity_logs. While the database is down at start, the two
// routes answer 503 and the webhooks are still accepted; once it answers,
// the leaderboard is rebuilt and then fed, and equals the store. Deleting
// redka.db and restarting gives the same answers.
func TestPostgresLeaderboardRebuild(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	users := insertUsers(t, c, 6)
	// Scores and logs written before this hookd ever ran.
	for i, u := range users[:4] {
		pgExec(t, c, `UPDATE users SET engagement_score = $2 WHERE id = $1`, u, 10*(i%3)+5)
	}
	logs := []struct {
		targetType, targetID string
		points               int
		at                   time.Time
	}{
		{"post", "P1", 5, clockStart.Add(-20 * time.Minute)},
		{"Post", "P1", 10, clockStart.Add(-3 * time.Hour)},
		{"post", "P2", 20, clockStart.Add(-47 * time.Hour)},
		{"post", "P9", 50, clockStart.Add(-49 * time.Hour)}, // expired
		{"job", "J1", 15, clockStart.Add(-5 * time.Hour)},
		{"comment", "X", 15, clockStart.Add(-5 * time.Hour)},
	}
	for i, l := range logs {
		pgExec(t, c, `INSERT INTO activity_logs (user_id, action, target_type, target_id, points_earned, processing_id, created_at)
			VALUES ($1, 'like', $2, $3, $4, $5, $6)`, users[0], l.targetType, l.targetID, l.points, fmt.Sprintf("seed-%d", i), l.at)
	}
	proxy, hookdURL := viaProxy(t, dbURL)
	proxy.cut()
	dir := t.TempDir()
	clock := newTestClock(clockStart)
	a := startClockedApp(t, dir, clock, map[string]string{"DATABASE_URL": hookdURL})
	if r := a.get(t, "/api/activity/leaderboard"); r.Status != http.StatusServiceUnavailable || !strings.Contains(r.str("error"), "rebuilding") {
		t.Errorf("leaderboard while the database is down: %d %s, want 503 rebuilding", r.Status, r.Raw)
	}
	a.mustAccept(t, "/api/activity/score", `{"userId":"`+users[5]+`","action":"apply","targetId":"P2","targetType":"post","occurredAt":"2025-06-10T12:10:00Z"}`)
	proxy.restore()
	a.waitBoard(t)
	want := map[string][]TrendingTarget{
		"type=post&hours=1":  {{"P2", "post", 20}, {"P1", "post", 5}},
		"type=post&hours=4":  {{"P2", "post", 20}, {"P1", "post", 15}},
		"type=post&hours=48": {{"P2", "post", 40}, {"P1", "post", 15}},
		"type=job":           {{"J1", "job", 15}},
	}
	check := func(a stoppableApp, when string) {
		t.Helper()
		if got, want := a.boardUsers(t, 100), pgTop(t, c); !reflect.DeepEqual(got, want) || len(want) != 5 {
			t.Errorf("%s: leaderboard\n got %v\nwant %v (5 users)", when, got, want)
		}
		checkTrending(t, a.testApp, want, when)
	}
	check(a, "after the rebuild")
	a.stop()
	os.Remove(filepath.Join(dir, "redka.db"))
	a = startClockedApp(t, dir, clock, map[string]string{"DATABASE_URL": dbURL})
	if !a.board.NeedsRebuild() {
		t.Fatal("redka.db was deleted but no rebuild was asked for")
	}
	a.waitBoard(t)
	check(a, "after redka.db was deleted")
}

// BenchmarkActivityEndToEnd measures accepted → scored activity jobs on
// the embedded store at the default concurrency, with the leaderboard on
// and off: b.N webhooks are accepted over HTTP from 16 clients, and the
// timer runs until the queue has drained. With redka on, its writes run
// alongside and take their share of the CPU; the last batch, which trails
// the drain by at most the drainer's pause, is then checked, not timed.
func BenchmarkActivityEndToEnd(b *testing.B) {
	for _, mode := range []struct {
		name     string
		disabled string
	}{{"redka=on", "0"}, {"redka=off", "1"}} {
		b.Run(mode.name, func(b *testing.B) {
			a := startApp(b, map[string]string{"LEADERBOARD_DISABLED": mode.disabled})
			if a.board != nil {
				<-a.board.Ready() // the rebuild of the new redka.db is done: not timed
			}
			cpu := cpuTime()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range 16 {
				wg.Go(func() {
					for i := w; i < b.N; i += 16 {
						a.mustAccept(b, "/api/activity/score", fmt.Sprintf(
							`{"userId":"user-%d","action":"like","targetId":"post-%d","targetType":"post"}`, i%1000, i%100))
					}
				})
			}
			wg.Wait()
			a.waitDrained(b)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
			reportCPU(b, cpu)
			if a.board != nil {
				a.waitBoard(b)
			}
		})
	}
}

// BenchmarkLeaderboardWrite is redka's cost per activity job in the worst
// case, where no user or target repeats within a batch: batches of 64
// events, each a different user and a different post.
func BenchmarkLeaderboardWrite(b *testing.B) {
	l, err := OpenLeaderboard(b.TempDir(), "embedded", testLogger(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if err := l.Rebuild(context.Background(), fixedSource{}); err != nil {
		b.Fatal(err)
	}
	batch := make([]ActivityEvent, 0, 64)
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		batch = append(batch, ActivityEvent{UserID: fmt.Sprintf("user-%d", i), TargetType: "post",
			TargetID: fmt.Sprintf("post-%d", i), Points: 5, At: now})
		if len(batch) == cap(batch) || i == b.N-1 {
			l.write(batch)
			batch = batch[:0]
		}
	}
	b.StopTimer()
	if l.dirty.Load() {
		b.Fatal("a batch failed")
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/job")
}

// fixedSource is a store whose scores and hourly points are given.
type fixedSource struct {
	users  []UserScore
	hourly []HourlyPoints
}

func (s fixedSource) LeaderboardSnapshot(context.Context) (LeaderboardSnapshot, error) { return s, nil }
func (s fixedSource) UserScores(_ context.Context, fn func(UserScore) error) error {
	for _, u := range s.users {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}
func (s fixedSource) TrendingSince(_ context.Context, _ time.Time, fn func(HourlyPoints) error) error {
	for _, h := range s.hourly {
		if err := fn(h); err != nil {
			return err
		}
	}
	return nil
}
func (s fixedSource) Logged(context.Context, []string) (map[string]bool, error) { return nil, nil }
func (s fixedSource) Close()                                                    {}

// A rebuild of more users than SQLite binds variables in one statement
// (32,766), with the top of the board checked.
func TestLeaderboardRebuildManyUsers(t *testing.T) {
	src := fixedSource{}
	for i := range 33000 {
		src.users = append(src.users, UserScore{UserID: fmt.Sprintf("u%05d", i), Score: int64(i % 5000)})
	}
	l, err := OpenLeaderboard(t.TempDir(), "embedded", testLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Rebuild(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	got, err := l.Top(context.Background(), 8)
	if err != nil {
		t.Fatal(err)
	}
	// 4999 is the score of u04999, u09999 … u29999: six users, by userId.
	want := []RankedUser{{"u04999", 4999, 1}, {"u09999", 4999, 2}, {"u14999", 4999, 3}, {"u19999", 4999, 4},
		{"u24999", 4999, 5}, {"u29999", 4999, 6}, {"u04998", 4998, 7}, {"u09998", 4998, 8}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("top 8 of 33,000:\n got %v\nwant %v", got, want)
	}
	n, err := l.db.ZSet().Len(leaderboardKey)
	if err != nil || n != 33000 {
		t.Errorf("%d users on the board (%v), want 33000", n, err)
	}
}

// A data dir that moves from the embedded store to Postgres does not keep
// the leaderboard of the embedded users: redka.db is rebuilt from the
// store it now serves, though it was closed cleanly.
func TestPostgresLeaderboardFollowsItsStore(t *testing.T) {
	dir := t.TempDir()
	embedded := startClockedApp(t, dir, nil, nil)
	embedded.mustAccept(t, "/api/activity/score", `{"userId":"u-embedded","action":"apply"}`)
	embedded.waitBoard(t)
	if got := embedded.boardUsers(t, 10); len(got) != 1 || got[0].UserID != "u-embedded" {
		t.Fatalf("embedded leaderboard %+v", got)
	}
	embedded.stop()

	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	users := insertUsers(t, c, 2)
	pgExec(t, c, `UPDATE users SET engagement_score = 7 WHERE id = $1`, users[1])
	pg := startClockedApp(t, dir, nil, map[string]string{"DATABASE_URL": dbURL})
	pg.waitBoard(t)
	if got := pg.boardUsers(t, 10); len(got) != 1 || got[0].UserID != users[1] || got[0].Score != 7 {
		t.Errorf("after the move to Postgres: %+v, want only %s with 7", got, users[1])
	}
}
