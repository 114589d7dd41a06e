package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Result is how one job's work ended. A nil Err completes the job with
// Value (stored as JSON); an error marked Permanent fails it at once; an
// error marked Unavailable (the results store is down) gives it back
// without spending an attempt; any other error retries it with backoff.
type Result struct {
	Value any
	Err   error
}

// WorkFunc does claimed jobs of one queue and returns one Result per
// job, in order.
type WorkFunc func(ctx context.Context, jobs []Job) []Result

// Pool runs one queue's jobs on at most Size goroutines, each doing up to
// Batch jobs per call of Work.
type Pool struct {
	Queue   Worklist
	Name    string
	Size    int
	Batch   int // jobs per call of Work; 0 means 1
	Work    WorkFunc
	Timeout time.Duration // per call of Work; shorter than the lease
	Gate    *StoreGate
	Log     *slog.Logger
}

// Run claims and runs jobs until stop is cancelled, then waits for the
// jobs it started. Jobs run under hard: cancelling it (the shutdown
// deadline) interrupts them, and they are released back to waiting.
//
// A job's outcome is handed to an acker that records whatever outcomes are
// pending in one transaction, and the job's slot is free at once: its
// results are already committed, so waiting for the ack's fsync too would
// only halve the pool's rate. A crash before the ack commits leaves the
// job active; it runs again at the next start, and every handler is
// idempotent.
func (p *Pool) Run(stop, hard context.Context) error {
	batch := max(p.Batch, 1)
	acks := make(chan Ack, p.Size*batch)
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		p.ackLoop(context.WithoutCancel(hard), acks)
	}()
	defer func() {
		close(acks)
		<-acked
	}()
	var g errgroup.Group
	g.SetLimit(p.Size)
	var running atomic.Int64
	freed := make(chan struct{}, 1)
	for stop.Err() == nil {
		if p.Gate.Wait(stop) != nil {
			continue
		}
		free := p.Size - int(running.Load())
		if free <= 0 {
			select {
			case <-freed:
			case <-stop.Done():
			}
			continue
		}
		jobs, err := p.Queue.Claim(stop, p.Name, free*batch)
		if err != nil {
			if stop.Err() == nil {
				p.Log.Error("claim failed", "queue", p.Name, "err", err)
				sleep(stop, time.Second)
			}
			continue
		}
		for chunk := range slices.Chunk(jobs, batch) {
			running.Add(1)
			g.Go(func() error {
				done := p.run(hard, chunk)
				running.Add(-1)
				notify(freed)
				for _, a := range done {
					acks <- a
				}
				return nil
			})
		}
		if len(jobs) < free*batch {
			p.waitForWork(stop)
		}
	}
	return g.Wait()
}

// ackLoop records outcomes as they come, all those pending in one
// transaction, until acks is closed and drained. It runs under a context
// that outlives shutdown: the queue's writer is closed only after the
// pools.
func (p *Pool) ackLoop(ctx context.Context, acks <-chan Ack) {
	batch := make([]Ack, 0, cap(acks))
	for a := range acks {
		batch = append(batch[:0], a)
	more:
		for len(batch) < cap(batch) {
			select {
			case a, ok := <-acks:
				if !ok {
					break more
				}
				batch = append(batch, a)
			default:
				break more
			}
		}
		p.ack(ctx, batch)
	}
}

func (p *Pool) ack(ctx context.Context, batch []Ack) {
	current, err := p.Queue.Ack(ctx, batch)
	if err != nil {
		p.Log.Error("ack failed; the jobs will run again when their lease expires",
			"queue", p.Name, "jobs", len(batch), "err", err)
		return
	}
	for i, ok := range current {
		if !ok {
			p.Log.Warn("stale claim: the lease had expired and the job was handed out again; outcome discarded",
				"queue", p.Name, "processingId", batch[i].Job.ProcessingID, "attempt", batch[i].Job.Attempt)
		}
	}
}

// waitForWork sleeps until an enqueue signals the queue, the earliest
// retry comes due, or stop.
func (p *Pool) waitForWork(stop context.Context) {
	var due <-chan time.Time
	if at, ok, err := p.Queue.NextRetry(stop, p.Name); err != nil {
		p.Log.Error("read next retry time", "queue", p.Name, "err", err)
		due = time.After(time.Second)
	} else if ok {
		due = time.After(time.Until(at))
	}
	select {
	case <-p.Queue.Ready(p.Name):
	case <-due:
	case <-stop.Done():
	}
}

// run processes a chunk of jobs and says how each ended.
func (p *Pool) run(hard context.Context, jobs []Job) []Ack {
	ctx, cancel := context.WithTimeout(hard, p.Timeout)
	out := p.work(ctx, jobs)
	cancel()
	acks := make([]Ack, len(jobs))
	for i, j := range jobs {
		acks[i] = p.ackFor(hard, j, out[i])
	}
	return acks
}

// ackFor turns a job's Result into the ack that records it.
func (p *Pool) ackFor(hard context.Context, j Job, o Result) Ack {
	if o.Err == nil {
		b, err := json.Marshal(o.Value)
		if err != nil {
			b = []byte(`null`)
		}
		return Ack{Job: j, Result: b}
	}
	err := o.Err
	log := p.Log.With("queue", j.Queue, "processingId", j.ProcessingID, "attempt", j.Attempt)
	switch {
	case hard.Err() != nil:
		log.Warn("job interrupted by shutdown, released to waiting", "err", err)
		return Ack{Job: j, Release: "interrupted by shutdown"}
	case IsUnavailable(err) && p.Gate.Confirm(hard, err):
		log.Warn("results store unavailable, job released without spending an attempt", "err", err)
		return Ack{Job: j, Release: "results store unavailable: " + err.Error()}
	}
	a := Ack{Job: j, Err: err, Permanent: IsPermanent(err)}
	log.Warn("job failed", "err", err, "permanent", a.Permanent, "willRetry", a.state() == StateDelayed)
	return a
}

