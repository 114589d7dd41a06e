package main

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkEnqueueHTTP measures accepted webhooks through the real
// handler, HTTP on loopback and durable group commits, with parallel
// clients (-cpu sets GOMAXPROCS; RunParallel uses 16 clients per CPU).
// Workers are off: this is the accept path alone.
func BenchmarkEnqueueHTTP(b *testing.B) {
	app, _ := openApp(b, nil)
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	var seq atomic.Int64
	conns := benchConns(b, srv.URL, 16)
	measureParallel(b, 16, "webhooks/s", func() error {
		c := <-conns
		defer func() { conns <- c }()
		body := fmt.Sprintf(`{"userId":"user-%d","action":"like","targetId":"post-1","targetType":"post"}`, seq.Add(1)%1000)
		if status, err := c.post("/api/activity/score", body); err != nil || status != http.StatusOK {
			return fmt.Errorf("status %d: %v", status, err)
		}
		return nil
	})
}

// benchConns opens one `hookd bench` connection per client goroutine of
// measureParallel(b, parallelism, …); they are closed when b ends.
func benchConns(b *testing.B, url string, parallelism int) chan *benchConn {
	conns := make(chan *benchConn, parallelism*runtime.GOMAXPROCS(0))
	for range cap(conns) {
		c, err := newBenchConn(url, testSecret)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.close)
		conns <- c
	}
	return conns
}

// BenchmarkHTTPCeiling measures what HTTP alone allows on this machine:
// a net/http server whose handler only reads the body and answers a
// reply of hookd's size, loaded from 64 connections in the same process
// by `hookd bench`'s client and by net/http's. No durable work at all:
// hookd's accept rate can only be lower.
func BenchmarkHTTPCeiling(b *testing.B) {
	reply := []byte(`{"success":true,"userId":"00000000-0000-4000-8000-000000000001","action":"like","message":"Activity scored","processingId":"activity-00000000-0000-4000-8000-000000000001-1764331200000-0a1b2c3d4e"}` + "\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(reply)
	}))
	defer srv.Close()
	body := `{"userId":"00000000-0000-4000-8000-000000000001","action":"like","targetId":"20000000-0000-4000-8000-000000000001","targetType":"post"}`
	b.Run("client=bench", func(b *testing.B) {
		conns := benchConns(b, srv.URL, 32)
		measureParallel(b, 32, "requests/s", func() error { // 64 connections on 2 CPUs
			c := <-conns
			defer func() { conns <- c }()
			if status, err := c.post("/api/activity/score", body); err != nil || status != http.StatusOK {
				return fmt.Errorf("status %d: %v", status, err)
			}
			return nil
		})
	})
	b.Run("client=net/http", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
		defer client.CloseIdleConnections()
		measureParallel(b, 32, "requests/s", func() error {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/activity/score", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("x-webhook-secret", testSecret)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
	})
}

// measureParallel runs op b.N times from parallelism goroutines per CPU
// and reports the rate, in unit, and the CPU time per op.
func measureParallel(b *testing.B, parallelism int, unit string, op func() error) {
	cpu := cpuTime()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
	reportCPU(b, cpu)
}

