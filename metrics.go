package main

// Prometheus metrics, served at GET /metrics. Every name starts with
// hookd_; labels hold only what hookd defines (route patterns, queue
// names, job states, outcomes, status codes), never a secret, a host, a
// path, an id or anything a sender wrote. docs/operations.md lists them.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// unmatchedRoute is the route label of requests no route took: the path
// itself could be anything a client sent.
const unmatchedRoute = "unmatched"

// Metrics holds hookd's metrics, in a registry of its own so that several
// Apps in one process (tests) do not collide.
type Metrics struct {
	reg       *prometheus.Registry
	tokenHash [sha256.Size]byte
	token     bool // METRICS_TOKEN is set

	webhooks *prometheus.CounterVec
	answer   *prometheus.HistogramVec
	finished *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// MetricsSources are what the metrics read when they are scraped.
type MetricsSources struct {
	Queues       []string // queue names: their outcome series start at zero
	Counts       func(ctx context.Context) (map[string]QueueCounts, error)
	QueueProblem func() string // the queue's last commit error, "" when it works
	StoreProblem func() string // why the results store is unreachable, "" when it answers
	Outbox       *Outbox       // nil in embedded mode
	WALRestarts  func() int64
}

// NewMetrics registers hookd's metrics, the Go runtime's and the
// process's. token, when not empty, is required as a Bearer token.
func NewMetrics(src MetricsSources, token string) *Metrics {
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		tokenHash: sha256.Sum256([]byte(token)),
		token:     token != "",
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_webhooks_received_total",
			Help: "Webhooks answered, by route pattern and HTTP status; requests no route took are counted under route=\"" + unmatchedRoute + "\".",
		}, []string{"route", "status"}),
		answer: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookd_webhook_duration_seconds",
			Help:    "Time to answer a webhook, durable commit included, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_jobs_finished_total",
			Help: "Job attempts that ended, by queue and outcome: completed; retried (failed, will run again); failed (for good).",
		}, []string{"queue", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookd_job_duration_seconds",
			Help:    "Time a job's work took, by queue; jobs done in one batch share its time equally.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"queue"}),
	}
	for _, q := range src.Queues {
		for _, o := range []string{"completed", "retried", "failed"} {
			m.finished.WithLabelValues(q, o)
		}
	}
	m.reg.MustRegister(m.webhooks, m.answer, m.finished, m.duration,
		&stateCollector{src: src},
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "hookd_wal_restarts_total",
			Help: "Times the writer started hookd.db's WAL over to keep it bounded.",
		}, func() float64 { return float64(src.WALRestarts()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the exposition, behind the token when there is one. A
// source that cannot be read (the outbox while Postgres is down) is left
// out and logged; the rest is still served.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	})
	if !m.token {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hookd metrics"`)
			writeError(w, http.StatusUnauthorized, "Unauthorized: /metrics needs Authorization: Bearer <METRICS_TOKEN>", nil)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authorized compares the Bearer token in constant time, hashed as
// x-webhook-secret is.
func (m *Metrics) authorized(r *http.Request) bool {
	const prefix = "Bearer "
	auth := r.Header.Get("Authorization")
	if len(auth) < len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(auth[len(prefix):]))
	return subtle.ConstantTimeCompare(got[:], m.tokenHash[:]) == 1
}

// webhook counts and times a webhook route's answers. A nil Metrics
// returns h as it is.
func (m *Metrics) webhook(route string, h httprouter.Handle) httprouter.Handle {
	if m == nil {
		return h
	}
	rm := m.route(route)
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		start := time.Now()
		sw := statusWriters.Get().(*statusWriter)
		sw.ResponseWriter, sw.code = w, 0
		h(sw, r, p)
		rm.answered(sw.status(), time.Since(start))
		sw.ResponseWriter = nil
		statusWriters.Put(sw)
	}
}

// unmatched counts the requests no route took, then runs h.
func (m *Metrics) unmatched(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	rm := m.route(unmatchedRoute)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		rm.count(sw.status())
	})
}

// routeMetrics are one route's series, looked up once: the accept path
// pays an atomic add and a histogram observation, no label hashing.
type routeMetrics struct {
	route  string
	vec    *prometheus.CounterVec
	answer prometheus.Observer
	codes  sync.Map // status code → prometheus.Counter
}

func (m *Metrics) route(route string) *routeMetrics {
	return &routeMetrics{route: route, vec: m.webhooks, answer: m.answer.WithLabelValues(route)}
}

func (rm *routeMetrics) answered(code int, took time.Duration) {
	rm.count(code)
	rm.answer.Observe(took.Seconds())
}

