package main

// `hookd jobs`: the failed jobs of DATA_DIR/hookd.db from a shell, with
// hookd running or not.
//
// It opens hookd.db as hookd does, through a DB of its own: its writes go
// through one writer connection, in BEGIN IMMEDIATE transactions with a
// busy timeout of 10 s. While hookd runs, SQLite's file locks let one
// process write at a time: hookd's writer waits a few milliseconds for
// the command's one short transaction, and the command waits for a gap
// between hookd's. Under a steady stream of webhooks hookd's writer
// commits back to back and SQLite's busy handler polls, so the command
// may wait a second or two (measured: up to 1.7 s at a few hundred
// webhooks a second on 2 cores), and gives up with "database is locked"
// after 10 s; the dashboard's writes go through hookd's own writer and
// never wait so. A job the command makes waiting is found by hookd's
// reaper, which wakes the pools of the queues holding waiting jobs every
// quarter of JOB_LEASE (5 s at most).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

const jobsUsage = `usage:
  hookd jobs failed [-queue QUEUE] [-limit N]   list the failed jobs, the latest first
  hookd jobs retry ID                           run a failed job again (ID is its processingId)
  hookd jobs retry -all QUEUE                   run every failed job of a queue again
  hookd jobs discard ID                         delete a failed job
  hookd jobs discard -all QUEUE                 delete every failed job of a queue
hookd.db is read from DATA_DIR (default ./data).`

// runJobs is `hookd jobs`.
func runJobs(ctx context.Context, args []string, getenv func(string) string, out, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("hookd jobs: say what to do\n%s", jobsUsage)
	}
	cmd, args := args[0], args[1:]
	if cmd == "-h" || cmd == "--help" || cmd == "help" {
		fmt.Fprintln(out, jobsUsage)
		return nil
	}
	fs := flag.NewFlagSet("hookd jobs "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, jobsUsage) }
	var queue string
	var limit int
	var all bool
	switch cmd {
	case "failed":
		fs.StringVar(&queue, "queue", "", "list only this queue's failed jobs")
		fs.IntVar(&limit, "limit", 1000, "list at most this many")
	case "retry", "discard":
		fs.BoolVar(&all, "all", false, "every failed job of the queue named instead of an ID")
	default:
		return usageError("hookd jobs: unknown command %q\n%s", cmd, jobsUsage)
	}
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return err // run makes it a success: the usage is printed
	case err != nil:
		return usageError("hookd jobs %s: %v", cmd, err)
	}
	want := 1
	if cmd == "failed" {
		want = 0
	}
	if fs.NArg() != want {
		return usageError("hookd jobs %s: want %d argument(s), got %d\n%s", cmd, want, fs.NArg(), jobsUsage)
	}
	q, closeQueue, err := openJobsQueue(ctx, (&envReader{getenv: getenv}).str("DATA_DIR", "./data"))
	if err != nil {
		return fmt.Errorf("hookd jobs: %w", err)
	}
	switch {
	case cmd == "failed":
		err = listFailed(ctx, q, queue, limit, out)
	case all:
		err = changeQueue(ctx, q, cmd, fs.Arg(0), out)
	default:
		err = changeJob(ctx, q, cmd, fs.Arg(0), out)
	}
	if cerr := closeQueue(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("hookd jobs %s: %w", cmd, err)
	}
	return nil
}

// openJobsQueue opens the queue of an existing dataDir/hookd.db: a
// mistyped DATA_DIR must not create an empty one.
func openJobsQueue(ctx context.Context, dataDir string) (*Queue, func() error, error) {
	path := filepath.Join(dataDir, "hookd.db")
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("no queue at %s (set DATA_DIR to hookd's data directory): %w", path, err)
	}
	db, err := OpenDB(dataDir)
	if err != nil {
		return nil, nil, err
	}
	q, err := OpenQueue(ctx, db, queueNames(Kinds), QueueOptions{})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return q, db.Close, nil
}

// jobsErrorWidth is how much of a last error a line of the table shows.
const jobsErrorWidth = 80

func listFailed(ctx context.Context, q *Queue, queue string, limit int, out io.Writer) error {
	if queue != "" {
		if err := q.known(queue); err != nil {
			return err
		}
	}
	jobs, total, err := q.Failed(ctx, queue, limit)
	if err != nil {
		return err
	}
	if total == 0 {
		fmt.Fprintln(out, "no failed jobs")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROCESSING ID\tQUEUE\tFAILED\tATTEMPTS\tLAST ERROR")
	now := time.Now()
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s ago\t%d/%d\t%s\n", j.ProcessingID, j.Queue, shortAge(now, j.FinishedAt),
			j.Attempts, j.MaxAttempts, truncate(strings.Join(strings.Fields(j.LastError), " "), jobsErrorWidth))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(jobs) < total {
		fmt.Fprintf(out, "the latest %d of %d failed jobs (-limit to see more)\n", len(jobs), total)
	}
	return nil
}

func changeJob(ctx context.Context, q *Queue, cmd, id string, out io.Writer) error {
	if cmd == "retry" {
		if err := q.Retry(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(out, "retried %s: waiting; a running hookd takes it within a few seconds\n", id)
		return nil
	}
	if err := q.Discard(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(out, "discarded %s\n", id)
	return nil
}

func changeQueue(ctx context.Context, q *Queue, cmd, queue string, out io.Writer) error {
	if cmd == "retry" {
		n, err := q.RetryAll(ctx, queue)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "retried %d failed jobs of %s\n", n, queue)
		if _, left, err := q.Failed(ctx, queue, 0); err == nil && left > 0 {
			fmt.Fprintf(out, "%d failed on arrival and never ran: retrying cannot help, discard them\n", left)
		}
		return nil
	}
	n, err := q.DiscardAll(ctx, queue)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "discarded %d failed jobs of %s\n", n, queue)
	return nil
}
