package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nalgeon/redka"
	"golang.org/x/sync/errgroup"
)

// The leaderboard and the trending targets of SPEC §7 live in redka, in
// DATA_DIR/redka.db: sorted sets, which is what a Redis would have held in
// the original design. They are derived data. The store's activity_logs
// and users are the truth, and redka.db is rebuilt from them whenever it
// may have missed something: when the file is missing, or when the
// previous process did not shut down cleanly.
//
// Workers never write to redka themselves. After an activity's store
// transaction commits with a new log row, the Processor hands the event to
// Record, which appends it to a buffer and returns; one goroutine takes
// whatever events are pending and applies them in one redka transaction
// (group commit, as sqlite.go's writer does for hookd.db). redka is thus
// kept out of the HTTP path and out of the workers' latency.

// Redka keys.
const (
	leaderboardKey = "leaderboard"
	// cleanKey is set by a clean shutdown and deleted at open. Keeping the
	// marker inside redka.db, rather than in a file beside it, means a
	// deleted or replaced redka.db can never carry a stale "clean" flag.
	cleanKey = "hookd:clean"
	// trendingPrefix starts each hourly bucket's key:
	// trending:<targetType>:<yyyymmddhh>, the hour in UTC.
	trendingPrefix = "trending:"
)

// trendingTTL is how long a bucket lives from the start of its hour: as
// long as the widest trending window, maxTrendingHours buckets ending
// with the current one, can read it.
const trendingTTL = maxTrendingHours * time.Hour

// maxTrendingHours is the widest window the trending route accepts.
const maxTrendingHours = 48

// TrendingTypes are the target types that have trending buckets: the
// ones the trending route can ask for. Events on other types still count
// for the leaderboard.
var TrendingTypes = []string{"post", "job"}

// How the drainer gathers a batch. It looks at the buffer every
// batchIdle and writes once no event came in since the last look, the
// batch is batchMaxWait old, or it holds maxLeaderboardBatch events. Under
// steady traffic a batch spans batchMaxWait: a user or target that recurs
// within it is written once, so redka's cost per job falls as traffic
// grows; when traffic stops, the leaderboard catches up within about two
// batchIdle. Looking instead of being woken per event spares the workers
// a goroutine wake-up each.
const (
	maxLeaderboardBatch = 8192
	batchIdle           = 100 * time.Millisecond
	batchMaxWait        = 3 * time.Second
	// maxPendingEvents bounds the buffer while redka.db is slow or stuck;
	// events beyond it are dropped and the leaderboard is rebuilt at the
	// next start, rather than holding up the workers.
	maxPendingEvents = 1 << 17
)

// redkaPragma is passed explicitly: a nil map would make redka choose its
// own settings, and an empty one would set none.
var redkaPragma = map[string]string{
	"journal_mode": "wal",
	"synchronous":  "normal", // derived data: a lost commit is rebuilt, not lost
	"busy_timeout": "10000",
	"foreign_keys": "on", // redka's tables delete a key's elements by cascade
	"temp_store":   "memory",
	// SQLite's own checkpoint, after each commit past 1,000 pages, runs
	// on the one redka writer between its transactions, so the WAL is
	// written from its beginning again (at most 1.2 MiB in the WAL soak
	// test). A rebuild writes far more in one transaction; this cuts the
	// file back afterwards.
	"journal_size_limit": "33554432",
}

// ActivityEvent is one activity the store has just recorded as new.
type ActivityEvent struct {
	ProcessingID string // tells a rebuild whether its snapshot holds the event
	UserID       string
	TargetType   string
	TargetID     string
	Points       int
	At           time.Time // the event time, which picks the trending bucket
}

// event is what the leaderboard needs of a recorded activity.
func (a ActivityRecord) event() ActivityEvent {
	return ActivityEvent{ProcessingID: a.ProcessingID, UserID: a.UserID, TargetType: a.TargetType,
		TargetID: a.TargetID, Points: a.Points, At: a.At}
}

// UserScore is a user's engagement score in the store.
type UserScore struct {
	UserID string
	Score  int64
}

// HourlyPoints is the points a target earned in one hour (UTC).
type HourlyPoints struct {
	TargetType string
	TargetID   string
	Hour       time.Time
	Points     int64
}

// LeaderboardSource is what a rebuild reads from the results store; every
// Store is one.
type LeaderboardSource interface {
	// LeaderboardSnapshot pins the store as it is now, before it returns:
	// everything read through the snapshot shows the activity committed
	// up to that point and nothing committed later, however long the
	// reading takes.
	LeaderboardSnapshot(ctx context.Context) (LeaderboardSnapshot, error)
}

