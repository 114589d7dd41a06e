package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nalgeon/redka"
)

// heldStore is the workers' store, whose leaderboard snapshot a test holds
// at two points of the rebuild: before the snapshot is pinned, and after
// it is pinned, before anything is read through it.
type heldStore struct {
	Store
	before, after *hold
}

// hold stops whoever passes it until the test releases it. It holds once:
// a rebuild that runs again passes freely.
type hold struct {
	once    sync.Once
	reached chan struct{}
	release chan struct{}
}

func newHold() *hold { return &hold{reached: make(chan struct{}), release: make(chan struct{})} }

func (h *hold) pass(ctx context.Context) {
	h.once.Do(func() { close(h.reached) })
	select {
	case <-h.release:
	case <-ctx.Done(): // the app is closing: a failed test must not hang
	}
}

func (s *heldStore) LeaderboardSnapshot(ctx context.Context) (LeaderboardSnapshot, error) {
	s.before.pass(ctx)
	snap, err := s.Store.LeaderboardSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	return heldSnapshot{snap, s.after}, nil
}

type heldSnapshot struct {
	LeaderboardSnapshot
	after *hold
}

func (s heldSnapshot) UserScores(ctx context.Context, fn func(UserScore) error) error {
	s.after.pass(ctx)
	return s.LeaderboardSnapshot.UserScores(ctx, fn)
}

// boardData is a leaderboard's whole content: the user scores under
// leaderboardKey, each trending bucket under its key; element → score.
type boardData map[string]map[string]int64

// redkaData reads every live sorted set of redka.db.
func redkaData(t testing.TB, l *Leaderboard) boardData {
	t.Helper()
	keys, err := l.db.Key().Keys("*")
	if err != nil {
		t.Fatal(err)
	}
	out := boardData{}
	for _, k := range keys {
		if k.Type != redka.TypeZSet {
			continue
		}
		items, err := l.db.ZSet().RangeWith(k.Key).ByScore(-math.MaxFloat64, math.MaxFloat64).Run()
		if err != nil {
			t.Fatal(err)
		}
		out[k.Key] = map[string]int64{}
		for _, it := range items {
			out[k.Key][it.Elem.String()] = int64(it.Score)
		}
	}
	return out
}

// diffBoards describes how got differs from want, or returns "".
func diffBoards(got, want boardData) string {
	var diffs []string
	for key, w := range want {
		if g := got[key]; !maps.Equal(g, w) {
			n := 0
			for elem, score := range w {
				if g[elem] != score && n < 5 {
					diffs = append(diffs, fmt.Sprintf("%s %q: %d, want %d", key, elem, g[elem], score))
					n++
				}
			}
			diffs = append(diffs, fmt.Sprintf("%s: %d elements, want %d", key, len(g), len(w)))
		}
	}
	for key := range got {
		if _, ok := want[key]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: not in the store", key))
		}
	}
	return strings.Join(diffs, "\n")
}

// trendingSince is the first hour whose bucket is alive at clockStart.
var trendingSince = clockStart.Truncate(time.Hour).Add(time.Hour - trendingTTL)

// The store's leaderboard, computed in SQL: the users' engagement scores,
// and the activity points since trendingSince by type, hour and target.
const (
	storeUsersSQL    = `SELECT id, engagement_score FROM users WHERE engagement_score > 0`
	storeTrendingSQL = `
SELECT 'trending:' || lower(target_type) || ':' || replace(replace(substr(created_at, 1, 13), '-', ''), 'T', ''),
       target_id, sum(points_earned)
FROM activity_logs
WHERE created_at >= ? AND lower(target_type) IN ('post', 'job') AND target_id IS NOT NULL
GROUP BY 1, 2`
	pgUsersSQL    = `SELECT id::text, engagement_score::bigint FROM users WHERE engagement_score > 0`
	pgTrendingSQL = `
SELECT 'trending:' || lower(target_type) || ':' || to_char(created_at AT TIME ZONE 'UTC', 'YYYYMMDDHH24'),
       target_id, sum(points_earned)::bigint
FROM activity_logs
WHERE created_at >= $1 AND lower(target_type) IN ('post', 'job') AND target_id IS NOT NULL
GROUP BY 1, 2`
)

func (b boardData) add(key, elem string, score int64) {
	if b[key] == nil {
		b[key] = map[string]int64{}
	}
	b[key][elem] += score
}