// BenchmarkClaimAck measures the queue's worker side: claim in batches of
// 32, complete each job. The jobs are enqueued before the timer starts.
func BenchmarkClaimAck(b *testing.B) {
	_, q := openTestQueue(b, testQueueOptions)
	ctx := context.Background()
	for i := 0; i < b.N; i += 512 {
		var batch []string
		for k := i; k < min(i+512, b.N); k++ {
			batch = append(batch, fmt.Sprintf("a-%d", k))
		}
		enqueueMany(b, q, batch)
	}
	cpu := cpuTime()
	b.ResetTimer()
	done := 0
	for done < b.N {
		jobs, err := q.Claim(ctx, QueueActivityScoring, 32)
		if err != nil || len(jobs) == 0 {
			b.Fatalf("claim: %v (%d done of %d)", err, done, b.N)
		}
		for _, j := range jobs {
			if ok, err := ackOne(ctx, q, Ack{Job: j, Result: []byte(`{}`)}); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		done += len(jobs)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	reportCPU(b, cpu)
}

// enqueueMany enqueues concurrently so that setup rides group commits.
func enqueueMany(b *testing.B, q *Queue, ids []string) {
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() { errs <- enqueue(context.Background(), q, QueueActivityScoring, id, []byte(`{}`), time.Now()) }()
	}
	for range ids {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the CPU time this process has used, user and system. Per
// operation it is a steadier figure than the rate when other work shares
// the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU microseconds per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkActivityDrain measures the worker side alone: b.N activity jobs
// are queued with the workers off, then the pools drain them into the
// embedded store, with several activity batch sizes (the activity kind's
// Batch).
func BenchmarkActivityDrain(b *testing.B) {
	for _, n := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			cfg := testConfig(b, nil)
			cfg.Kinds = slices.Clone(cfg.Kinds)
			for i := range cfg.Kinds {
				if cfg.Kinds[i].Queue == QueueActivityScoring {
					cfg.Kinds[i].Batch = n
				}
			}
			benchDrain(b, openAppWith(b, cfg))
		})
	}
}

