package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// `hookd bench` loads a running hookd the way Supabase does — many small
// JSON webhooks over keep-alive connections — and reports what a user
// asks: how many webhooks per second it accepts, how fast it answers, and
// how fast the work gets done.

// BenchOptions are the flags of `hookd bench`.
type BenchOptions struct {
	URL      string        // a running hookd; empty = start one in-process
	Secret   string        // x-webhook-secret
	Route    string        // activity | posts | jobs | mix
	N        int           // requests to send (when Duration is 0)
	Duration time.Duration // send for this long instead of N requests
	C        int           // concurrent connections
	Drain    bool          // wait until the queues have processed everything
	JSON     bool          // print the report as one JSON object
	Profile  string        // write a CPU profile of this process to this file
	DataDir  string        // the DATA_DIR of the hookd under load, to watch its WAL files
}

// BenchReport is what `hookd bench` prints.
type BenchReport struct {
	Route        string         `json:"route"`
	Concurrency  int            `json:"concurrency"`
	Sent         int            `json:"sent"`
	Accepted     int            `json:"accepted"`
	Statuses     map[string]int `json:"nonOK"` // non-200 answers by status ("error" = no answer)
	Seconds      float64        `json:"seconds"`
	AcceptedRate float64        `json:"acceptedPerSecond"`
	P50Ms        float64        `json:"p50Ms"`
	P90Ms        float64        `json:"p90Ms"`
	P99Ms        float64        `json:"p99Ms"`
	MaxMs        float64        `json:"maxMs"`
	DrainSeconds float64        `json:"drainSeconds,omitempty"` // from the last answer to empty queues
	EndToEndRate float64        `json:"endToEndJobsPerSecond,omitempty"`
	PeakRSSMiB   float64        `json:"peakRssMiB,omitempty"` // in-process only: server and load generator together
	// The largest size of each WAL file seen during the run, and the size
	// at its end (after the drain, with -drain); zero without a data dir.
	WALPeakMiB      float64 `json:"walPeakMiB,omitempty"`
	WALEndMiB       float64 `json:"walEndMiB,omitempty"`
	RedkaWALPeakMiB float64 `json:"redkaWalPeakMiB,omitempty"`
}

