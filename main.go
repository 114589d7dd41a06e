// Command hookd receives Supabase webhooks for a job-board product, answers
// each once the work is durably queued in SQLite, and processes the work in
// background worker pools: matching candidates to job offers, moderating
// newsfeed posts, scoring user activity.
//
// Usage:
//
//	SUPABASE_WEBHOOK_SECRET=dev-secret-123 hookd [--demo]
//	DATABASE_URL=postgres://… hookd migrate
//	hookd bench [-url http://host:3001 -secret …] [-route mix] [-n 100000] [-c 64] [-drain]
//
// Configuration is read from the environment; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // ACTIVITY_TIMEZONE works in a scratch container too
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hookd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "migrate":
			return runMigrate(ctx, getenv("DATABASE_URL"), stderr)
		case "bench":
			return runBench(ctx, args[1:], getenv, os.Stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("hookd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	demo := fs.Bool("demo", false, "load ~2,000 synthetic candidates into an empty embedded store (or DEMO_DATA=1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	cfg.Demo = cfg.Demo || *demo
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := OpenApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		app.Close()
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	return app.Serve(ctx, ln)
}

// runMigrate is `hookd migrate`: it applies hookd's columns and tables to
// the database of DATABASE_URL, then checks the schema is complete.
func runMigrate(ctx context.Context, url string, out io.Writer) error {
	if url == "" {
		return errors.New("hookd migrate: DATABASE_URL is not set: set it to the Postgres database to migrate")
	}
	pg, err := OpenPostgres(url, 2)
	if err != nil {
		return err
	}
	defer pg.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := pg.Migrate(ctx); err != nil {
		return fmt.Errorf("%w (the app's tables users, candidates, jobs and posts must exist first)", err)
	}
	if err := pg.CheckSchema(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "hookd migrate: the schema is up to date")
	return nil
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// App is one hookd: the SQLite file, the queue, the results store, the
// leaderboard, the HTTP side and the worker pools.
type App struct {
	cfg    Config
	log    *slog.Logger
	db     *DB
	queue  *Queue
	store  Store
	pg     *PostgresStore // nil in embedded mode
	gate   *StoreGate
	server *Server
	mod    *Moderator
	vision *VisionClient   // nil without GOOGLE_VISION_API_KEY
	board  *Leaderboard    // nil with LEADERBOARD_DISABLED
	built  chan struct{}   // closed when the leaderboard rebuild goroutine is done
	life   context.Context // ends at Close; bounds the gate's probing
	end    context.CancelFunc
}

// OpenApp opens DATA_DIR/hookd.db, applies the queue schema, opens the
// results store (embedded, or Postgres with DATABASE_URL), returns jobs
// left active by a previous process to waiting and, with --demo, loads
// the demo candidates.
func OpenApp(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	db, err := OpenDB(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	app := &App{cfg: cfg, log: log, db: db}
	app.life, app.end = context.WithCancel(context.Background())
	if err := app.open(ctx); err != nil {
		app.Close()
		return nil, err
	}
	return app, nil
}

func (a *App) open(ctx context.Context) error {
	lists, err := LoadWordLists(a.cfg.WordlistDir)
	if err != nil {
		return err
	}
	a.mod = NewModerator(lists, a.cfg.BlockedDomains)
	if a.cfg.VisionAPIKey != "" {
		a.vision = NewVisionClient(a.cfg.VisionEndpoint, a.cfg.VisionAPIKey)
	}
	q, err := OpenQueue(a.db, QueueOptions{Attempts: a.cfg.Attempts, Backoff: a.cfg.Backoff, Lease: a.cfg.Lease})
	if err != nil {
		return err
	}
	a.queue = q
	if a.cfg.DatabaseURL != "" {
		err = a.openPostgres(ctx)
	} else {
		err = a.openEmbedded()
	}
	if err != nil {
		return err
	}
	if a.cfg.Demo {
		n, err := LoadDemoData(ctx, a.db)
		if err != nil {
			return err
		}
		a.log.Info("demo data loaded", "candidates", n)
	}
	if err := a.openLeaderboard(); err != nil {
		return err
	}
	n, err := q.RecoverAbandoned(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		a.log.Warn("jobs left active by a previous process returned to waiting", "jobs", n)
	}
	a.server = NewServer(q, a.cfg.Secret, a.cfg.SigningKeys, a.cfg.MaxBodyBytes, a.log, a.gate.Problem)
	a.server.requireUUIDs = a.pg != nil
	a.server.board = a.board
	return nil
}

func (a *App) openEmbedded() error {
	store, err := OpenSQLiteStore(a.db)
	if err != nil {
		return err
	}
	a.store = store
	a.gate = NewStoreGate(a.life, func(context.Context) error { return nil }, a.log)
	return nil
}

// openPostgres checks the database at start. A missing column stops
// hookd; an unreachable database does not: webhooks are accepted and
// queued, health says degraded, and the workers wait for it.
func (a *App) openPostgres(ctx context.Context) error {
	if a.cfg.Demo {
		return errors.New("--demo loads candidates into the embedded store; it cannot be used with DATABASE_URL")
	}
	size := a.cfg.JobConcurrency + a.cfg.PostConcurrency + a.cfg.ActivityConcurrency + 2
	pg, err := OpenPostgres(a.cfg.DatabaseURL, size)
	if err != nil {
		return err
	}
	a.pg, a.store = pg, pg
	a.gate = NewStoreGate(a.life, pg.Ping, a.log)
	check, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch err := pg.CheckSchema(check); {
	case err == nil:
	case IsUnavailable(err):
		a.log.Warn("database unreachable at start: webhooks are accepted and queued until it answers", "err", err)
		a.gate.Trip(err)
	default:
		return err
	}
	return nil
}

// Handler is the HTTP side, for http.Server or httptest.
func (a *App) Handler() http.Handler { return a.server.Routes() }

// batchSizes is how many jobs a worker of each queue takes per handler
// call; missing means one. Activity jobs share one store transaction per
// batch; see README, "Performance", for the measurement that chose 256.
var batchSizes = map[string]int{QueueActivity: 256}

// RunWorkers runs the worker pools until stop is cancelled; jobs still
// running when hard is cancelled are interrupted and released. They run
// while the leaderboard is being rebuilt, too.
func (a *App) RunWorkers(stop, hard context.Context) error {
	p := &Processor{
		Store:         a.store,
		Log:           a.log,
		MinMatchScore: a.cfg.MinMatchScore,
		Timezone:      a.cfg.Timezone,
		OffPeak:       a.cfg.OffPeak,
		Moderator:     a.mod,
		Vision:        a.vision,
		Now:           time.Now,
	}
	sizes := map[string]int{
		QueueJobs:     a.cfg.JobConcurrency,
		QueuePosts:    a.cfg.PostConcurrency,
		QueueActivity: a.cfg.ActivityConcurrency,
	}
	handlers := p.Handlers()
	a.feedLeaderboard(p, handlers)
	var pools []*Pool
	for _, name := range QueueNames {
		pools = append(pools, &Pool{
			Queue:   a.queue,
			Name:    name,
			Size:    sizes[name],
			Batch:   batchSizes[name],
			Handle:  handlers[name],
			Timeout: a.cfg.Lease * 3 / 4,
			Gate:    a.gate,
			Log:     a.log,
		})
	}
	m := &Maintenance{Queue: a.queue, Lease: a.cfg.Lease, Retention: a.cfg.Retention, Log: a.log}
	return RunWorkers(stop, hard, pools, m)
}

// Serve answers webhooks on ln and runs the workers until ctx is
// cancelled, then shuts down as SPEC §4 says: stop accepting, let active
// jobs finish within SHUTDOWN_TIMEOUT, release the unfinished ones, close.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	stopWork, cancelWork := context.WithCancel(context.Background())
	hard, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	workersDone := make(chan error, 1)
	go func() { workersDone <- a.RunWorkers(stopWork, hard) }()

	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	a.log.Info("hookd listening", "addr", ln.Addr().String(), "store", a.storeName(), "queue", a.db.Path)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("http server: %w", err)
	}
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout)
	deadline, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(deadline); serr != nil {
		a.log.Warn("http shutdown", "err", serr)
	}
	cancelWork()
	select {
	case <-workersDone:
	case <-deadline.Done():
		a.log.Warn("shutdown timeout: interrupting active jobs")
		cancelHard()
		<-workersDone
	}
	if cerr := a.Close(); cerr != nil && err == nil {
		err = cerr
	}
	a.log.Info("stopped")
	return err
}

func (a *App) storeName() string {
	if a.pg != nil {
		return "postgres"
	}
	return "embedded"
}

// Close closes the leaderboard, the results store and the SQLite file.
// Call it once the workers have stopped.
func (a *App) Close() error {
	a.end()
	berr := a.closeLeaderboard()
	if a.pg != nil {
		a.pg.Close()
	}
	return errors.Join(a.db.Close(), berr)
}