// LeaderboardSnapshot is the store at one point in time. A rebuild calls
// UserScores first (a store may hold a read transaction open until it
// returns), then TrendingSince, then Logged as often as it needs, then
// Close. Rows are handed over as they are read, never all collected:
// memory stays flat however big the history is.
type LeaderboardSnapshot interface {
	// UserScores calls fn with every user whose engagement score is
	// positive.
	UserScores(ctx context.Context, fn func(UserScore) error) error
	// TrendingSince calls fn with the points of the activity logs at or
	// after since, summed by target and hour, for the TrendingTypes, with
	// the target type in lowercase, in any order (each hour's rows
	// together are written fastest). A (type, target, hour) may come more
	// than once, as partial sums to be added up.
	TrendingSince(ctx context.Context, since time.Time, fn func(HourlyPoints) error) error
	// Logged returns the processingIds among ids that the snapshot's
	// activity_logs hold.
	Logged(ctx context.Context, ids []string) (map[string]bool, error)
	// Close releases what the snapshot holds.
	Close()
}

// RankedUser is one line of the leaderboard reply.
type RankedUser struct {
	UserID string `json:"userId"`
	Score  int64  `json:"score"`
	Rank   int    `json:"rank"`
}

// TrendingTarget is one line of the trending reply.
type TrendingTarget struct {
	TargetID   string `json:"targetId"`
	TargetType string `json:"targetType"`
	Points     int64  `json:"points"`
}

// Leaderboard is the redka-backed leaderboard and trending store.
type Leaderboard struct {
	db   *redka.DB
	log  *slog.Logger
	now  func() time.Time
	path string

	mu      sync.Mutex
	pending []ActivityEvent // recorded, not yet taken by the drainer
	closed  bool            // the drainer has taken its last batch
	wake    chan struct{}   // signalled by the first event of a batch
	ready   chan struct{}   // closed once the data is whole: clean at open, or rebuilt
	closing context.Context // done once Close has begun
	close   context.CancelFunc
	stopped chan struct{}
	feed    *feedGate // the activity handler's calls, for a rebuild to wait on

	needsRebuild bool
	dirty        atomic.Bool  // events were not written: rebuild at next start
	recorded     atomic.Int64 // events handed to Record
	settled      atomic.Int64 // events written, or given up on
	sweptHour    time.Time    // the drainer's last expiry sweep
}

