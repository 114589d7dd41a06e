package main

// The leaderboard's rebuild from the results store, beside the workers.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

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

// A rebuild runs while the workers go on scoring activity: it must end
// with redka equal to the store, each activity counted exactly once,
// although activities keep being committed and recorded meanwhile. It
// goes in four steps:
//
//  1. It pins a snapshot S of the store (LeaderboardSnapshot), then starts
//     a new feed generation (feedGate.pin). Every store transaction that
//     records activities runs inside a feed call: the activity work enters
//     the feed (Enter) before its store write, calls Record after the
//     commit, then leaves. A feed call
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
	if err := l.db.Str().Set(sourceKey, l.source); err != nil {
		return fmt.Errorf("record the store it was built from: %w", err)
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
