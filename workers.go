package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// HandlerFunc processes one job. A nil error completes it; an error marked
// Permanent fails it at once; any other error retries it with backoff.
type HandlerFunc func(ctx context.Context, j Job) (any, error)

// Pool runs one queue's jobs on at most Size goroutines.
type Pool struct {
	Queue   *Queue
	Name    string
	Size    int
	Handle  HandlerFunc
	Timeout time.Duration // per job; shorter than the lease
	Log     *slog.Logger
}

// Run claims and runs jobs until stop is cancelled, then waits for the
// jobs it started. Jobs run under hard: cancelling it (the shutdown
// deadline) interrupts them, and they are released back to waiting.
func (p *Pool) Run(stop, hard context.Context) error {
	var g errgroup.Group
	g.SetLimit(p.Size)
	var running atomic.Int64
	freed := make(chan struct{}, 1)
	for stop.Err() == nil {
		free := p.Size - int(running.Load())
		if free <= 0 {
			select {
			case <-freed:
			case <-stop.Done():
			}
			continue
		}
		jobs, err := p.Queue.Claim(stop, p.Name, free)
		if err != nil {
			if stop.Err() == nil {
				p.Log.Error("claim failed", "queue", p.Name, "err", err)
				sleep(stop, time.Second)
			}
			continue
		}
		for _, j := range jobs {
			running.Add(1)
			g.Go(func() error {
				defer func() {
					running.Add(-1)
					notify(freed)
				}()
				p.run(hard, j)
				return nil
			})
		}
		if len(jobs) < free {
			p.waitForWork(stop)
		}
	}
	return g.Wait()
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

// run processes one job and records the outcome. Acks use a context that
// outlives shutdown: the queue's writer is closed only after the pools.
func (p *Pool) run(hard context.Context, j Job) {
	ctx, cancel := context.WithTimeout(hard, p.Timeout)
	result, err := p.handle(ctx, j)
	cancel()
	log := p.Log.With("queue", j.Queue, "processingId", j.ProcessingID, "attempt", j.Attempt)
	ack := context.WithoutCancel(hard)
	var current bool
	var ackErr error
	switch {
	case err == nil:
		b, merr := json.Marshal(result)
		if merr != nil {
			b = []byte(`null`)
		}
		current, ackErr = p.Queue.Complete(ack, j, b)
	case hard.Err() != nil:
		log.Warn("job interrupted by shutdown, released to waiting", "err", err)
		current, ackErr = p.Queue.Release(ack, j)
	default:
		permanent := IsPermanent(err)
		final := permanent || j.Attempt >= j.MaxAttempts
		log.Warn("job failed", "err", err, "permanent", permanent, "willRetry", !final)
		current, ackErr = p.Queue.Fail(ack, j, err, permanent)
	}
	switch {
	case ackErr != nil:
		log.Error("ack failed; the job will run again when its lease expires", "err", ackErr)
	case !current:
		log.Warn("stale claim: the lease had expired and the job was handed out again; outcome discarded")
	}
}

// handle calls the handler, turning a panic into a permanent error so one
// poisoned job cannot take the process down.
func (p *Pool) handle(ctx context.Context, j Job) (result any, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = Permanent(fmt.Errorf("panic: %v", v))
		}
	}()
	return p.Handle(ctx, j)
}

// Maintenance takes back expired leases and prunes old completed jobs and
// delivery keys.
type Maintenance struct {
	Queue     *Queue
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

// RunWorkers runs every pool and the maintenance loop until stop, then
// waits for the pools' jobs (interrupted once hard is cancelled).
func RunWorkers(stop, hard context.Context, pools []*Pool, m *Maintenance) error {
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
