package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// jobsCmd runs `hookd jobs args…` in this process on dataDir.
func jobsCmd(dataDir string, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "DATA_DIR" {
			return dataDir
		}
		return ""
	}
	err = runJobs(context.Background(), args, getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

// With hookd stopped: the table of failed jobs, a retry, a retry of a
// whole queue, discards, and the refusals.
func TestJobsCommand(t *testing.T) {
	dir := t.TempDir()
	app, _ := openApp(t, map[string]string{"DATA_DIR": dir})
	q := app.queue
	failJob(t, q, QueueJobAnalysis, "job-a-1700000000000-aaaaaaaa", "analysis store said:\nno, "+strings.Repeat("very ", 40)+"long")
	failJob(t, q, QueueActivityScoring, "activity-b-1700000000000-aaaaaaaa", "boom")
	failJob(t, q, QueueActivityScoring, "activity-c-1700000000000-aaaaaaaa", "boom")
	failJob(t, q, QueueActivityScoring, "activity-d-1700000000000-aaaaaaaa", "boom")
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}

	out, _, err := jobsCmd(dir, "failed")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "PROCESSING ID") {
		t.Fatalf("failed:\n%s", out)
	}
	for _, want := range []string{"job-a-1700000000000-aaaaaaaa", QueueJobAnalysis, "1/3", "analysis store said: no, very", "…"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	for _, l := range lines {
		if len([]rune(l)) > 200 {
			t.Errorf("line not truncated: %q", l)
		}
	}
	if out, _, _ := jobsCmd(dir, "failed", "-queue", QueueJobAnalysis); strings.Count(out, "\n") != 2 {
		t.Errorf("failed -queue:\n%s", out)
	}

	if out, _, err := jobsCmd(dir, "retry", "job-a-1700000000000-aaaaaaaa"); err != nil || !strings.Contains(out, "retried job-a-1700000000000-aaaaaaaa") {
		t.Errorf("retry: %q %v", out, err)
	}
	if out, _, err := jobsCmd(dir, "discard", "activity-b-1700000000000-aaaaaaaa"); err != nil || !strings.Contains(out, "discarded") {
		t.Errorf("discard: %q %v", out, err)
	}
	if out, _, err := jobsCmd(dir, "retry", "--all", QueueActivityScoring); err != nil || !strings.Contains(out, "retried 2 failed jobs of "+QueueActivityScoring) {
		t.Errorf("retry --all: %q %v", out, err)
	}
	if out, _, err := jobsCmd(dir, "failed"); err != nil || out != "no failed jobs\n" {
		t.Errorf("failed at the end: %q %v", out, err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"retry", "job-nope-1700000000000-aaaaaaaa"}, "not found"},
		{[]string{"discard", "job-a-1700000000000-aaaaaaaa"}, "is waiting"},
		{[]string{"retry", "-all", "nope"}, "unknown queue"},
		{[]string{"retry"}, "want 1 argument"},
		{[]string{"restart", "x"}, "unknown command"},
		{nil, "say what to do"},
	} {
		if _, _, err := jobsCmd(dir, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("jobs %v: %v, want an error with %q", c.args, err, c.want)
		}
	}
	db, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := mustCounts(t, openQueueOn(t, db, testQueueOptions), QueueActivityScoring)
	if c.Failed != 1 || c.Waiting != 2 {
		t.Errorf("counts: %+v, want failed 1 (the discarded job), waiting 2", c)
	}
}

// A mistyped DATA_DIR is an error, and creates nothing.
func TestJobsCommandWithoutAQueue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nothing-here")
	_, _, err := jobsCmd(dir, "failed")
	if err == nil || !strings.Contains(err.Error(), "DATA_DIR") {
		t.Errorf("error %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s was created", dir)
	}
}

// The binary, as a second process on the file of a running hookd that
// keeps taking webhooks: it lists the failed jobs, retries one (hookd
// runs it within a few seconds), discards another, and exits 1 with a
// message for an unknown id. No webhook is refused meanwhile.
func TestJobsCommandWhileHookdRuns(t *testing.T) {
	bin := buildHookd(t)
	dir := t.TempDir()
	a := startDashboardApp(t, map[string]string{"DATA_DIR": dir, "JOB_LEASE": "1s"})
	retried := a.failedPost(t, "p-cli-1", "one", "disk quota exceeded")
	discarded := a.failedPost(t, "p-cli-2", "two", "disk quota exceeded")
	time.Sleep(1500 * time.Millisecond) // the pools are idle: nothing but the reaper wakes them

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var refused []string
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := sendWebhook(a.URL, activityRoute, fmt.Sprintf(`{"userId":"cli-u%d","action":"view"}`, i)); err != nil {
				refused = append(refused, err.Error())
			}
		}
	})
	hookd := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, append([]string{"jobs"}, args...)...)
		cmd.Env = append(os.Environ(), "DATA_DIR="+dir)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), code
	}

	out, stderr, code := hookd("failed")
	if code != 0 || !strings.Contains(out, retried) || !strings.Contains(out, discarded) || !strings.Contains(out, "disk quota exceeded") {
		t.Errorf("jobs failed: exit %d\n%s%s", code, out, stderr)
	}
	start := time.Now()
	if out, stderr, code := hookd("retry", retried); code != 0 {
		t.Errorf("jobs retry: exit %d\n%s%s", code, out, stderr)
	}
	t.Logf("jobs retry took %v", time.Since(start))
	a.waitState(t, retried, StateCompleted)
	t.Logf("completed %v after", time.Since(start))
	if out, stderr, code := hookd("discard", discarded); code != 0 {
		t.Errorf("jobs discard: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := a.queue.Status(context.Background(), discarded); !errors.Is(err, ErrNotFound) {
		t.Errorf("the discarded job: %v", err)
	}
	_, stderr, code = hookd("retry", "post-nope-1700000000000-aaaaaaaa")
	if code == 0 || !strings.Contains(stderr, "post-nope-1700000000000-aaaaaaaa") || !strings.Contains(stderr, "not found") {
		t.Errorf("unknown id: exit %d, %q", code, stderr)
	}
	close(stop)
	wg.Wait()
	if len(refused) > 0 {
		t.Errorf("%d webhooks refused while the command ran, the first: %s", len(refused), refused[0])
	}
	_, h := a.health(t)
	if c := h.Queues[QueuePostModeration]; c.Completed != 1 || c.Failed != 1 {
		t.Errorf("health: %+v, want completed 1, failed 1 (the discarded job)", c)
	}
}