func benchDrain(b *testing.B, app *App) {
	queueActivities(b, app.queue, b.N)
	stop, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cpu := cpuTime()
	b.ResetTimer()
	go func() { done <- app.RunWorkers(stop, context.Background()) }()
	file := inspect(b, app.db)
	for completed(b, file, QueueActivityScoring) < int64(b.N) {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	reportCPU(b, cpu)
}

// queueActivities enqueues n activity jobs for 100 users, 512 at a time.
func queueActivities(b *testing.B, q *Queue, n int) {
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for i := 0; i < n; i += 512 {
		errs := make(chan error, 512)
		k := min(512, n-i)
		for j := range k {
			go func() {
				user := benchUUID(0, (i+j)%100)
				task, _ := json.Marshal(ActivityTask{UserID: user, Action: "like",
					TargetID: benchUUID(2, j), TargetType: "post", OccurredAt: at})
				now := time.Now()
				errs <- enqueue(context.Background(), q, QueueActivityScoring, newProcessingID("activity", user, now), task, now)
			}()
		}
		for range k {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
}

// completed reads a queue's cumulative counts alone: counting the live
// states as health does would cost the benchmark more than the work.
func completed(b *testing.B, file *sql.DB, queue string) int64 {
	var done, failed int64
	err := file.QueryRow(`SELECT completed, failed FROM queue_stats WHERE queue = ?`, queue).Scan(&done, &failed)
	if err != nil {
		b.Fatal(err)
	}
	if failed > 0 {
		b.Fatalf("%d jobs failed", failed)
	}
	return done
}

// BenchmarkTuning measures the settings of db.go's Tuning one at a
// time against the defaults: b.N enqueues from 64 goroutines through the
// group-commit writer, the accept path without HTTP.
func BenchmarkTuning(b *testing.B) {
	run := func(name string, change func(*Tuning)) {
		t := DefaultTuning
		change(&t)
		b.Run(name, func(b *testing.B) { benchEnqueue(b, t) })
	}
	run("default", func(*Tuning) {})
	for _, n := range []int{8192, 16384} {
		run(fmt.Sprintf("page=%d", n), func(t *Tuning) { t.PageSize = n })
	}
	for _, n := range []int{8000, 32000} {
		run(fmt.Sprintf("cacheKiB=%d", n), func(t *Tuning) { t.CacheKiB = n })
	}
	for _, d := range []time.Duration{10 * time.Millisecond, time.Second} {
		run(fmt.Sprintf("checkpoint=%s", d), func(t *Tuning) { t.CheckpointEvery = d })
	}
	for _, n := range []int{16, 64, 256} {
		run(fmt.Sprintf("batch=%d", n), func(t *Tuning) { t.MaxBatch = n })
	}
}

func benchEnqueue(b *testing.B, t Tuning) {
	db, err := OpenTunedDB(b.TempDir(), t)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	q, err := OpenQueue(context.Background(), db, queueNames(Kinds), testQueueOptions)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"userId":"00000000-0000-4000-8000-000000000001","action":"like","targetId":"20000000-0000-4000-8000-000000000001","targetType":"post","occurredAt":"2026-11-28T12:00:00Z"}`)
	var seq atomic.Int64
	measureParallel(b, 32, "enqueues/s", func() error { // 64 writers on 2 CPUs
		now := time.Now()
		id := newProcessingID("activity", "u"+strconv.FormatInt(seq.Add(1), 10), now)
		return enqueue(context.Background(), q, QueueActivityScoring, id, payload, now)
	})
}

// BenchmarkAcceptHandler measures the server's share of a webhook without
// the network: the handler called directly by 64 goroutines, durable
// group commits included. -benchmem shows the allocations per webhook.
func BenchmarkAcceptHandler(b *testing.B) {
	app, _ := openApp(b, nil)
	h := app.Handler()
	body := `{"userId":"00000000-0000-4000-8000-000000000001","action":"like","targetId":"20000000-0000-4000-8000-000000000001","targetType":"post"}`
	measureParallel(b, 32, "webhooks/s", func() error {
		req := httptest.NewRequest(http.MethodPost, "/api/activity/score", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-webhook-secret", testSecret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("status %d: %s", rec.Code, rec.Body)
		}
		return nil
	})
}

// The stores of BenchmarkLeaderboardRebuild: 50,000 users and 2,000,000
// activity logs over the last 48 hours.
var (
	//go:embed testdata/leaderboard_postgres.sql
	leaderboardLoadPostgres string
	//go:embed testdata/leaderboard_sqlite.sql
	leaderboardLoadSQLite string
)

// BenchmarkLeaderboardRebuild starts the real binary with redka.db missing
// on a store of 50,000 users and 2,000,000 activity logs over the last 48
// hours (testdata/leaderboard_*.sql, loaded once; each iteration is a new
// process on the same store). Right after start it sends a post, and
// activity webhooks at about 50 a second until the leaderboard answers. It
// reports the worst of the iterations for: the time from start until the
// leaderboard route answers 200 (rebuild-s), how long the post took to
// complete (post-s), the process's peak RSS (VmHWM, peak-RSS-MiB) and
// the largest hookd.db WAL seen meanwhile (WAL-MiB); each iteration's
// figures are logged. Run it with -benchtime 3x.
func BenchmarkLeaderboardRebuild(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		dbURL := migratedDatabase(b)
		c := connect(b, dbURL)
		pgExec(b, c, leaderboardLoadPostgres)
		// As in a live database, whose rows were committed long ago: the
		// first read of fresh rows would write every page (hint bits).
		pgExec(b, c, `VACUUM (ANALYZE) users, activity_logs`)
		post := "d0000000-0000-4000-8000-000000000001"
		pgExec(b, c, `INSERT INTO posts (id, user_id) VALUES ($1, '00000000-0000-4000-8000-000000000001')`, post)
		benchRebuild(b, b.TempDir(), post, func(i int) string {
			return fmt.Sprintf("00000000-0000-4000-8000-%012x", 1+i%50000)
		}, "DATABASE_URL="+dbURL)
	})
	b.Run("embedded", func(b *testing.B) {
		dir := b.TempDir()
		db, err := OpenDB(dir)
		if err != nil {
			b.Fatal(err)
		}
		err = db.Write(context.Background(), func(tx *WriteTx) error {
			_, err := tx.Exec(leaderboardLoadSQLite)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		benchRebuild(b, dir, "post-bench", func(i int) string { return fmt.Sprintf("user-%05d", 1+i%50000) })
	})
}

// rebuildRun is what one iteration of BenchmarkLeaderboardRebuild saw.
type rebuildRun struct {
	up              time.Duration // until health answered
	ready, post     time.Duration
	postBeforeReady bool
	rssMiB, walMiB  float64
	log             string // the rebuild's log line
}

func benchRebuild(b *testing.B, dataDir, postID string, user func(int) string, env ...string) {
	var worst rebuildRun
	for i := 0; b.Loop(); i++ {
		r := runRebuild(b, dataDir, postID, user, env)
		b.Logf("run %d: health after %.2fs, leaderboard after %.2fs, post done after %.3fs (before the leaderboard: %v), peak RSS %.1f MiB, largest WAL %.1f MiB; %s",
			i+1, r.up.Seconds(), r.ready.Seconds(), r.post.Seconds(), r.postBeforeReady, r.rssMiB, r.walMiB, r.log)
		worst.ready, worst.post = max(worst.ready, r.ready), max(worst.post, r.post)
		worst.rssMiB, worst.walMiB = max(worst.rssMiB, r.rssMiB), max(worst.walMiB, r.walMiB)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(worst.ready.Seconds(), "rebuild-s")
	b.ReportMetric(worst.post.Seconds(), "post-s")
	b.ReportMetric(worst.rssMiB, "peak-RSS-MiB")
	b.ReportMetric(worst.walMiB, "WAL-MiB")
}

func runRebuild(b *testing.B, dataDir, postID string, user func(int) string, env []string) rebuildRun {
	if err := RemoveLeaderboardFiles(dataDir); err != nil {
		b.Fatal(err)
	}
	buildHookd(b) // before the clock starts
	start := time.Now()
	p := startProcess(b, dataDir, env...)
	r := rebuildRun{up: time.Since(start)}
	sent := time.Now()
	id, err := sendWebhook(p.url, "/api/posts/moderate", fmt.Sprintf(`{"postId":%q,"content":"Sent during the rebuild"}`, postID))
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { sendActivityUntil(b, p.url, user, stop) })
	wal := watchWAL(dataDir)
	defer wal.stop() // on a failure below; stop is idempotent
	deadline := time.Now().Add(5 * time.Minute)
	for r.ready == 0 || r.post == 0 {
		if time.Now().After(deadline) {
			b.Fatalf("after 5 minutes: leaderboard after %v, post after %v (0: not yet)", r.ready, r.post)
		}
		if r.post == 0 && processState(b, p.url, id) == StateCompleted {
			r.post = time.Since(sent)
			r.postBeforeReady = r.ready == 0
		}
		if r.ready == 0 && processBoard(b, p) != nil {
			r.ready = time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	wal.stop()
	r.walMiB = mib(wal.peak)
	if r.rssMiB, err = peakRSSMiB(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)); err != nil {
		b.Fatal(err)
	}
	stopGracefully(b, p)
	for line := range strings.Lines(p.logs.String()) {
		if strings.Contains(line, "leaderboard rebuil") { // rebuilt, or rebuild failed
			r.log += strings.TrimSpace(line[strings.Index(line, "msg="):]) + " "
		}
	}
	return r
}

// sendWebhook posts body to a running hookd and returns the processingId.
func sendWebhook(url, path, body string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-webhook-secret", testSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r acceptReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST %s: %d %v", path, resp.StatusCode, err)
	}
	return r.ProcessingID, nil
}

// sendActivityUntil sends an activity webhook every 20 ms until stop.
func sendActivityUntil(b *testing.B, url string, user func(int) string, stop <-chan struct{}) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		_, err := sendWebhook(url, "/api/activity/score", fmt.Sprintf(
			`{"userId":%q,"action":"like","targetId":"post-%d","targetType":"post"}`, user(i*7919), i%1000))
		if err != nil {
			b.Error(err)
			return
		}
	}
}

func processState(b *testing.B, url, id string) string {
	var s JobStatus
	if status := getFromProcess(b, url+"/api/processing/"+id, &s); status != http.StatusOK {
		b.Fatalf("GET /api/processing/%s: %d", id, status)
	}
	return s.State
}
