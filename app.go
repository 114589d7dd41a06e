package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// App is one hookd: the SQLite file and its queue, the results store, the
// leaderboard, the HTTP side and the worker pools. OpenApp builds it,
// Serve runs it until its context ends, and Close releases it; tests use
// Handler and RunWorkers to run the two halves on their own.
type App struct {
	cfg     Config
	log     *slog.Logger
	db      *DB
	queue   *Queue
	store   Store
	gate    *StoreGate
	outbox  *Outbox // nil in embedded mode
	server  *Server
	mod     *Moderator
	vision  *VisionClient         // nil without GOOGLE_VISION_API_KEY
	text    *TextModerationClient // nil without TEXT_MODERATION_API_KEY
	board   *Leaderboard          // nil with LEADERBOARD_DISABLED
	metrics *Metrics
	built   chan struct{}   // closed when the leaderboard rebuild goroutine is done
	life    context.Context // ends at Close; bounds the gate's probing
	end     context.CancelFunc
	unlock  func() // releases DATA_DIR
}

// OpenApp opens DATA_DIR/hookd.db and its queues, opens the results store
// (embedded, or Postgres with DATABASE_URL), returns jobs left active by a
// previous process to waiting and, with --demo, loads the demo
// candidates.
func OpenApp(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create DATA_DIR %s: %w", cfg.DataDir, err)
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	db, err := OpenDB(cfg.DataDir)
	if err != nil {
		unlock()
		return nil, err
	}
	app := &App{cfg: cfg, log: log, db: db, unlock: unlock}
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
	a.text = a.cfg.TextModeration.Client()
	opt := QueueOptions{Attempts: a.cfg.Attempts, Backoff: a.cfg.Backoff, Lease: a.cfg.Lease}
	if a.queue, err = OpenQueue(ctx, a.db, queueNames(a.cfg.Kinds), opt); err != nil {
		return err
	}
	if a.cfg.Embedded() {
		err = a.openEmbedded(ctx)
	} else {
		err = a.openPostgres(ctx)
	}
	if err != nil {
		return err
	}
	if err := a.openLeaderboard(); err != nil {
		return err
	}
	n, err := a.queue.RecoverAbandoned(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		a.log.Warn("jobs left active by a previous process returned to waiting", "jobs", n)
	}
	a.metrics = NewMetrics(MetricsSources{
		Queues:       queueNames(a.cfg.Kinds),
		Counts:       a.queue.Counts,
		QueueProblem: a.queue.CommitError,
		StoreProblem: a.gate.Problem,
		Outbox:       a.outbox,
		WALRestarts:  a.db.WALRestarts,
	}, a.cfg.MetricsToken)
	a.queue.OnOutcomes(a.metrics.countOutcomes)
	a.server = NewServer(ServerConfig{
		Kinds:        a.cfg.Kinds,
		Queue:        a.queue,
		Secret:       a.cfg.Secret,
		SigningKeys:  a.cfg.SigningKeys,
		MaxBody:      a.cfg.MaxBodyBytes,
		RequireUUIDs: !a.cfg.Embedded(),
		StoreProblem: a.gate.Problem,
		Outbox:       a.outbox,
		Board:        a.board,
		Log:          a.log,
		Metrics:      a.metrics,
		Dashboard: NewDashboard(DashboardConfig{
			Password:     a.cfg.DashboardPassword,
			Queue:        a.queue,
			Queues:       queueNames(a.cfg.Kinds),
			Mode:         a.cfg.StoreName(),
			StoreProblem: a.gate.Problem,
			Outbox:       a.outbox,
			Board:        a.board,
			Log:          a.log,
		}),
	})
	return nil
}

func (a *App) openEmbedded(ctx context.Context) error {
	store := OpenSQLiteStore(a.db)
	a.store = store
	a.gate = NewStoreGate(a.life, store.Ping, a.log)
	if a.cfg.Demo {
		n, err := LoadDemoData(ctx, a.db)
		switch {
		case err != nil:
			return err
		case n == 0:
			a.log.Info("demo data: candidates already present, none added")
		default:
			a.log.Info("demo data loaded", "candidates", n)
		}
	}
	return nil
}

