package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkEnqueueHTTP measures accepted webhooks through the real
// handler, HTTP on loopback and durable group commits, with parallel
// clients (-cpu sets GOMAXPROCS; RunParallel uses 16 clients per CPU).
// Workers are off: this is the accept path alone.
func BenchmarkEnqueueHTTP(b *testing.B) {
	cfg, err := LoadConfig(testEnv(b, nil))
	if err != nil {
		b.Fatal(err)
	}
	app, err := OpenApp(context.Background(), cfg, testLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	transport := &http.Transport{MaxIdleConnsPerHost: 1024}
	client := &http.Client{Transport: transport}
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := fmt.Sprintf(`{"userId":"user-%d","action":"like","targetId":"post-1","targetType":"post"}`, seq.Add(1)%1000)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/activity/score", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("x-webhook-secret", testSecret)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
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
	b.ResetTimer()
	done := 0
	for done < b.N {
		jobs, err := q.Claim(ctx, QueueActivity, 32)
		if err != nil || len(jobs) == 0 {
			b.Fatalf("claim: %v (%d done of %d)", err, done, b.N)
		}
		for _, j := range jobs {
			if ok, err := q.Complete(ctx, j, []byte(`{}`)); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		done += len(jobs)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// enqueueMany enqueues concurrently so that setup rides group commits.
func enqueueMany(b *testing.B, q *Queue, ids []string) {
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() { errs <- q.Enqueue(context.Background(), QueueActivity, id, []byte(`{}`), time.Now()) }()
	}
	for range ids {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}