// work calls Work, turning a panic into a permanent error for the chunk
// so that one poisoned job cannot take the process down.
func (p *Pool) work(ctx context.Context, jobs []Job) (out []Result) {
	defer func() {
		if v := recover(); v != nil {
			out = failAll(len(jobs), Permanent(fmt.Errorf("panic: %v", v)))
		}
	}()
	out = p.Work(ctx, jobs)
	if len(out) != len(jobs) {
		return failAll(len(jobs), Permanent(fmt.Errorf("work returned %d results for %d jobs", len(out), len(jobs))))
	}
	return out
}

func failAll(n int, err error) []Result {
	out := make([]Result, n)
	for i := range out {
		out[i].Err = err
	}
	return out
}

// StoreGate holds the worker pools while the results store is down, so
// queued jobs wait in the queue instead of spending their attempts. When a
// job reports the store unavailable and a ping confirms it, the gate
// closes and pings the store with a capped backoff until it answers.
type StoreGate struct {
	ping func(context.Context) error
	life context.Context // bounds the probing
	log  *slog.Logger

	mu      sync.Mutex
	open    chan struct{} // closed while the store is up
	problem string
}

// NewStoreGate returns an open gate. ping must report an unreachable (or
// unusable) store as an error; life ends the probing at shutdown.
func NewStoreGate(life context.Context, ping func(context.Context) error, log *slog.Logger) *StoreGate {
	g := &StoreGate{ping: ping, life: life, log: log, open: make(chan struct{})}
	close(g.open)
	return g
}

// Wait returns once the store is up, or with ctx's error.
func (g *StoreGate) Wait(ctx context.Context) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Problem says why the store is down, "" while it is up.
func (g *StoreGate) Problem() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.problem
}

// Confirm pings the store after a job reported it unavailable. It closes
// the gate and returns true when the ping fails too; a store that answers
// was only slow or flaky for that job, which then retries as usual.
func (g *StoreGate) Confirm(ctx context.Context, cause error) bool {
	if g.Problem() != "" {
		return true
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := g.ping(pctx)
	cancel()
	if err == nil {
		return false
	}
	g.Trip(err)
	return true
}

// Trip closes the gate for cause and starts probing, unless it is closed
// already.
func (g *StoreGate) Trip(cause error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.problem != "" {
		return
	}
	g.problem = "results store unavailable: " + cause.Error()
	g.open = make(chan struct{})
	g.log.Warn("results store unavailable: pausing workers, webhooks are still accepted", "err", cause)
	go g.probe()
}

func (g *StoreGate) probe() {
	delay := 250 * time.Millisecond
	for {
		sleep(g.life, delay)
		if g.life.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(g.life, 5*time.Second)
		err := g.ping(ctx)
		cancel()
		g.mu.Lock()
		if err == nil {
			g.problem = ""
			close(g.open)
			g.mu.Unlock()
			g.log.Info("results store is back: resuming workers")
			return
		}
		g.problem = "results store unavailable: " + err.Error()
		g.mu.Unlock()
		delay = min(2*delay, 10*time.Second)
	}
}

// Maintenance takes back expired leases and prunes old completed jobs and
// delivery keys.
type Maintenance struct {
	Queue     Upkeep
	Lease     time.Duration
	Retention time.Duration
	Log       *slog.Logger
}

// Run loops until ctx is cancelled.
func (m *Maintenance) Run(ctx context.Context) error {
	reap := time.NewTicker(min(max(m.Lease/4, 100*time.Millisecond), 5*time.Second))
	defer reap.Stop()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reap.C:
			if n, err := m.Queue.ReapExpired(ctx); err != nil {
				m.Log.Error("reaper", "err", err)
			} else if n > 0 {
				m.Log.Warn("reaper took back jobs whose lease expired", "jobs", n)
			}
		case <-prune.C:
			m.prune(ctx, time.Now())
		}
	}
}

// prune deletes completed jobs older than Retention and delivery keys
// older than DeliveryKeyTTL.
func (m *Maintenance) prune(ctx context.Context, now time.Time) {
	if n, err := m.Queue.PruneCompleted(ctx, now.Add(-m.Retention)); err != nil {
		m.Log.Error("prune", "err", err)
	} else if n > 0 {
		m.Log.Info("pruned completed jobs", "jobs", n, "olderThan", m.Retention)
	}
	if n, err := m.Queue.PruneDeliveries(ctx, now.Add(-DeliveryKeyTTL)); err != nil {
		m.Log.Error("prune", "err", err)
	} else if n > 0 {
		m.Log.Info("pruned delivery keys", "keys", n, "olderThan", DeliveryKeyTTL)
	}
}

// runPools runs every pool and the maintenance loop until stop, then
// waits for the pools' jobs (interrupted once hard is cancelled).
func runPools(stop, hard context.Context, pools []*Pool, m *Maintenance) error {
	var g errgroup.Group
	for _, p := range pools {
		g.Go(func() error { return p.Run(stop, hard) })
	}
	g.Go(func() error { return m.Run(stop) })
	return g.Wait()
}

// notify signals c without blocking; a signal already pending is enough.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