// openPostgres checks the database at start. A missing column stops
// hookd; an unreachable database does not: webhooks are accepted and
// queued, health says degraded, and the workers wait for it.
func (a *App) openPostgres(ctx context.Context) error {
	if a.cfg.Demo {
		return errors.New("--demo loads candidates into the embedded store; it cannot be used with DATABASE_URL")
	}
	pg, err := OpenPostgres(a.cfg.DatabaseURL, a.cfg.TotalWorkers()+2)
	if err != nil {
		return err
	}
	a.store = pg
	a.gate = NewStoreGate(a.life, pg.Ping, a.log)
	a.outbox = &Outbox{
		Pool:      pg.pool,
		Queue:     a.queue,
		Kinds:     a.cfg.Kinds,
		MaxBody:   a.cfg.MaxBodyBytes,
		Poll:      a.cfg.OutboxPoll,
		ListenURL: a.cfg.OutboxListenURL,
		Log:       a.log,
	}
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

// RunWorkers runs a worker pool per kind, the queue's maintenance and,
// in Postgres mode, the outbox's puller, until stop is cancelled; jobs
// still running when hard is cancelled are interrupted and released. A
// leaderboard that needs rebuilding is rebuilt beside them: the workers do
// not wait for it (see Leaderboard.Rebuild).
func (a *App) RunWorkers(stop, hard context.Context) error {
	p := &Processor{
		Store:          a.store,
		Log:            a.log,
		MinMatchScore:  a.cfg.MinMatchScore,
		Timezone:       a.cfg.Timezone,
		OffPeak:        a.cfg.OffPeak,
		Moderator:      a.mod,
		Vision:         a.vision,
		TextModeration: a.text,
		Now:            time.Now,
	}
	if a.board != nil {
		p.Feed = a.board
		a.startRebuild(p.Store)
	}
	var pools []*Pool
	for _, k := range a.cfg.Kinds {
		pools = append(pools, &Pool{
			Queue:   a.queue,
			Name:    k.Queue,
			Size:    a.cfg.WorkersOf(k),
			Batch:   k.Batch,
			Work:    a.metrics.timeWork(k.Queue, func(ctx context.Context, jobs []Job) []Result { return k.Work(p, ctx, jobs) }),
			Timeout: a.cfg.Lease * 3 / 4,
			Gate:    a.gate,
			Log:     a.log,
		})
	}
	m := &Maintenance{Queue: a.queue, Lease: a.cfg.Lease, Retention: a.cfg.Retention, Log: a.log}
	if a.outbox == nil {
		return runPools(stop, hard, pools, m)
	}
	pulled := make(chan struct{})
	go func() {
		defer close(pulled)
		a.outbox.Run(stop)
	}()
	err := runPools(stop, hard, pools, m)
	<-pulled // it may be enqueuing still: the queue must outlive it
	return err
}

// Serve answers webhooks on ln and runs the workers until ctx is
// cancelled, then shuts down: stop accepting, let active jobs finish
// within SHUTDOWN_TIMEOUT, release the unfinished ones, close.
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
	a.log.Info("hookd listening", a.startupFacts(ln)...)

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

// startupFacts is what the start line says: where it listens, the mode,
// how many workers of each kind, and which optional parts are on.
func (a *App) startupFacts(ln net.Listener) []any {
	facts := []any{"addr", ln.Addr().String(), "store", a.cfg.StoreName(), "queue", a.db.Path}
	for _, k := range a.cfg.Kinds {
		facts = append(facts, "workers."+k.Queue, a.cfg.WorkersOf(k))
	}
	return append(facts,
		"capture", a.outbox != nil,
		"signatures", len(a.cfg.SigningKeys) > 0,
		"vision", a.vision != nil,
		"textModeration", a.text != nil,
		"leaderboard", a.board != nil,
	)
}

// Close closes the leaderboard, the results store and the SQLite file.
// Call it once the workers have stopped.
func (a *App) Close() error {
	a.end()
	berr := a.closeLeaderboard()
	if a.store != nil {
		a.store.Close()
	}
	err := errors.Join(a.db.Close(), berr)
	a.unlock()
	return err
}

// openLeaderboard opens redka.db unless LEADERBOARD_DISABLED. Its
// rebuild, when it needs one, starts with the workers (startRebuild).
func (a *App) openLeaderboard() error {
	if a.cfg.LeaderboardDisabled {
		return RemoveLeaderboardFiles(a.cfg.DataDir)
	}
	board, err := OpenLeaderboard(a.cfg.DataDir, a.cfg.StoreIdentity(), a.log, a.cfg.Clock)
	if err != nil {
		return err
	}
	a.board = board
	return nil
}

// startRebuild starts the leaderboard's rebuild from src when redka.db
// needs one, once: with the workers, whose activity writes it must see
// begin and end (Leaderboard.Enter).
func (a *App) startRebuild(src LeaderboardSource) {
	if !a.board.NeedsRebuild() || a.built != nil {
		return
	}
	a.built = make(chan struct{})
	go a.rebuildLeaderboard(src)
}

// rebuildLeaderboard retries the rebuild with a capped backoff until it
// succeeds or the app closes: a store that is down at start delays the
// leaderboard, as it delays the workers, but not the webhooks.
func (a *App) rebuildLeaderboard(src LeaderboardSource) {
	defer close(a.built)
	delay := 250 * time.Millisecond
	for {
		err := a.board.Rebuild(a.life, src)
		if err == nil || a.life.Err() != nil {
			return
		}
		a.log.Error("leaderboard rebuild failed; retrying", "err", err, "retryIn", delay)
		sleep(a.life, delay)
		delay = min(2*delay, 10*time.Second)
	}
}

// closeLeaderboard waits for a rebuild in progress to give up, then
// flushes and closes redka.db.
func (a *App) closeLeaderboard() error {
	if a.board == nil {
		return nil
	}
	if a.built != nil {
		<-a.built
	}
	return a.board.Close()
}
