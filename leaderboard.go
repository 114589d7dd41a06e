package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nalgeon/redka"
)

// The leaderboard (users by engagement score) and the trending targets
// (docs/api.md) live in redka, in DATA_DIR/redka.db: sorted sets, as a
// Redis would hold them. They are derived data. The store's activity_logs
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
	// sourceKey names the results store redka.db was built from (see
	// Config.StoreIdentity): a data dir moved from the embedded store to
	// Postgres, or to another database, must not keep the leaderboard of
	// the old one.
	sourceKey = "hookd:source"
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
	db     *redka.DB
	log    *slog.Logger
	now    func() time.Time
	path   string
	source string // the results store it is derived from

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
func OpenLeaderboard(dataDir, source string, log *slog.Logger, now func() time.Time) (*Leaderboard, error) {
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
	if err == nil && clean {
		clean, err = builtFrom(db, source)
		if err == nil && !clean {
			log.Info("redka.db was built from another results store: rebuilding it from this one")
		}
	}
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
		db: db, log: log, now: now, path: path, source: source,
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

// builtFrom reports whether redka.db was built from source.
func builtFrom(db *redka.DB, source string) (bool, error) {
	v, err := db.Str().Get(sourceKey)
	if errors.Is(err, redka.ErrNotFound) {
		return false, nil // built by a hookd that did not record it
	}
	if err != nil {
		return false, fmt.Errorf("read the store it was built from: %w", err)
	}
	return v.String() == source, nil
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
// have run between Enter and the func Enter returned, with Record called
// before that func (as ScoreActivities does), for a rebuild running
// meanwhile to count them exactly once.
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
	users, buckets := sumEvents(batch, now)
	for user, points := range users {
		if _, err := tx.ZSet().Incr(leaderboardKey, user, points); err != nil {
			return fmt.Errorf("add to the leaderboard: %w", err)
		}
	}
	return buckets.write(tx)
}

// sumEvents sums events' points per user and per trending bucket, so
// that each element is written once.
func sumEvents(events []ActivityEvent, now time.Time) (map[string]float64, *bucketPoints) {
	users := map[string]float64{}
	buckets := newBucketPoints(now)
	for _, e := range events {
		users[e.UserID] += float64(e.Points)
		buckets.add(e.TargetType, e.TargetID, e.At, int64(e.Points))
	}
	return users, buckets
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
