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
		case "backfill":
			return runBackfill(ctx, args[1:], getenv("DATABASE_URL"), os.Stdout, stderr)
		case "bench":
			return runBench(ctx, args[1:], getenv, os.Stdout, stderr)
		case "jobs":
			return runJobs(ctx, args[1:], getenv, os.Stdout, stderr)
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
	fmt.Fprintln(out, "hookd migrate: the schema is up to date; capturing the row events of", strings.Join(tables, ", "))
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