func sqliteBoard(t testing.TB, db *sql.DB) boardData {
	t.Helper()
	out := boardData{}
	for _, q := range []struct {
		sql  string
		args []any
	}{{storeUsersSQL, nil}, {storeTrendingSQL, []any{timeText(trendingSince)}}} {
		rows, err := db.Query(q.sql, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			key, elem, score := leaderboardKey, "", int64(0)
			dest := []any{&key, &elem, &score}
			if q.sql == storeUsersSQL {
				dest = dest[1:]
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			out.add(key, elem, score)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

func pgBoard(t testing.TB, c *pgx.Conn) boardData {
	t.Helper()
	out := boardData{}
	rows, err := c.Query(context.Background(), pgUsersSQL)
	if err != nil {
		t.Fatal(err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowToStructByPos[UserScore])
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		out.add(leaderboardKey, u.UserID, u.Score)
	}
	rows, err = c.Query(context.Background(), pgTrendingSQL, trendingSince)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, elem string
		var score int64
		if err := rows.Scan(&key, &elem, &score); err != nil {
			t.Fatal(err)
		}
		out.add(key, elem, score)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// seedRecords are n activities of the given users on targets of every
// kind (posts, jobs, a type without trending, a type in capitals, none),
// spread over the 50 hours before clockStart: the two oldest hours are
// expired for trending, not for the leaderboard.
func seedRecords(n int, users []string) []ActivityRecord {
	types := []string{"post", "post", "job", "comment", "Post", ""}
	recs := make([]ActivityRecord, n)
	for i := range recs {
		typ := types[i%len(types)]
		target := ""
		if typ != "" {
			target = fmt.Sprintf("%s-%d", strings.ToLower(typ), (i*7919)%600)
		}
		recs[i] = ActivityRecord{
			ProcessingID: fmt.Sprintf("seed-%d", i),
			UserID:       users[(i*31)%len(users)],
			Action:       Actions[i%len(Actions)],
			TargetType:   typ,
			TargetID:     target,
			Points:       ActionPoints[Actions[i%len(Actions)]],
			At:           clockStart.Add(-time.Duration((i*104729)%(50*60)) * time.Minute),
		}
	}
	return recs
}

// seedStore records activities through the store, as workers would have.
func seedStore(t testing.TB, store Store, recs []ActivityRecord) {
	t.Helper()
	for chunk := range slices.Chunk(recs, 1000) {
		out, err := store.RecordActivities(context.Background(), chunk)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if o.Err != nil || !o.Applied {
				t.Fatalf("seed: %+v", o)
			}
		}
	}
}

// rebuildCase is one store for TestRebuildWhileWorking.
type rebuildCase struct {
	env          map[string]string
	users        []string
	posts, jobs  []string // rows the post and job webhooks name
	storeBoard   func(t *testing.T) boardData
	storeUserTop func(t *testing.T) []RankedUser
}

// sendAll sends, through HTTP, activity webhooks from 8 clients and a
// post and a job webhook per id: every kind of work. It returns the
// processingIds.
func sendAll(t *testing.T, a *testApp, c rebuildCase, round, activities int) []string {
	t.Helper()
	var mu sync.Mutex
	var ids []string
	keep := func(id string) {
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < activities; i += 8 {
				typ := []string{"post", "job", "comment"}[i%3]
				keep(a.mustAccept(t, "/api/activity/score", fmt.Sprintf(
					`{"userId":%q,"action":%q,"targetId":"%s-%d","targetType":%q,"occurredAt":%q}`,
					c.users[(i*13+round)%len(c.users)], Actions[i%len(Actions)], typ, i%40, typ,
					clockStart.Add(-time.Duration(i%47)*time.Hour).Format(time.RFC3339))))
			}
		})
	}
	wg.Wait()
	for _, p := range c.posts {
		keep(a.mustAccept(t, "/api/posts/moderate", fmt.Sprintf(`{"postId":%q,"content":"Round %d of the rebuild test"}`, p, round)))
	}
	for _, j := range c.jobs {
		keep(a.mustAccept(t, "/api/jobs/analyze", fmt.Sprintf(`{"jobId":%q,"title":"Go developer","requiredSkills":["Go","SQL"]}`, j)))
	}
	return ids
}

// checkDoneDuringRebuild waits for the queues to drain, and checks that
// every job completed while the rebuild was still held.
func checkDoneDuringRebuild(t *testing.T, a *testApp, ids []string, when string) {
	t.Helper()
	a.waitDrained(t)
	for _, id := range ids {
		if s := a.status(t, id); s.State != StateCompleted {
			t.Errorf("%s: %s is %s (%v), want completed", when, id, s.State, deref(s.LastError))
		}
	}
	if a.board.IsReady() {
		t.Fatalf("%s: the leaderboard is ready: the rebuild was not held", when)
	}
	if r := a.get(t, "/api/activity/leaderboard"); r.Status != 503 || !strings.Contains(r.str("error"), "rebuilding") {
		t.Errorf("%s: leaderboard %d %s, want 503 rebuilding", when, r.Status, r.Raw)
	}
}

// testRebuildWhileWorking starts hookd with redka.db missing on a store
// holding history, holds the rebuild before its snapshot and then after
// it, and sends work of every kind at each hold: all of it completes while
// the rebuild waits. Once the rebuild is released, redka equals the store,
// element by element: the activities committed before the snapshot are
// counted once (by the snapshot, not again from the feed), those after it
// once (from the feed).
func testRebuildWhileWorking(t *testing.T, c rebuildCase) {
	cfg, err := LoadConfig(testEnv(t, c.env))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clock = newTestClock(clockStart).Now
	held := &heldStore{before: newHold(), after: newHold()}
	a := startAppWith(t, cfg, func(app *App) {
		held.Store = app.store
		app.store = held
	})
	if !a.board.NeedsRebuild() {
		t.Fatal("redka.db is new, yet no rebuild")
	}
	<-held.before.reached
	ids := sendAll(t, a, c, 1, 300)
	checkDoneDuringRebuild(t, a, ids, "before the snapshot")

	close(held.before.release)
	<-held.after.reached
	ids = sendAll(t, a, c, 2, 300)
	checkDoneDuringRebuild(t, a, ids, "after the snapshot")

	close(held.after.release)
	a.waitBoard(t)
	sendAll(t, a, c, 3, 40) // the live feed, once the rebuild is done
	a.waitBoard(t)

	want := c.storeBoard(t)
	if len(want[leaderboardKey]) != len(c.users) || len(want) < 40 {
		t.Fatalf("the store has %d users with points and %d keys: the test proves little", len(want[leaderboardKey]), len(want))
	}
	if d := diffBoards(redkaData(t, a.board), want); d != "" {
		t.Errorf("redka differs from the store:\n%s", d)
	}
	if got, want := a.boardUsers(t, 100), c.storeUserTop(t); !reflect.DeepEqual(got, want) {
		t.Errorf("leaderboard route:\n got %v\nwant %v", got, want)
	}
}

func TestRebuildWhileWorking(t *testing.T) {
	dir := t.TempDir()
	users := make([]string, 150)
	for i := range users {
		users[i] = fmt.Sprintf("user-%03d", i)
	}
	db, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	seedStore(t, OpenSQLiteStore(db), seedRecords(30000, users))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	file := openFile(t, dir)
	testRebuildWhileWorking(t, rebuildCase{
		env:          map[string]string{"DATA_DIR": dir},
		users:        users,
		posts:        []string{"post-a", "post-b"},
		jobs:         []string{"job-a", "job-b"},
		storeBoard:   func(t *testing.T) boardData { return sqliteBoard(t, file) },
		storeUserTop: func(t *testing.T) []RankedUser { return storeTop(t, file, 100) },
	})
}

func TestPostgresRebuildWhileWorking(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	users := insertUsers(t, c, 150)
	posts := []string{"d0000000-0000-4000-8000-000000000001", "d0000000-0000-4000-8000-000000000002"}
	jobs := []string{"e0000000-0000-4000-8000-000000000001", "e0000000-0000-4000-8000-000000000002"}
	pgExec(t, c, `INSERT INTO posts (id, user_id) SELECT unnest($1::uuid[]), $2`, posts, users[0])
	pgExec(t, c, `INSERT INTO jobs (id, title) SELECT unnest($1::uuid[]), 'Go developer'`, jobs)
	pg, err := OpenPostgres(dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	seedStore(t, pg, seedRecords(30000, users))
	pg.Close()
	testRebuildWhileWorking(t, rebuildCase{
		env:          map[string]string{"DATABASE_URL": dbURL},
		users:        users,
		posts:        posts,
		jobs:         jobs,
		storeBoard:   func(t *testing.T) boardData { return pgBoard(t, c) },
		storeUserTop: func(t *testing.T) []RankedUser { return pgTop(t, c) },
	})
}

// A rebuild's wait (step 3 of Rebuild) is for the feed calls begun before
// its generation, however many generations ago, and not for later ones.
func TestFeedGateWaitsForOlderCalls(t *testing.T) {
	g := newFeedGate()
	stopped, cancel := context.WithCancel(context.Background())
	cancel() // waitOlder returns nil when nothing older runs, else the context's error
	leave0 := g.enter()
	gen1 := g.pin()
	leave1 := g.enter()
	gen2 := g.pin() // a second rebuild attempt: the call of generation 0 still runs
	if err := g.waitOlder(stopped, gen1); !errors.Is(err, context.Canceled) {
		t.Fatalf("a call older than generation 1 runs, yet waitOlder = %v", err)
	}
	leave0()
	if err := g.waitOlder(stopped, gen1); err != nil {
		t.Fatalf("only a call of generation 1 runs, yet waitOlder(1) = %v", err)
	}
	if err := g.waitOlder(stopped, gen2); !errors.Is(err, context.Canceled) {
		t.Fatalf("a call of generation 1 runs, yet waitOlder(2) = %v", err)
	}
	done := make(chan error)
	go func() { done <- g.waitOlder(context.Background(), gen2) }()
	leave1()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// loggedSource is a fixedSource whose activity_logs hold the given
// processingIds, and which can fail when asked about them, as a store
// that goes away at the end of a rebuild.
type loggedSource struct {
	fixedSource
	logged map[string]bool
	fail   bool
}

func (s loggedSource) LeaderboardSnapshot(context.Context) (LeaderboardSnapshot, error) {
	return s, nil
}

func (s loggedSource) Logged(_ context.Context, ids []string) (map[string]bool, error) {
	if s.fail {
		return nil, errors.New("connection reset")
	}
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = s.logged[id]
	}
	return out, nil
}

// A rebuild writes every row it is given, in whatever order, whatever the
// ids hold (quotes, backslashes, control characters, non-ASCII), adds up
// the partial sums of a target and hour, leaves out the dead hours and
// the types without trending, and spans several redka transactions, each
// leaving redka's element count right and its trigger in place. One that
// fails at its end (after a transaction has committed) leaves nothing
// behind once the next attempt succeeds, and the events recorded before
// either attempt count once: those the snapshot holds through it, the
// others on top.
func TestRebuildLoadsEveryRow(t *testing.T) {
	clock := newTestClock(clockStart)
	l, err := OpenLeaderboard(t.TempDir(), "embedded", testLogger(), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.db.ZSet().Add("trending:post:2025061012", "stale", 99); err != nil {
		t.Fatal(err)
	}
	want := boardData{}
	src := loggedSource{logged: map[string]bool{}}
	odd := []string{`quote"d`, `back\slash`, "tab\tnew\nline", "zéro-ünï-日本", "\x01ctl", "<html>&"}
	for i := range 3000 {
		u := UserScore{UserID: fmt.Sprintf("user-%d-%s", i, odd[i%len(odd)]), Score: int64(i%97 + 1)}
		src.users = append(src.users, u)
		want.add(leaderboardKey, u.UserID, u.Score)
	}
	types := []string{"post", "job", "Post", "comment"}
	for i := range loaderBufferRows * 3 / 2 {
		h := HourlyPoints{
			TargetType: types[i%len(types)],
			TargetID:   fmt.Sprintf("t-%d-%s", i%9000, odd[i%len(odd)]),
			Hour:       trendingSince.Add(time.Duration((i/4)%50-2) * time.Hour),
			Points:     int64(i%7 + 1),
		}
		src.hourly = append(src.hourly, h)
		if key, _, ok := trendingBucket(h.TargetType, h.TargetID, h.Hour, clockStart); ok {
			want.add(key, h.TargetID, h.Points)
		}
	}
	var events []ActivityEvent
	for i := range 50 {
		e := ActivityEvent{ProcessingID: fmt.Sprintf("live-%d", i), UserID: src.users[i].UserID,
			TargetType: "job", TargetID: "t-1-" + odd[1], Points: 10, At: clockStart}
		events = append(events, e)
		if i%2 == 0 {
			src.logged[e.ProcessingID] = true // in the snapshot already
		} else {
			want.add(leaderboardKey, e.UserID, 10)
			want.add(trendingKey("job", clockStart), e.TargetID, 10)
		}
	}
	l.Record(events)

	failing := src
	failing.fail = true
	if err := l.Rebuild(context.Background(), failing); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("the failing rebuild returned %v", err)
	}
	if n, err := l.db.ZSet().Len(leaderboardKey); n == 0 || err != nil {
		t.Fatalf("the failed rebuild committed nothing (%v): the test proves little", err)
	}
	if l.IsReady() {
		t.Fatal("ready after a failed rebuild")
	}
	if err := l.Rebuild(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if !l.IsReady() || !l.Settled() {
		t.Fatalf("after the rebuild: ready %v, settled %v", l.IsReady(), l.Settled())
	}
	if len(want) < 97 {
		t.Fatalf("%d keys expected: the test proves little", len(want))
	}
	if d := diffBoards(redkaData(t, l), want); d != "" {
		t.Errorf("redka after the rebuild:\n%s", d)
	}
	for key, elems := range want {
		if n, err := l.db.ZSet().Len(key); n != len(elems) || err != nil {
			t.Errorf("%s: redka counts %d elements (%v), want %d", key, n, err, len(elems))
		}
	}
	// redka's own writes still count: its trigger is back.
	if _, err := l.db.ZSet().Add(leaderboardKey, "newcomer", 1); err != nil {
		t.Fatal(err)
	}
	if n, err := l.db.ZSet().Len(leaderboardKey); n != len(want[leaderboardKey])+1 || err != nil {
		t.Errorf("after an element added through redka: %d elements (%v), want %d", n, err, len(want[leaderboardKey])+1)
	}
}
