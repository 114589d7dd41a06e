// Command hookd receives Supabase webhooks for a job-board product, answers
// each once the work is durably queued in SQLite, and processes the work in
// background worker pools: matching candidates to job offers, moderating
// newsfeed posts, scoring user activity.
//
// Usage:
//
//	SUPABASE_WEBHOOK_SECRET=dev-secret-123 hookd [--demo]
//	DATABASE_URL=postgres://… hookd migrate
//	DATABASE_URL=postgres://… hookd backfill [-dry-run]
//	hookd bench [-url http://host:3001 -secret …] [-route mix] [-n 100000] [-c 64] [-drain]
//	hookd jobs failed | retry ID | retry -all QUEUE | discard ID | discard -all QUEUE
//
// Configuration is read from the environment; see docs/configuration.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // ACTIVITY_TIMEZONE works in a scratch container too

	"github.com/jackc/pgx/v5/pgconn"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "hookd:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "hookd:", err)
		os.Exit(1)
	}
}

// errUsage marks a command line hookd does not understand (exit status 2).
var errUsage = errors.New("usage")

func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s (hookd help lists the commands)", errUsage, fmt.Sprintf(format, args...))
}

const usage = `hookd takes Supabase webhooks and captured row events for a job board,
commits each to a queue in DATA_DIR/hookd.db, and works them off in the
background: job analysis, candidate matching, post moderation, activity
scoring.

Usage:
  hookd [serve] [-demo]       run the service (the default command)
  hookd migrate               apply hookd's migrations to DATABASE_URL and attach capture triggers
  hookd backfill [-dry-run]   queue the work that rows of DATABASE_URL never got
  hookd jobs ...              list, retry or discard failed jobs in DATA_DIR/hookd.db
  hookd bench [flags]         load a hookd and report accept rate, latency and WAL size
  hookd help                  this text

Main environment variables (all of them: docs/configuration.md):
  SUPABASE_WEBHOOK_SECRET  required: the secret webhooks send in x-webhook-secret
  PORT                     HTTP port (3001)
  DATA_DIR                 where hookd.db and redka.db live (./data)
  DATABASE_URL             Supabase Postgres for the results; unset: results in hookd.db
  LOG_LEVEL, LOG_FORMAT    debug|info|warn|error (info), text|json (text)
`

// run runs the command args name. A subcommand's -h has printed its
// flags, as asked: that is a success.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := runCommand(ctx, args, getenv, stdout, stderr); !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil
}

func runCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	command, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		command, rest = args[0], args[1:]
	}
	switch command {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, getenv("DATABASE_URL"), stdout)
	case "backfill":
		return runBackfill(ctx, rest, getenv("DATABASE_URL"), stdout, stderr)
	case "bench":
		return runBench(ctx, rest, getenv, stdout, stderr)
	case "jobs":
		return runJobs(ctx, rest, getenv, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError("unknown command %q", command)
}

// runServe is `hookd [serve]`: the service, until SIGINT or SIGTERM.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hookd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stdout, usage)
		fmt.Fprintln(stdout, "\nFlags of hookd serve:")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	demo := fs.Bool("demo", false, "load ~2,000 synthetic candidates into an empty embedded store (or DEMO_DATA=1)")
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case err != nil:
		return fmt.Errorf("%w: %v", errUsage, err)
	case fs.NArg() > 0:
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	cfg.Demo = cfg.Demo || *demo
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	app, err := OpenApp(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	return app.Serve(ctx, ln)
}

// postgresFor opens DATABASE_URL for a command run from a shell.
func postgresFor(command, url string) (*PostgresStore, error) {
	if url == "" {
		return nil, fmt.Errorf("hookd %s: DATABASE_URL is not set: set it to the Postgres database hookd works on", command)
	}
	return OpenPostgres(url, 2)
}

// runMigrate is `hookd migrate`: it applies hookd's columns and tables to
// the database of DATABASE_URL, then checks the schema is complete.
func runMigrate(ctx context.Context, url string, out io.Writer) error {
	pg, err := postgresFor("migrate", url)
	if err != nil {
		return err
	}
	defer pg.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	applied, err := pg.Migrate(ctx)
	if err != nil {
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
			return fmt.Errorf("%w (the app's tables users, candidates, jobs and posts must exist first)", err)
		}
		return err
	}
	if err := pg.CheckSchema(ctx); err != nil {
		return err
	}
	tables, err := pg.AttachCapture(ctx, Kinds)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(out, "hookd migrate: nothing to apply, the database has all %d migrations\n", len(postgresMigrations))
	} else {
		fmt.Fprintln(out, "hookd migrate: applied", strings.Join(applied, ", "))
	}
	fmt.Fprintln(out, "hookd migrate: capture triggers on", strings.Join(tables, ", "))
	return nil
}

// newLogger builds the logger cfg asks for. LoadConfig has checked both
// values, so a level slog cannot read is only the zero Config's "", info.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