func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opt, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	if opt.Secret == "" {
		opt.Secret = getenv("SUPABASE_WEBHOOK_SECRET")
	}
	inProcess := opt.URL == ""
	switch {
	case inProcess && opt.Secret == "":
		opt.Secret = "bench-" + newUUID()
	case opt.Secret == "":
		return errNoSecret
	}
	if inProcess {
		stop, url, dir, err := startBenchServer(getenv, opt.Secret)
		if err != nil {
			return err
		}
		defer stop()
		opt.URL, opt.DataDir = url, dir
	}
	var progress io.Writer
	if isTerminal(stderr) {
		progress = stderr
	}
	if opt.Profile != "" {
		stopProfile, err := startCPUProfile(opt.Profile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	rep, err := Bench(ctx, opt, progress)
	if err != nil {
		return err
	}
	if inProcess {
		// The figure is optional: unreadable (not Linux), it stays 0 and
		// the report leaves it out.
		rep.PeakRSSMiB, _ = peakRSSMiB("/proc/self/status")
	}
	return printReport(stdout, rep, opt.JSON)
}

func parseBenchFlags(args []string, stderr io.Writer) (BenchOptions, error) {
	fs := flag.NewFlagSet("hookd bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o BenchOptions
	fs.StringVar(&o.URL, "url", "", "base URL of a running hookd (default: start one in-process on a temporary DATA_DIR)")
	fs.StringVar(&o.Secret, "secret", "", "x-webhook-secret (default: $SUPABASE_WEBHOOK_SECRET, or a generated one in-process)")
	fs.StringVar(&o.Route, "route", "activity", "activity | posts | jobs | mix (70% activity, 25% posts, 5% jobs)")
	fs.IntVar(&o.N, "n", 10000, "requests to send")
	fs.DurationVar(&o.Duration, "duration", 0, "send for this long instead of -n requests")
	fs.IntVar(&o.C, "c", 64, "concurrent connections")
	fs.BoolVar(&o.Drain, "drain", false, "wait until the queues have processed everything sent")
	fs.BoolVar(&o.JSON, "json", false, "print the report as one JSON object")
	fs.StringVar(&o.Profile, "cpuprofile", "", "write a CPU profile of this process (server too, when in-process) to this file, for go tool pprof")
	fs.StringVar(&o.DataDir, "data-dir", "", "with -url: the DATA_DIR of that hookd, to report the largest size of its WAL files (in-process: its own)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case !slices.Contains([]string{"activity", "posts", "jobs", "mix"}, o.Route):
		return o, fmt.Errorf("-route %q: want activity, posts, jobs or mix", o.Route)
	case o.C < 1 || o.C > 10000:
		return o, fmt.Errorf("-c %d: want 1..10000", o.C)
	case o.Duration == 0 && o.N < 1:
		return o, fmt.Errorf("-n %d: want at least 1", o.N)
	case o.Duration < 0 || o.Duration > time.Hour:
		return o, fmt.Errorf("-duration %s: want up to 1h", o.Duration)
	}
	return o, nil
}

// startBenchServer runs a hookd in this process on a temporary DATA_DIR
// and a free loopback port, configured from the environment otherwise.
func startBenchServer(getenv func(string) string, secret string) (stop func(), url, dir string, err error) {
	dir, err = os.MkdirTemp("", "hookd-bench")
	if err != nil {
		return nil, "", "", err
	}
	env := func(k string) string {
		switch k {
		case "DATA_DIR":
			return dir
		case "SUPABASE_WEBHOOK_SECRET":
			return secret
		}
		return getenv(k)
	}
	cfg, err := LoadConfig(env)
	if err != nil {
		return nil, "", "", err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := OpenApp(context.Background(), cfg, log)
	if err != nil {
		return nil, "", "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		app.Close()
		return nil, "", "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, ln) }()
	return func() {
		cancel()
		<-done
		os.RemoveAll(dir)
	}, "http://" + ln.Addr().String(), dir, nil
}

// Bench sends the load and, with Drain, waits for the work to be done.
// progress, when not nil, receives a status line every second.
func Bench(ctx context.Context, opt BenchOptions, progress io.Writer) (BenchReport, error) {
	opt.URL = strings.TrimRight(opt.URL, "/")
	before, err := pendingAndDone(ctx, opt.URL)
	if err != nil {
		return BenchReport{}, fmt.Errorf("health of %s: %w", opt.URL, err)
	}
	conns := make([]*benchConn, opt.C)
	for w := range conns {
		if conns[w], err = newBenchConn(opt.URL, opt.Secret); err != nil {
			return BenchReport{}, err
		}
		defer conns[w].close()
	}
	var sent atomic.Int64
	stopProgress := startProgress(progress, &sent)
	wal := watchWAL(opt.DataDir)
	defer wal.stop()
	start := time.Now()
	results := make([]benchResult, opt.C)
	var wg sync.WaitGroup
	for w := range opt.C {
		wg.Go(func() { results[w] = benchWorker(ctx, conns[w], opt, start, &sent, w) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	rep := summarize(opt, results, elapsed)
	if opt.Drain {
		if err := drain(ctx, opt.URL, before, int64(rep.Accepted), &rep, start); err != nil {
			return rep, err
		}
	}
	wal.report(&rep)
	return rep, nil
}

// walWatch samples the sizes of a data dir's WAL files while a run goes
// on: a WAL that grows without bound fills the disk, and its largest size
// during a run is the figure that shows it.
type walWatch struct {
	dir             string
	done            chan struct{}
	stopped         chan struct{}
	peak, peakRedka int64
}

// watchWAL starts sampling every 10 ms; dir "" samples nothing.
func watchWAL(dir string) *walWatch {
	w := &walWatch{dir: dir, done: make(chan struct{}), stopped: make(chan struct{})}
	if dir == "" {
		close(w.stopped)
		return w
	}
	go func() {
		defer close(w.stopped)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			w.peak = max(w.peak, fileSize(filepath.Join(dir, "hookd.db-wal")))
			w.peakRedka = max(w.peakRedka, fileSize(filepath.Join(dir, "redka.db-wal")))
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *walWatch) stop() {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	<-w.stopped
}

// report stops the sampling and fills in the WAL figures.
func (w *walWatch) report(rep *BenchReport) {
	w.stop()
	if w.dir == "" {
		return
	}
	rep.WALPeakMiB = mib(w.peak)
	rep.RedkaWALPeakMiB = mib(w.peakRedka)
	rep.WALEndMiB = mib(fileSize(filepath.Join(w.dir, "hookd.db-wal")))
}

// fileSize is a file's size, 0 when it does not exist.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// benchResult is one connection's share of the run.
type benchResult struct {
	latencies []time.Duration // of 200 answers
	statuses  map[string]int  // everything else
}

func benchWorker(ctx context.Context, conn *benchConn, opt BenchOptions, start time.Time, sent *atomic.Int64, w int) benchResult {
	r := benchResult{statuses: map[string]int{}}
	rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
	for ctx.Err() == nil {
		if opt.Duration > 0 && time.Since(start) >= opt.Duration {
			break
		}
		if opt.Duration == 0 && sent.Add(1) > int64(opt.N) {
			break
		}
		if opt.Duration > 0 {
			sent.Add(1)
		}
		path, body := benchPayload(opt.Route, rng)
		t0 := time.Now()
		switch status, err := conn.post(path, body); {
		case err != nil:
			r.statuses["error"]++
		case status == http.StatusOK:
			r.latencies = append(r.latencies, time.Since(t0))
		default:
			r.statuses[strconv.Itoa(status)]++
		}
	}
	return r
}

// benchPayload builds a webhook with ids of the fixture shape (UUIDs), so
// a Postgres-backed hookd can process them once the matching rows exist
// (see BENCHMARKS.md): 100 users, 1,000 posts, 100 jobs.
func benchPayload(route string, rng *rand.Rand) (path, body string) {
	if route == "mix" {
		switch p := rng.IntN(100); {
		case p < 70:
			route = "activity"
		case p < 95:
			route = "posts"
		default:
			route = "jobs"
		}
	}
	switch route {
	case "posts":
		return "/api/posts/moderate", fmt.Sprintf(`{"postId":%q,"userId":%q,"content":"We are hiring a senior Go developer in Paris, apply on our careers page","links":["https://acme.example/careers"]}`,
			benchUUID(2, rng.IntN(1000)), benchUUID(0, rng.IntN(100)))
	case "jobs":
		return "/api/jobs/analyze", fmt.Sprintf(`{"jobId":%q,"title":"Senior Go developer","description":"Go, PostgreSQL and Kubernetes on AWS","location":"Paris, France","requiredSkills":["Go","PostgreSQL","Docker"],"experienceLevel":"Senior"}`,
			benchUUID(1, rng.IntN(100)))
	}
	action := Actions[rng.IntN(len(Actions))]
	return "/api/activity/score", fmt.Sprintf(`{"userId":%q,"action":%q,"targetId":%q,"targetType":"post"}`,
		benchUUID(0, rng.IntN(100)), action, benchUUID(2, rng.IntN(1000)))
}

// benchUUID is the i-th id of a kind: 0 users, 1 jobs, 2 posts.
func benchUUID(kind, i int) string {
	return fmt.Sprintf("%d0000000-0000-4000-8000-%012d", kind, i+1)
}

func summarize(opt BenchOptions, results []benchResult, elapsed time.Duration) BenchReport {
	rep := BenchReport{Route: opt.Route, Concurrency: opt.C, Statuses: map[string]int{}, Seconds: elapsed.Seconds()}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.latencies...)
		for s, n := range r.statuses {
			rep.Statuses[s] += n
			rep.Sent += n
		}
	}
	rep.Accepted = len(all)
	rep.Sent += rep.Accepted
	if elapsed > 0 {
		rep.AcceptedRate = float64(rep.Accepted) / elapsed.Seconds()
	}
	slices.Sort(all)
	rep.P50Ms, rep.P90Ms, rep.P99Ms = ms(percentile(all, 50)), ms(percentile(all, 90)), ms(percentile(all, 99))
	if len(all) > 0 {
		rep.MaxMs = ms(all[len(all)-1])
	}
	return rep
}

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// queueTotals is what the health endpoint says, summed over the queues.
type queueTotals struct{ pending, done int64 }

func pendingAndDone(ctx context.Context, url string) (queueTotals, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/health/queues", nil)
	if err != nil {
		return queueTotals{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return queueTotals{}, err
	}
	defer resp.Body.Close()
	var h healthReply
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return queueTotals{}, fmt.Errorf("decode health: %w", err)
	}
	if h.Queues == nil {
		return queueTotals{}, fmt.Errorf("health says %s: %s", h.Status, h.Queue)
	}
	var t queueTotals
	for _, c := range h.Queues {
		t.pending += c.Waiting + c.Active + c.Delayed
		t.done += c.Completed + c.Failed
	}
	return t, nil
}

// drain polls health until everything accepted since `before` is
// completed or failed and nothing is pending.
func drain(ctx context.Context, url string, before queueTotals, accepted int64, rep *BenchReport, start time.Time) error {
	sendEnd := start.Add(time.Duration(rep.Seconds * float64(time.Second)))
	for {
		t, err := pendingAndDone(ctx, url)
		if err != nil {
			return fmt.Errorf("drain: %w", err)
		}
		if t.pending == 0 && t.done-before.done >= accepted {
			now := time.Now()
			rep.DrainSeconds = now.Sub(sendEnd).Seconds()
			rep.EndToEndRate = float64(accepted) / now.Sub(start).Seconds()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func startProgress(w io.Writer, sent *atomic.Int64) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last := int64(0)
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-tick.C:
				n := sent.Load()
				fmt.Fprintf(w, "\r\033[Ksent %d, %d req/s", n, n-last)
				last = n
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func printReport(w io.Writer, r BenchReport, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	fmt.Fprintf(w, "route %s, %d connections: %d sent, %d accepted in %.2fs\n", r.Route, r.Concurrency, r.Sent, r.Accepted, r.Seconds)
	fmt.Fprintf(w, "accepted: %.0f webhooks/s\n", r.AcceptedRate)
	fmt.Fprintf(w, "latency:  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs)
	if len(r.Statuses) > 0 {
		keys := make([]string, 0, len(r.Statuses))
		for k := range r.Statuses {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "not 200:  %s × %d\n", k, r.Statuses[k])
		}
	}
	if r.EndToEndRate > 0 {
		fmt.Fprintf(w, "drained %.2fs after the last answer: %.0f jobs/s end to end\n", r.DrainSeconds, r.EndToEndRate)
	}
	if r.WALPeakMiB > 0 || r.WALEndMiB > 0 {
		fmt.Fprintf(w, "WAL:      hookd.db-wal largest %.1f MiB, %.1f MiB at the end; redka.db-wal largest %.1f MiB\n", r.WALPeakMiB, r.WALEndMiB, r.RedkaWALPeakMiB)
	}
	if r.PeakRSSMiB > 0 {
		fmt.Fprintf(w, "peak RSS: %.1f MiB (server and load generator)\n", r.PeakRSSMiB)
	}
	return nil
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// peakRSSMiB reads a process's high-water resident set (VmHWM) from its
// status file, /proc/self/status or /proc/<pid>/status (Linux).
func peakRSSMiB(statusFile string) (float64, error) {
	b, err := os.ReadFile(statusFile)
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				return 0, fmt.Errorf("peak RSS: VmHWM in %s: %w", statusFile, err)
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, fmt.Errorf("peak RSS: no VmHWM in %s", statusFile)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

var errNoSecret = errors.New("-secret (or SUPABASE_WEBHOOK_SECRET) is required with -url")