func (rm *routeMetrics) count(code int) {
	c, ok := rm.codes.Load(code)
	if !ok {
		c, _ = rm.codes.LoadOrStore(code, rm.vec.WithLabelValues(rm.route, strconv.Itoa(code)))
	}
	c.(prometheus.Counter).Inc()
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code int
}

var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
		// http.MaxBytesReader tells the server to close the connection
		// after a body it cut short through a method a wrapper cannot
		// have; the header asks the same.
		if code == http.StatusRequestEntityTooLarge {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// countOutcomes is the queue's OnOutcomes function.
func (m *Metrics) countOutcomes(queue string, o Outcomes) {
	for _, c := range []struct {
		outcome string
		n       int64
	}{{"completed", o.Completed}, {"retried", o.Retried}, {"failed", o.Failed}} {
		if c.n > 0 {
			m.finished.WithLabelValues(queue, c.outcome).Add(float64(c.n))
		}
	}
}

// timeWork times a queue's work function; a nil Metrics returns work as
// it is.
func (m *Metrics) timeWork(queue string, work WorkFunc) WorkFunc {
	if m == nil {
		return work
	}
	obs := m.duration.WithLabelValues(queue)
	return func(ctx context.Context, jobs []Job) []Result {
		start := time.Now()
		out := work(ctx, jobs)
		if len(jobs) > 0 {
			each := time.Since(start).Seconds() / float64(len(jobs))
			for range jobs {
				obs.Observe(each)
			}
		}
		return out
	}
}

// stateCollector reads, at each scrape, what health reports: jobs per
// queue and state, the queue's and the store's condition, the outbox.
type stateCollector struct{ src MetricsSources }

var (
	jobsDesc = prometheus.NewDesc("hookd_jobs",
		"Jobs by queue and state, as GET /api/health/queues reports them: waiting, active and delayed now; completed and failed cumulative, each job counted once by how it last ended.",
		[]string{"queue", "state"}, nil)
	queueUpDesc = prometheus.NewDesc("hookd_queue_up",
		"1 while commits to hookd.db succeed; 0 after one failed (webhooks get 503).", nil, nil)
	storeUpDesc = prometheus.NewDesc("hookd_store_up",
		"1 while the results store answers; 0 while it is unreachable (workers paused, webhooks still accepted).", nil, nil)
	failedNowDesc = prometheus.NewDesc("hookd_jobs_failed_now",
		"Failed jobs there are to retry or discard, by queue.",
		[]string{"queue"}, nil)
	outboxBacklogDesc = prometheus.NewDesc("hookd_outbox_backlog",
		"Captured events waiting in Postgres's hookd.outbox (Postgres mode).", nil, nil)
	outboxAgeDesc = prometheus.NewDesc("hookd_outbox_oldest_age_seconds",
		"Age of the oldest event waiting in hookd.outbox, 0 when it is empty (Postgres mode).", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobsDesc, failedNowDesc, queueUpDesc, storeUpDesc, outboxBacklogDesc, outboxAgeDesc} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ch <- prometheus.MustNewConstMetric(queueUpDesc, prometheus.GaugeValue, up(c.src.QueueProblem()))
	storeProblem := c.src.StoreProblem()
	ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, up(storeProblem))
	if counts, err := c.src.Counts(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		ch <- prometheus.NewInvalidMetric(failedNowDesc, err)
	} else {
		for queue, n := range counts {
			for _, s := range []struct {
				state string
				n     int64
			}{{StateWaiting, n.Waiting}, {StateActive, n.Active}, {StateDelayed, n.Delayed}, {StateCompleted, n.Completed}, {StateFailed, n.Failed}} {
				ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(s.n), queue, s.state)
			}
			ch <- prometheus.MustNewConstMetric(failedNowDesc, prometheus.GaugeValue, float64(n.FailedNow), queue)
		}
	}
	if c.src.Outbox == nil || storeProblem != "" {
		return
	}
	if o, err := c.src.Outbox.Stats(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(outboxBacklogDesc, err)
	} else {
		ch <- prometheus.MustNewConstMetric(outboxBacklogDesc, prometheus.GaugeValue, float64(o.Backlog))
		ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, o.OldestAgeSeconds)
	}
}

func up(problem string) float64 {
	if problem == "" {
		return 1
	}
	return 0
}

// operationsRoutes registers /metrics and the dashboard's routes.
func (s *Server) operationsRoutes(r *httprouter.Router) {
	if s.Metrics != nil {
		r.Handler(http.MethodGet, "/metrics", s.Metrics.Handler(s.Log))
	}
	s.Dashboard.routes(r)
}
