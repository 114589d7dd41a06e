package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 200; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    int
		want time.Duration
	}{{50, 100 * time.Millisecond}, {90, 180 * time.Millisecond}, {99, 198 * time.Millisecond}, {100, 200 * time.Millisecond}, {1, 2 * time.Millisecond}} {
		if got := percentile(lat, c.p); got != c.want {
			t.Errorf("p%d of 1..200 ms = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile([]time.Duration{7 * time.Millisecond}, 99); got != 7*time.Millisecond {
		t.Errorf("p99 of one value = %v", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
}

func TestSummarizeArithmetic(t *testing.T) {
	results := []benchResult{
		{latencies: []time.Duration{time.Millisecond, 3 * time.Millisecond}, statuses: map[string]int{"503": 2}},
		{latencies: []time.Duration{2 * time.Millisecond, 4 * time.Millisecond}, statuses: map[string]int{"error": 1, "503": 1}},
	}
	rep := summarize(BenchOptions{Route: "mix", C: 2}, results, 2*time.Second)
	if rep.Sent != 8 || rep.Accepted != 4 || rep.Statuses["503"] != 3 || rep.Statuses["error"] != 1 {
		t.Errorf("counts %+v", rep)
	}
	if rep.AcceptedRate != 2 || rep.P50Ms != 2 || rep.P90Ms != 4 || rep.MaxMs != 4 {
		t.Errorf("rate %v p50 %v p90 %v max %v, want 2/s 2ms 4ms 4ms", rep.AcceptedRate, rep.P50Ms, rep.P90Ms, rep.MaxMs)
	}
}

// A tiny real run against an in-process hookd: every request accepted,
// the arithmetic of the report consistent, the drain seen through health.
func TestBenchTinyRunInProcess(t *testing.T) {
	var out, errOut bytes.Buffer
	env := testEnv(t, nil)
	err := runBench(context.Background(), []string{"-n", "60", "-c", "4", "-route", "mix", "-drain", "-json"}, env, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var rep BenchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("-json output %q: %v", out.String(), err)
	}
	if rep.Sent != 60 || rep.Accepted != 60 || len(rep.Statuses) != 0 {
		t.Fatalf("report %+v, want 60 sent and accepted", rep)
	}
	if rep.P50Ms <= 0 || rep.P50Ms > rep.P90Ms || rep.P90Ms > rep.P99Ms || rep.P99Ms > rep.MaxMs {
		t.Errorf("percentiles out of order: %+v", rep)
	}
	if want := float64(rep.Accepted) / rep.Seconds; rep.AcceptedRate < want*0.999 || rep.AcceptedRate > want*1.001 {
		t.Errorf("rate %v, want accepted/seconds = %v", rep.AcceptedRate, want)
	}
	if rep.EndToEndRate <= 0 || rep.DrainSeconds < 0 || rep.EndToEndRate > float64(rep.Accepted)/rep.Seconds {
		t.Errorf("drain figures %+v: end-to-end cannot beat the accept rate", rep)
	}
	if rep.PeakRSSMiB <= 0 {
		t.Errorf("no peak RSS for an in-process run")
	}
}

// Against an external instance (here an httptest one), with a wrong
// secret: every answer is a 401, counted, none accepted.
func TestBenchExternalCountsRejections(t *testing.T) {
	a := startApp(t, nil)
	rep, err := Bench(context.Background(), BenchOptions{URL: a.URL, Secret: "wrong", Route: "activity", N: 10, C: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 0 || rep.Statuses["401"] != 10 || rep.Sent != 10 {
		t.Errorf("%+v, want 10 × 401", rep)
	}
	var text bytes.Buffer
	printReport(&text, rep, false)
	if !strings.Contains(text.String(), "401 × 10") {
		t.Errorf("text report does not list the 401s:\n%s", text.String())
	}
}

func TestBenchFlagsValidated(t *testing.T) {
	for _, args := range [][]string{{"-route", "nope"}, {"-c", "0"}, {"-n", "0"}, {"-duration", "2h"}} {
		if _, err := parseBenchFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	if err := runBench(context.Background(), []string{"-url", "http://127.0.0.1:1"}, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{}); err != errNoSecret {
		t.Errorf("-url without a secret: %v", err)
	}
}

// The generator's own HTTP client: a server that closes connections, or
// drops one without answering, costs a redial, and only the dropped
// requests count as errors.
func TestBenchConnSurvivesClosedConnections(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/health/queues" {
			io.WriteString(w, `{"status":"ok","queues":{"activity-scoring":{}}}`)
			return
		}
		if r.Header.Get("x-webhook-secret") != "s" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad headers", http.StatusBadRequest)
			return
		}
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Error(err)
		}
		switch n.Add(1) % 3 {
		case 0: // drop the connection, no answer
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case 1:
			w.Header().Set("Connection", "close")
			io.WriteString(w, `{"success":true}`)
		default:
			io.WriteString(w, `{"success":true}`)
		}
	}))
	defer srv.Close()
	rep, err := Bench(context.Background(), BenchOptions{URL: srv.URL, Secret: "s", Route: "mix", N: 30, C: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 30 || rep.Accepted != 20 || rep.Statuses["error"] != 10 || len(rep.Statuses) != 1 {
		t.Errorf("%+v, want 20 accepted and 10 errors", rep)
	}
}
