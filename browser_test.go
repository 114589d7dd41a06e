package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The dashboard in a real browser, headless Chromium: log in, see the
// failed job, open it, read its error and its payload (a post whose
// content is a script, shown as text), press Retry, see it complete. No
// script runs on any page and no dialog opens.
//
// With HOOKD_SCREENSHOTS=docs it also saves docs/dashboard.png and
// docs/dashboard-phone.png, the screenshots docs/operations.md shows:
//
//	HOOKD_SCREENSHOTS=docs go test -run TestBrowserDashboard .
func TestBrowserDashboard(t *testing.T) {
	browser := chromiumPath(t)
	a := startDashboardApp(t, nil)
	seedDashboard(t, a)
	const script = `<script>alert(1)</script>`
	failed := a.failedPost(t, "post-7f3a", script, "the posts table is read-only (maintenance window)")

	ctx, cancel := browserContext(t, browser)
	defer cancel()
	// The first call starts the browser; only then may another goroutine
	// use the context.
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:"+dashboardPassword))
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatal(err)
	}
	var dialogs atomic.Int32
	go func() {
		for _, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			dialogs.Add(1)
		}
	}()

	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}

	step("log in", chromedp.Navigate(a.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("table.failed")))
	if list := text("table.failed"); !strings.Contains(list, failed) || !strings.Contains(list, "read-only") {
		t.Fatalf("the failed job is not listed with its error:\n%s", list)
	}
	saveScreenshots(t, ctx)

	step("open the job", chromedp.Click(chromedp.CSS(`a[href="/dashboard/jobs/`+failed+`"]`)), chromedp.WaitVisible(chromedp.CSS("#last-error")))
	if e := text("#last-error"); !strings.Contains(e, "the posts table is read-only (maintenance window)") {
		t.Errorf("last error %q", e)
	}
	if p := text("#payload"); !strings.Contains(p, `"content": "`+script+`"`) {
		t.Errorf("the payload does not show the content as text:\n%s", p)
	}
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script, img").length`))
	if err != nil || scripts != 0 {
		t.Errorf("%d script or img elements on the job page (%v)", scripts, err)
	}

	step("retry", chromedp.Click(chromedp.ID("retry")), chromedp.WaitVisible(chromedp.CSS(".state-completed")))
	if s := text("#state"); s != StateCompleted {
		t.Errorf("state %q after retry", s)
	}
	if n := text(".notice"); !strings.Contains(n, "Retried 1 job") {
		t.Errorf("notice %q", n)
	}
	if s := mustStatus(t, a.queue, failed); s.State != StateCompleted || s.Attempts != 1 {
		t.Errorf("the queue says %+v", s)
	}
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d dialogs opened: a script ran", n)
	}
}

// chromiumPath finds Chromium; without it the test fails, saying how to
// get it (.ci/run installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium on PATH: the browser test needs it (apt-get install chromium; .ci/run installs it)")
	return ""
}

// browserContext starts a headless Chromium with a fresh profile, for 30
// seconds at most.
func browserContext(t *testing.T, path string) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	timeout, cancelTimeout := context.WithTimeout(context.Background(), 30*time.Second)
	alloc, cancelAlloc := chromedp.NewExecAllocator(timeout, opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	return ctx, func() { cancelCtx(); cancelAlloc(); cancelTimeout() }
}

// seedDashboard gives the screenshot something to show: analysed job
// offers, scored activities (the leaderboard), a moderated post.
func seedDashboard(t *testing.T, a *testApp) {
	t.Helper()
	a.mustAccept(t, "/api/jobs/analyze", `{"jobId":"job-backend-1","title":"Backend engineer (Go, PostgreSQL)","description":"Go and Postgres","requiredSkills":["Go"],"location":"Paris"}`)
	for i, u := range []string{"amelie", "bruno", "chloe", "amelie", "david", "amelie", "chloe"} {
		action := []string{"apply", "comment", "share", "like"}[i%4]
		a.mustAccept(t, activityRoute, fmt.Sprintf(`{"userId":"user-%s","action":"%s","targetId":"post-%d","targetType":"post"}`, u, action, i))
	}
	a.mustAccept(t, "/api/posts/moderate", postBody("post-hello", "Hello everyone, happy to join!"))
	a.waitDrained(t)
	a.waitBoard(t)
}

// saveScreenshots writes the overview, at desktop and at phone width,
// into the directory HOOKD_SCREENSHOTS names, if set.
func saveScreenshots(t *testing.T, ctx context.Context) {
	t.Helper()
	dir := os.Getenv("HOOKD_SCREENSHOTS")
	if dir == "" {
		return
	}
	shots := []struct {
		name          string
		width, height int64
	}{{"dashboard.png", 1280, 900}, {"dashboard-phone.png", 390, 844}}
	for _, s := range shots {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(s.width, s.height)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, s.name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
}
