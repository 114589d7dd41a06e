package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// walBound is the most hookd.db-wal may ever hold. The writer restarts
// the WAL once a background checkpoint finds WALRestartBytes (32 MiB) in
// it; by then the WAL has grown by at most one checkpoint period (100 ms)
// of commits more, about 7 MiB at this machine's full speed, plus the
// batch in flight. Twice the restart size leaves room for a machine a few
// times faster, and is a quarter of what an operator was promised (the
// WAL never above 256 MiB under steady load).
const walBound = 2 * 32 << 20

// The soak lasts until the WAL has been restarted twice, so that it has
// passed the restart size and started over more than once, and at least
// soakMin, so that the load is steady; or soakMax, on a machine so slow
// that the WAL never fills (the race detector, a busy CI host: 100
// webhooks a second fill 32 MiB in about 50 s). Without a restart by then
// the test fails: it would have proved nothing.
const (
	soakMin      = 10 * time.Second
	soakMax      = 90 * time.Second
	soakRestarts = 2
)

// Steady load at full speed, mixed routes, 16 connections: the WAL never
// passes walBound, and once the queues are idle it is no bigger than the
// restart size. Before the writer restarted the WAL it grew by 20–60 MB a
// second here and never shrank.
func TestSoakWALStaysBounded(t *testing.T) {
	if DefaultTuning.WALRestartBytes*2 != walBound {
		t.Fatalf("walBound assumes a restart size of 32 MiB, the default is %d", DefaultTuning.WALRestartBytes)
	}
	a := startApp(t, nil)
	wal := filepath.Join(a.cfg.DataDir, "hookd.db-wal")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	overBound := make(chan int64, 1)
	start := time.Now()
	go func() {
		for ctx.Err() == nil {
			if size := fileSize(wal); size > walBound {
				overBound <- size
				cancel()
				return
			}
			if a.db.WALRestarts() >= soakRestarts && time.Since(start) >= soakMin {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	rep, err := Bench(ctx, BenchOptions{URL: a.URL, Secret: testSecret, Route: "mix", C: 16, Duration: soakMax, DataDir: a.cfg.DataDir}, nil)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	select {
	case size := <-overBound:
		t.Fatalf("hookd.db-wal reached %.1f MiB after %d webhooks in %.1fs, over the bound of %d MiB",
			mib(size), rep.Accepted, rep.Seconds, walBound>>20)
	default:
	}
	t.Logf("%d webhooks in %.1fs (%.0f/s, p99 %.1f ms): %d WAL restarts, hookd.db-wal at most %.1f MiB, redka.db-wal at most %.1f MiB",
		rep.Accepted, rep.Seconds, rep.AcceptedRate, rep.P99Ms, a.db.WALRestarts(), rep.WALPeakMiB, rep.RedkaWALPeakMiB)
	if n := a.db.WALRestarts(); n < 1 {
		t.Fatalf("the WAL was never restarted in %s of load (peak %.1f MiB): too little load to test the bound", soakMax, rep.WALPeakMiB)
	}
	if rep.RedkaWALPeakMiB > mib(walBound) {
		t.Errorf("redka.db-wal reached %.1f MiB, over the bound of %d MiB", rep.RedkaWALPeakMiB, walBound>>20)
	}
	a.waitDrainedWithin(t, 2*time.Minute)
	// The last commits' checkpoint runs up to a period after them.
	deadline := time.Now().Add(5 * time.Second)
	for fileSize(wal) > DefaultTuning.WALRestartBytes && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if size := fileSize(wal); size > DefaultTuning.WALRestartBytes {
		t.Errorf("idle: hookd.db-wal is %.1f MiB, want at most the restart size", mib(size))
	}
}
