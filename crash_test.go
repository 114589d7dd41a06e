package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary and kill it with SIGKILL: what was
// answered 200 must survive, be applied exactly once, and nothing may fail.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func buildHookd(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hookd-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "hookd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freePort is a loopback port free a moment ago, for a hookd process to
// listen on: the process takes its port from PORT, not from a listener
// the test could hand it.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// process is one running hookd binary.
type process struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// startProcess starts the binary on dataDir; extraEnv entries override the
// defaults.
func startProcess(t testing.TB, dataDir string, extraEnv ...string) *process {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(buildHookd(t))
	cmd.Env = append(os.Environ(),
		"SUPABASE_WEBHOOK_SECRET="+testSecret,
		"DATA_DIR="+dataDir,
		"PORT="+strconv.Itoa(port),
		"JOB_BACKOFF_MS=20",
		"DATABASE_URL=",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	p := &process{cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), logs: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout = io.Discard
	cmd.Stderr = &lockedWriter{w: p.logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("hookd logs:\n%s", p.logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(p.url + "/api/health/queues")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("hookd did not answer health within 15s: %v\n%s", err, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// waitDrained polls health until nothing is waiting, active or delayed.
func (p *process) waitDrained(t *testing.T) map[string]QueueCounts {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var h healthReply
		resp, err := http.Get(p.url + "/api/health/queues")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
		}
		pending := int64(-1)
		if err == nil {
			pending = 0
			for _, c := range h.Queues {
				pending += c.Waiting + c.Active + c.Delayed
			}
		}
		if pending == 0 {
			return h.Queues
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained after 60s: %+v %v", h, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// burst sends activity webhooks from 32 clients until stop returns true or
// n have been sent. It returns the processingIds answered 200.
func burst(t *testing.T, url string, n int, onAccepted func(accepted int)) []string {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var (
		mu   sync.Mutex
		ids  []string
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				action := Actions[i%int64(len(Actions))]
				body := fmt.Sprintf(`{"userId":"user-%d","action":%q,"targetId":"post-%d","targetType":"post"}`, i%50, action, i%7)
				req, _ := http.NewRequest(http.MethodPost, url+"/api/activity/score", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("x-webhook-secret", testSecret)
				resp, err := client.Do(req)
				if err != nil {
					return // the server was killed under us
				}
				var r acceptReply
				json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					continue
				}
				mu.Lock()
				ids = append(ids, r.ProcessingID)
				accepted := len(ids)
				mu.Unlock()
				if onAccepted != nil {
					onAccepted(accepted)
				}
			}
		})
	}
	wg.Wait()
	return ids
}

// checkInvariants restarts nothing: it reads hookd.db after the drain.
func checkInvariants(t *testing.T, dataDir string, accepted []string, counts map[string]QueueCounts, exact bool) {
	t.Helper()
	db := openFile(t, dataDir)
	logs := queryInt(t, db, `SELECT count(*) FROM activity_logs`)
	if exact && logs != len(accepted) {
		t.Errorf("%d activity logs, want %d (one per 200)", logs, len(accepted))
	}
	if !exact && logs < len(accepted) {
		t.Errorf("%d activity logs, fewer than the %d webhooks answered 200", logs, len(accepted))
	}
	for _, id := range accepted {
		if n := queryInt(t, db, `SELECT count(*) FROM activity_logs WHERE processing_id = ?`, id); n != 1 {
			t.Fatalf("processingId %s answered 200 has %d log rows, want 1", id, n)
		}
	}
	scores := queryInt(t, db, `SELECT sum(engagement_score) FROM users`)
	points := queryInt(t, db, `SELECT sum(points_earned) FROM activity_logs`)
	if scores != points || points == 0 {
		t.Errorf("sum of engagement scores %d != sum of points earned %d", scores, points)
	}
	for q, c := range counts {
		if c.Failed != 0 {
			t.Errorf("%s: %d failed jobs", q, c.Failed)
		}
	}
	if c := counts[QueueActivityScoring]; int(c.Completed) != logs {
		t.Errorf("%d activity jobs completed, %d logs", c.Completed, logs)
	}
}

func TestCrashAfterLastReply(t *testing.T) {
	dataDir := t.TempDir()
	p := startProcess(t, dataDir)
	accepted := burst(t, p.url, 3000, nil)
	p.kill(t) // right after the last 200
	if len(accepted) != 3000 {
		t.Fatalf("%d of 3000 answered 200 before the kill", len(accepted))
	}
	p = startProcess(t, dataDir)
	counts := p.waitDrained(t)
	checkInvariants(t, dataDir, accepted, counts, true)
	stopGracefully(t, p)
}

// killMidBurst starts hookd on dataDir, sends a burst of 6,000 activity
// webhooks and SIGKILLs the process once `after` of them were answered 200.
// It returns the processingIds answered 200.
func killMidBurst(t *testing.T, dataDir string, after int) []string {
	t.Helper()
	p := startProcess(t, dataDir)
	var once sync.Once
	accepted := burst(t, p.url, 6000, func(n int) {
		if n >= after {
			once.Do(func() { p.cmd.Process.Signal(syscall.SIGKILL) })
		}
	})
	<-p.done
	return accepted
}

func TestCrashMidBurst(t *testing.T) {
	dataDir := t.TempDir()
	accepted := killMidBurst(t, dataDir, 1500)
	if len(accepted) < 1500 || len(accepted) >= 6000 {
		t.Fatalf("%d answered 200; the kill should have cut the burst", len(accepted))
	}
	p := startProcess(t, dataDir)
	counts := p.waitDrained(t)
	checkInvariants(t, dataDir, accepted, counts, false)
	stopGracefully(t, p)
}

// stopGracefully sends SIGTERM and expects a clean exit.
func stopGracefully(t testing.TB, p *process) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("exit after SIGTERM: %v", p.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30s of SIGTERM")
	}
	if !strings.Contains(p.logs.String(), "msg=stopped") {
		t.Errorf("no clean stop in the logs")
	}
}

// A second hookd on a data dir in use stops at once, naming the first
// one's pid; once the first is killed, the next one starts.
func TestSecondProcessOnADataDirStops(t *testing.T) {
	dir := t.TempDir()
	first := startProcess(t, dir)
	cmd := exec.Command(buildHookd(t))
	cmd.Env = append(os.Environ(), "SUPABASE_WEBHOOK_SECRET="+testSecret, "DATA_DIR="+dir, "PORT="+strconv.Itoa(freePort(t)), "DATABASE_URL=")
	out, err := cmd.CombinedOutput()
	want := fmt.Sprintf("in use by another hookd (pid %d)", first.cmd.Process.Pid)
	if err == nil || !strings.Contains(string(out), want) {
		t.Fatalf("second hookd: %v\n%s\nwant it to stop saying %q", err, out, want)
	}
	first.kill(t)
	startProcess(t, dir)
}