// OpenLeaderboard opens (creating if needed) DATA_DIR/redka.db on the
// pure-Go "sqlite" driver. now is the clock for trending hours; nil means
// time.Now. NeedsRebuild reports afterwards whether the data must be
// rebuilt before it is served.
func OpenLeaderboard(dataDir string, log *slog.Logger, now func() time.Time) (*Leaderboard, error) {
	if now == nil {
		now = time.Now
	}
	path := filepath.Join(dataDir, "redka.db")
	_, statErr := os.Stat(path)
	missing := errors.Is(statErr, fs.ErrNotExist)
	db, err := openRedka(path)
	if err != nil {
		return nil, err
	}
	clean, err := takeCleanMarker(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !clean && !missing {
		// The rebuild refills redka.db from nothing: a new file is empty at
		// once, where deleting the elements of a busy one takes seconds.
		db.Close()
		if err := RemoveLeaderboardFiles(dataDir); err != nil {
			return nil, err
		}
		if db, err = openRedka(path); err != nil {
			return nil, err
		}
	}
	l := &Leaderboard{
		db: db, log: log, now: now, path: path,
		wake:         make(chan struct{}, 1),
		ready:        make(chan struct{}),
		stopped:      make(chan struct{}),
		feed:         newFeedGate(),
		needsRebuild: missing || !clean,
	}
	l.closing, l.close = context.WithCancel(context.Background())
	if !l.needsRebuild {
		close(l.ready)
	}
	go l.run()
	return l, nil
}

func openRedka(path string) (*redka.DB, error) {
	db, err := redka.Open(path, &redka.Options{DriverName: "sqlite", Pragma: redkaPragma, Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// takeCleanMarker reports whether the previous process left the clean
// shutdown marker, and deletes it: from now on, only this process's own
// clean shutdown can set it again.
func takeCleanMarker(db *redka.DB) (bool, error) {
	clean := false
	err := db.Update(func(tx *redka.Tx) error {
		n, err := tx.Key().Delete(cleanKey)
		clean = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("read the clean shutdown marker: %w", err)
	}
	return clean, nil
}

// RemoveLeaderboardFiles deletes redka.db and its WAL files. hookd does it
// when the leaderboard is disabled, so that enabling it again later
// rebuilds from the store instead of serving a leaderboard that missed
// the activity in between, and before rebuilding one not cleanly closed.
func RemoveLeaderboardFiles(dataDir string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		err := os.Remove(filepath.Join(dataDir, "redka.db"+suffix))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove redka.db: %w", err)
		}
	}
	return nil
}

// NeedsRebuild reports whether redka.db was missing or not cleanly closed.
func (l *Leaderboard) NeedsRebuild() bool { return l.needsRebuild }

// Ready is closed once the leaderboard may be served and written.
func (l *Leaderboard) Ready() <-chan struct{} { return l.ready }

// IsReady reports whether Ready is closed.
func (l *Leaderboard) IsReady() bool {
	select {
	case <-l.ready:
		return true
	default:
		return false
	}
}

// A rebuild runs while the workers go on scoring activity: it must end
// with redka equal to the store, each activity counted exactly once,
// although activities keep being committed and recorded meanwhile. It
// goes in four steps:
//
//  1. It pins a snapshot S of the store (LeaderboardSnapshot), then starts
//     a new feed generation (feedGate.pin). Every store transaction that
//     records activities runs inside a feed call: Feed wraps the activity
//     handler, which commits, then calls Record, then returns. A feed call
//     of the new generation began after S was pinned, so it commits after
//     S: S does not hold its events.
//  2. It writes S into an emptied redka.db: the users' engagement scores,
//     and the trending points summed by the store. Both count exactly the
//     activity committed before S.
//  3. It waits until no feed call of an older generation is running. From
//     then on, every event committed before S has been handed to Record,
//     and waits in the pending buffer: the drainer does not run before the
//     data is whole.
//  4. It takes the events pending at that moment and asks S which of their
//     processingIds it holds (Logged). Those are in what step 2 wrote and
//     are dropped; the others committed after S and are added. Events
//     recorded after the take come from feed calls of the new generation
//     (step 3 waited for the others), which S does not hold (step 1): the
//     drainer adds them, once the data is whole, like any event.
//
// So an event reaches redka once: through S if it committed before S,
// through step 4 or the drainer if after. A processingId names one log
// row, and Record is told only of new rows, so Logged tells the two cases
// apart exactly. If any step fails, the rebuild starts again from step 1
// with a new snapshot; the pending events stay pending until step 4 has
// written them.

// Rebuild replaces redka's data by the store's: every user's engagement
// score, and the trending buckets still alive (the last 48 hours, the
// current one included) from the activity logs. The workers keep running
// meanwhile (see above); the data is served once Ready is closed.
func (l *Leaderboard) Rebuild(ctx context.Context, src LeaderboardSource) error {
	if err := l.rebuild(ctx, src); err != nil {
		return fmt.Errorf("rebuild leaderboard: %w", err)
	}
	return nil
}

func (l *Leaderboard) rebuild(ctx context.Context, src LeaderboardSource) error {
	start := time.Now()
	now := l.now()
	snap, err := src.LeaderboardSnapshot(ctx)
	if err != nil {
		return err
	}
	defer snap.Close()
	gen := l.feed.pin()
	w, err := openRedkaLoader(ctx, l.path)
	if err != nil {
		return err
	}
	defer w.close()
	users, rows, err := w.loadSnapshot(ctx, snap, now)
	if err != nil {
		return err
	}
	if err := l.feed.waitOlder(ctx, gen); err != nil {
		return fmt.Errorf("wait for the activity jobs begun before the snapshot: %w", err)
	}
	l.mu.Lock()
	taken := l.pending[:len(l.pending):len(l.pending)] // Record only appends
	l.mu.Unlock()
	missed, err := missedBy(ctx, snap, taken)
	if err != nil {
		return err
	}
	if err := w.addEvents(ctx, missed, now); err != nil {
		return err
	}
	if err := w.write(ctx); err != nil { // what is still gathered
		return err
	}
	l.mu.Lock()
	l.pending = l.pending[len(taken):]
	close(l.ready)
	l.mu.Unlock()
	l.settled.Add(int64(len(taken)))
	l.log.Info("leaderboard rebuilt from the store", "users", users, "trendingRows", rows,
		"eventsDuringRebuild", len(taken), "eventsAfterSnapshot", len(missed), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// loggedChunk is how many processingIds one Logged call asks about.
const loggedChunk = 5000

// missedBy returns the events that the snapshot does not hold.
func missedBy(ctx context.Context, snap LeaderboardSnapshot, events []ActivityEvent) ([]ActivityEvent, error) {
	var missed []ActivityEvent
	for chunk := range slices.Chunk(events, loggedChunk) {
		ids := make([]string, len(chunk))
		for i, e := range chunk {
			ids[i] = e.ProcessingID
		}
		logged, err := snap.Logged(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, e := range chunk {
			if !logged[e.ProcessingID] {
				missed = append(missed, e)
			}
		}
	}
	return missed, nil
}

// feedGate counts the feed calls in flight by generation, so that a
// rebuild can wait for those begun before its snapshot (step 3 above).
type feedGate struct {
	mu    sync.Mutex
	gen   int
	calls map[int]int   // generation → calls in flight
	ended chan struct{} // closed, and replaced, when a generation's last call returns
}

func newFeedGate() *feedGate {
	return &feedGate{calls: map[int]int{}, ended: make(chan struct{})}
}

// enter counts a feed call in the current generation until leave is called.
func (g *feedGate) enter() (leave func()) {
	g.mu.Lock()
	gen := g.gen
	g.calls[gen]++
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.calls[gen]--; g.calls[gen] == 0 {
			delete(g.calls, gen)
			close(g.ended)
			g.ended = make(chan struct{})
		}
	}
}

// pin starts a new generation and returns it.
func (g *feedGate) pin() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gen++
	return g.gen
}

// waitOlder returns once no call of a generation before gen is in flight.
func (g *feedGate) waitOlder(ctx context.Context, gen int) error {
	for {
		g.mu.Lock()
		busy := false
		for c := range g.calls {
			busy = busy || c < gen
		}
		ended := g.ended
		g.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-ended:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Enter marks the start of a store write whose new activities will be
// handed to Record; the returned func marks its end, once they have been.
// A rebuild waits for the writes begun before its snapshot (see Rebuild).
func (l *Leaderboard) Enter() (leave func()) { return l.feed.enter() }

// How a rebuild writes. It gathers elements by key, up to
// loaderBufferRows (a few MiB), then writes them in one transaction,
// key after key, each key's in element order and in statements of
// loaderStatementRows. A key's index pages are then visited together and
// in order, within the loader's page cache, as long as the buffer holds
// most of a key's elements: when the store sends each bucket's rows
// together (Postgres sorts them), or nearly (the embedded store reads by
// rowid, and activity is logged roughly in time order). Rows of all hours
// mixed are written correctly, at a higher cost (BENCHMARKS.md).
const (
	loaderBufferRows    = 65536
	loaderStatementRows = 1000
	// redkaSchemaVersion is the user_version of the redka.db schema that
	// the loader's statements are written for (redka 1.0).
	redkaSchemaVersion = 1
)

// The loader writes redka's tables directly. A key is a row of rkey
// (type 5 is a sorted set; etime, the expiry in Unix milliseconds, is
// null for none; len, its number of elements) and its elements rows of
// rzset. Adding to an existing element adds the scores, as ZINCRBY does.
//
// redka keeps rkey.len with a trigger on rzset, which looks the element up
// and updates the key's row for every element inserted: half the cost of
// a rebuild's writes. So each of the loader's transactions drops it,
// counts the elements of the keys it wrote, and creates it again from its
// own definition, read from sqlite_master. The trigger is missing only
// inside that transaction, which holds redka.db's write lock: no other
// writer can insert meanwhile, readers see the committed state, with the
// trigger, and a crash rolls the drop back.
const (
	redkaClearSQL      = `DELETE FROM rkey` // rzset's rows go with their key (ON DELETE CASCADE)
	redkaLenTrigger    = `rzset_on_insert`
	redkaLenTriggerSQL = `SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = '` + redkaLenTrigger + `'`
	redkaZSetKeySQL    = `
INSERT INTO rkey (key, type, version, etime, mtime, len) VALUES (?1, 5, 1, ?2, ?3, 0)
ON CONFLICT (key) DO UPDATE SET version = rkey.version + 1, etime = excluded.etime, mtime = excluded.mtime
RETURNING id`
	redkaZSetAddSQL    = `INSERT INTO rzset (kid, elem, score) VALUES `
	redkaZSetAddUpsert = ` ON CONFLICT (kid, elem) DO UPDATE SET score = rzset.score + excluded.score`
	redkaZSetLenSQL    = `UPDATE rkey SET len = (SELECT count(*) FROM rzset WHERE kid = ?1) WHERE id = ?1`
)

// zsetAddSQL is the statement adding n elements: a key id, an element
// and a score for each. The parameters are anonymous: the driver looks
// each numbered one's name up in a list, which costs as much as the
// insert once a statement has thousands.
func zsetAddSQL(n int) string {
	return redkaZSetAddSQL + strings.Repeat("(?,?,?),", n-1) + "(?,?,?)" + redkaZSetAddUpsert
}

// redkaLoader writes a rebuild into redka.db through a connection of its
// own, bypassing redka's API: that runs two statements per element
// (measured: 17,000 elements a second), and a rebuild over a busy store
// writes a million; in statements of a thousand rows, without the
// trigger, one core writes about 250,000 a second.
type redkaLoader struct {
	db       *sql.DB
	trigger  string                // the definition of redkaLenTrigger
	keys     map[string]*loaderKey // the gathered elements, by key
	buffered int                   // elements in keys
	args     []any                 // a statement's parameters, reused
}

// loaderKey is a key's gathered elements.
type loaderKey struct {
	etime any // the key's expiry (Unix ms), or nil
	elems []loaderElem
}

type loaderElem struct {
	elem  string
	score float64
}

// openRedkaLoader opens redka.db (which redka.Open has created) for a
// rebuild, with redka's own settings, after checking that its schema is
// the one the loader writes.
func openRedkaLoader(ctx context.Context, path string) (*redkaLoader, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	for name, value := range redkaPragma {
		q.Add("_pragma", name+"("+value+")")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	var version int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if version != redkaSchemaVersion {
		db.Close()
		return nil, fmt.Errorf("%s has redka schema version %d; the rebuild writes version %d", path, version, redkaSchemaVersion)
	}
	w := &redkaLoader{db: db, keys: map[string]*loaderKey{}}
	if err := db.QueryRowContext(ctx, redkaLenTriggerSQL).Scan(&w.trigger); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: read the trigger %s: %w", path, redkaLenTrigger, err)
	}
	return w, nil
}

// loadSnapshot empties redka.db and writes the snapshot's scores and the
// live trending buckets (see trendingBucket) into it. The trending rows
// are read in one goroutine and written in another: on two cores, the
// rebuild takes about as long as the slower of the two, not their sum.
func (w *redkaLoader) loadSnapshot(ctx context.Context, snap LeaderboardSnapshot, now time.Time) (users, rows int, err error) {
	if _, err := w.db.ExecContext(ctx, redkaClearSQL); err != nil {
		return 0, 0, fmt.Errorf("clear redka.db: %w", err)
	}
	err = snap.UserScores(ctx, func(u UserScore) error {
		users++
		return w.add(ctx, leaderboardKey, nil, u.UserID, float64(u.Score))
	})
	if err != nil {
		return 0, 0, err
	}
	since := now.UTC().Truncate(time.Hour).Add(time.Hour - trendingTTL)
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []HourlyPoints, 2)
	g.Go(func() error {
		defer close(batches)
		return readInBatches(gctx, batches, func(fn func(HourlyPoints) error) error {
			return snap.TrendingSince(gctx, since, fn)
		})
	})
	g.Go(func() error {
		for batch := range batches {
			for _, h := range batch {
				key, expiry, ok := trendingBucket(h.TargetType, h.TargetID, h.Hour, now)
				if !ok {
					continue
				}
				rows++
				if err := w.add(gctx, key, redkaExpiry(expiry, now), h.TargetID, float64(h.Points)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return users, rows, g.Wait()
}

// pipeBatch is how many rows travel at a time from the goroutine reading
// the store to the one writing redka.
const pipeBatch = 4096

// readInBatches runs read, sending the rows it gives in batches to out.
func readInBatches(ctx context.Context, out chan<- []HourlyPoints, read func(func(HourlyPoints) error) error) error {
	batch := make([]HourlyPoints, 0, pipeBatch)
	send := func() error {
		select {
		case out <- batch:
			batch = make([]HourlyPoints, 0, pipeBatch)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := read(func(row HourlyPoints) error {
		if batch = append(batch, row); len(batch) == pipeBatch {
			return send()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = send()
	}
	return err
}

// addEvents adds events' points, summed per element first.
func (w *redkaLoader) addEvents(ctx context.Context, events []ActivityEvent, now time.Time) error {
	users := map[string]float64{}
	buckets := newBucketPoints(now)
	for _, e := range events {
		users[e.UserID] += float64(e.Points)
		buckets.add(e.TargetType, e.TargetID, e.At, int64(e.Points))
	}
	for user, points := range users {
		if err := w.add(ctx, leaderboardKey, nil, user, points); err != nil {
			return err
		}
	}
	for key, targets := range buckets.points {
		for target, points := range targets {
			if err := w.add(ctx, key, redkaExpiry(buckets.expiries[key], now), target, points); err != nil {
				return err
			}
		}
	}
	return nil
}

// redkaExpiry is a bucket's expiry on redka's clock: redka compares
// etime with its own time, so the bucket lives expiry-now from now, as
// Expire would set it (see bucketPoints.write).
func redkaExpiry(expiry, now time.Time) any {
	return time.Now().Add(expiry.Sub(now)).UnixMilli()
}

// add adds score to elem in the sorted set key, whose expiry is etime.
func (w *redkaLoader) add(ctx context.Context, key string, etime any, elem string, score float64) error {
	k := w.keys[key]
	if k == nil {
		k = &loaderKey{etime: etime}
		w.keys[key] = k
	}
	k.elems = append(k.elems, loaderElem{elem, score})
	if w.buffered++; w.buffered == loaderBufferRows {
		return w.write(ctx)
	}
	return nil
}

// write writes the gathered elements in one transaction.
func (w *redkaLoader) write(ctx context.Context) error {
	if w.buffered == 0 {
		return nil
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin a redka.db transaction: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, `DROP TRIGGER `+redkaLenTrigger); err != nil {
		return fmt.Errorf("drop the trigger %s: %w", redkaLenTrigger, err)
	}
	full, err := tx.PrepareContext(ctx, zsetAddSQL(loaderStatementRows))
	if err != nil {
		return fmt.Errorf("prepare the redka.db insert: %w", err)
	}
	for _, key := range slices.Sorted(maps.Keys(w.keys)) {
		if err := w.writeKey(ctx, tx, full, key, w.keys[key]); err != nil {
			return err
		}
	}
	if err := full.Close(); err != nil {
		return fmt.Errorf("close the redka.db insert: %w", err)
	}
	if _, err := tx.ExecContext(ctx, w.trigger); err != nil {
		return fmt.Errorf("create the trigger %s again: %w", redkaLenTrigger, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit to redka.db: %w", err)
	}
	clear(w.keys)
	w.buffered = 0
	return nil
}

// writeKey writes a key's elements in element order, summed per element.
func (w *redkaLoader) writeKey(ctx context.Context, tx *sql.Tx, full *sql.Stmt, key string, k *loaderKey) error {
	var kid int64
	if err := tx.QueryRowContext(ctx, redkaZSetKeySQL, key, k.etime, time.Now().UnixMilli()).Scan(&kid); err != nil {
		return fmt.Errorf("write key %s: %w", key, err)
	}
	slices.SortFunc(k.elems, func(a, b loaderElem) int { return strings.Compare(a.elem, b.elem) })
	elems := k.elems[:0] // summed in place: the write index never passes the read one
	for _, e := range k.elems {
		if n := len(elems); n > 0 && elems[n-1].elem == e.elem {
			elems[n-1].score += e.score
			continue
		}
		elems = append(elems, e)
	}
	for chunk := range slices.Chunk(elems, loaderStatementRows) {
		w.args = w.args[:0]
		for _, e := range chunk {
			w.args = append(w.args, kid, []byte(e.elem), e.score)
		}
		var err error
		if len(chunk) == loaderStatementRows {
			_, err = full.ExecContext(ctx, w.args...)
		} else {
			_, err = tx.ExecContext(ctx, zsetAddSQL(len(chunk)), w.args...)
		}
		if err != nil {
			return fmt.Errorf("write %d elements of %s: %w", len(chunk), key, err)
		}
	}
	if _, err := tx.ExecContext(ctx, redkaZSetLenSQL, kid); err != nil {
		return fmt.Errorf("count the elements of %s: %w", key, err)
	}
	return nil
}

// close closes the loader's connection.
func (w *redkaLoader) close() { w.db.Close() }

// trendingBucket names the bucket of an event on a target at a time, and
// when that bucket expires. ok is false when the event has no bucket: a
// type without trending, no target, or an hour already expired.
func trendingBucket(targetType, targetID string, at, now time.Time) (key string, expiry time.Time, ok bool) {
	targetType = strings.ToLower(targetType)
	if targetID == "" || !slices.Contains(TrendingTypes, targetType) {
		return "", time.Time{}, false
	}
	hour := at.UTC().Truncate(time.Hour)
	expiry = hour.Add(trendingTTL)
	if !expiry.After(now) {
		return "", time.Time{}, false
	}
	return trendingKey(targetType, hour), expiry, true
}

func trendingKey(targetType string, hour time.Time) string {
	return trendingPrefix + targetType + ":" + hour.UTC().Format("2006010215")
}

// bucketPoints sums points by trending bucket and target, so that each
// element is written once.
type bucketPoints struct {
	now      time.Time
	points   map[string]map[string]float64 // bucket key → target → points
	expiries map[string]time.Time
}

func newBucketPoints(now time.Time) *bucketPoints {
	return &bucketPoints{now: now, points: map[string]map[string]float64{}, expiries: map[string]time.Time{}}
}

// add counts points for a target at a time, unless the event has no live
// bucket (see trendingBucket).
func (b *bucketPoints) add(targetType, targetID string, at time.Time, points int64) {
	key, expiry, ok := trendingBucket(targetType, targetID, at, b.now)
	if !ok {
		return
	}
	if b.points[key] == nil {
		b.points[key] = map[string]float64{}
	}
	b.points[key][targetID] += float64(points)
	b.expiries[key] = expiry
}

// write adds the points to the buckets and sets each one's expiry. redka
// counts a TTL from its own clock, so the expiry is given as a duration
// from now: with an injected clock, the bucket still lives exactly
// trendingTTL from its hour's start as that clock sees it.
func (b *bucketPoints) write(tx *redka.Tx) error {
	for key, targets := range b.points {
		for target, points := range targets {
			if _, err := tx.ZSet().Incr(key, target, points); err != nil {
				return fmt.Errorf("add to %s: %w", key, err)
			}
		}
		if err := tx.Key().Expire(key, b.expiries[key].Sub(b.now)); err != nil {
			return fmt.Errorf("expire %s: %w", key, err)
		}
	}
	return nil
}

// Record takes the events whose log rows the store has just inserted. It
// never waits for redka. The store transaction that inserted them must
// have run inside a Feed call, for a rebuild running meanwhile to count
// them exactly once.
func (l *Leaderboard) Record(events []ActivityEvent) {
	l.recorded.Add(int64(len(events)))
	l.mu.Lock()
	if l.closed || len(l.pending)+len(events) > maxPendingEvents {
		l.mu.Unlock()
		l.lose(len(events), "the leaderboard is closed or too far behind")
		return
	}
	first := len(l.pending) == 0
	l.pending = append(l.pending, events...)
	l.mu.Unlock()
	if first {
		notify(l.wake)
	}
}

// lose gives up on events: redka.db will be rebuilt at the next start.
func (l *Leaderboard) lose(n int, why string) {
	l.dirty.Store(true)
	l.settled.Add(int64(n))
	l.log.Error("activity events not written to the leaderboard; redka.db will be rebuilt at next start", "events", n, "why", why)
}

// Settled reports whether every recorded event has been written (or
// given up on, which marks redka.db for a rebuild).
func (l *Leaderboard) Settled() bool { return l.settled.Load() == l.recorded.Load() }

// run is the drainer: once the data is whole, it gathers and writes
// batches until Close, then writes what is left.
func (l *Leaderboard) run() {
	defer close(l.stopped)
	select {
	case <-l.ready:
	case <-l.closing.Done():
		return
	}
	for {
		select {
		case <-l.wake:
			l.gather()
			if batch := l.take(false); len(batch) > 0 {
				l.write(batch)
			}
		case <-l.closing.Done():
			if batch := l.take(true); len(batch) > 0 {
				l.write(batch)
			}
			return
		}
	}
}

// gather waits while the batch grows (see batchIdle).
func (l *Leaderboard) gather() {
	start := time.Now()
	seen := -1
	for {
		l.mu.Lock()
		n := len(l.pending)
		l.mu.Unlock()
		if n == seen || n >= maxLeaderboardBatch || time.Since(start) >= batchMaxWait || l.closing.Err() != nil {
			return
		}
		seen = n
		sleep(l.closing, batchIdle)
	}
}

// take removes the pending events; final makes later Records lose theirs.
func (l *Leaderboard) take(final bool) []ActivityEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	batch := l.pending
	l.pending = nil
	l.closed = final
	return batch
}

// write applies a batch in one redka transaction. A batch that cannot be
// written is not retried: the leaderboard is marked for a rebuild at the
// next start, which recomputes it from the store.
func (l *Leaderboard) write(batch []ActivityEvent) {
	now := l.now()
	err := l.db.Update(func(tx *redka.Tx) error {
		if err := applyEvents(tx, batch, now); err != nil {
			return err
		}
		return l.sweep(tx, now)
	})
	l.settled.Add(int64(len(batch)))
	if err != nil {
		l.dirty.Store(true)
		l.log.Error("leaderboard write failed; redka.db will be rebuilt at next start", "events", len(batch), "err", err)
	}
}

// applyEvents adds a batch's points: ZINCRBY on the leaderboard for each
// user and on the event hour's trending bucket for each target, summed
// per element first so that each is written once.
func applyEvents(tx *redka.Tx, batch []ActivityEvent, now time.Time) error {
	users := map[string]float64{}
	buckets := newBucketPoints(now)
	for _, e := range batch {
		users[e.UserID] += float64(e.Points)
		buckets.add(e.TargetType, e.TargetID, e.At, int64(e.Points))
	}
	for user, points := range users {
		if _, err := tx.ZSet().Incr(leaderboardKey, user, points); err != nil {
			return fmt.Errorf("add to the leaderboard: %w", err)
		}
	}
	return buckets.write(tx)
}

// sweep deletes the buckets that have expired by the leaderboard's clock,
// once per hour of it. redka expires them by its own clock too; sweeping
// makes expiry follow the clock that reads the buckets.
func (l *Leaderboard) sweep(tx *redka.Tx, now time.Time) error {
	hour := now.UTC().Truncate(time.Hour)
	if hour.Equal(l.sweptHour) {
		return nil
	}
	keys, err := tx.Key().Keys(trendingPrefix + "*")
	if err != nil {
		return fmt.Errorf("list trending buckets: %w", err)
	}
	var expired []string
	for _, k := range keys {
		name := k.Key
		stamp := name[strings.LastIndexByte(name, ':')+1:]
		h, err := time.Parse("2006010215", stamp)
		if err == nil && !h.Add(trendingTTL).After(now) {
			expired = append(expired, name)
		}
	}
	if len(expired) > 0 {
		if _, err := tx.Key().Delete(expired...); err != nil {
			return fmt.Errorf("delete expired buckets: %w", err)
		}
	}
	l.sweptHour = hour
	return nil
}

// Top returns the limit best users, score descending and ties by userId
// ascending. It uses by-score range queries, which walk the score index
// (by-rank ranges number the whole set first): the top limit by score,
// then, for the lowest score among them, the tied users in userId order,
// since redka's descending range also orders ties descending.
func (l *Leaderboard) Top(ctx context.Context, limit int) ([]RankedUser, error) {
	var out []RankedUser
	err := l.db.ViewContext(ctx, func(tx *redka.Tx) error {
		top, err := tx.ZSet().RangeWith(leaderboardKey).ByScore(-math.MaxFloat64, math.MaxFloat64).Desc().Count(limit).Run()
		if err != nil || len(top) == 0 {
			return err
		}
		cut := top[len(top)-1].Score
		for _, it := range top {
			if it.Score > cut || len(top) < limit {
				out = append(out, RankedUser{UserID: it.Elem.String(), Score: int64(it.Score)})
			}
		}
		if len(top) < limit {
			return nil
		}
		tied, err := tx.ZSet().RangeWith(leaderboardKey).ByScore(cut, cut).Asc().Count(limit - len(out)).Run()
		for _, it := range tied {
			out = append(out, RankedUser{UserID: it.Elem.String(), Score: int64(it.Score)})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read leaderboard: %w", err)
	}
	slices.SortFunc(out, func(a, b RankedUser) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.UserID, b.UserID))
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	return out, nil
}

// Trending sums the last hours buckets of a target type, the current hour
// included, and returns the limit targets with the most points, ties by
// targetId ascending. A sum over buckets is a union, not a range, so the
// union's result is ordered here.
func (l *Leaderboard) Trending(ctx context.Context, targetType string, hours, limit int) ([]TrendingTarget, error) {
	current := l.now().UTC().Truncate(time.Hour)
	keys := make([]string, hours)
	for i := range keys {
		keys[i] = trendingKey(targetType, current.Add(-time.Duration(i)*time.Hour))
	}
	var out []TrendingTarget
	err := l.db.ViewContext(ctx, func(tx *redka.Tx) error {
		items, err := tx.ZSet().UnionWith(keys...).Sum().Run()
		out = make([]TrendingTarget, 0, len(items))
		for _, it := range items {
			out = append(out, TrendingTarget{TargetID: it.Elem.String(), TargetType: targetType, Points: int64(it.Score)})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read trending %s: %w", targetType, err)
	}
	slices.SortFunc(out, func(a, b TrendingTarget) int {
		return cmp.Or(cmp.Compare(b.Points, a.Points), cmp.Compare(a.TargetID, b.TargetID))
	})
	return out[:min(limit, len(out))], nil
}

// Close writes the pending events, then, when the data is whole and every
// batch was written, sets the clean shutdown marker, and closes redka.db.
// Call it after the workers have stopped.
func (l *Leaderboard) Close() error {
	l.close()
	<-l.stopped
	var merr error
	if l.IsReady() && !l.dirty.Load() {
		merr = l.db.Update(func(tx *redka.Tx) error { return tx.Str().Set(cleanKey, "1") })
		if merr != nil {
			merr = fmt.Errorf("mark %s cleanly closed: %w", l.path, merr)
		}
	}
	if err := l.db.Close(); err != nil && merr == nil {
		merr = fmt.Errorf("close %s: %w", l.path, err)
	}
	return merr
}
