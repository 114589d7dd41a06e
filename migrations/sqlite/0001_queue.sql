-- hookd.db, migration 1: the durable queue. Times are Unix milliseconds.
--
-- Before hookd numbered its migrations it ran this script at every start,
-- so every statement is idempotent: on a file made then (user_version 0)
-- it adds only what is missing. Like every migration it is never edited
-- once released; a change to the schema is a new file (see migrations.go).

CREATE TABLE IF NOT EXISTS queue_jobs (
  id            INTEGER PRIMARY KEY,
  processing_id TEXT    NOT NULL,             -- unique: see queue_jobs_processing_id
  queue         TEXT    NOT NULL,
  state         TEXT    NOT NULL DEFAULT 'waiting'
                CHECK (state IN ('waiting', 'active', 'delayed', 'completed', 'failed')),
  payload       BLOB    NOT NULL,
  attempts      INTEGER NOT NULL DEFAULT 0,   -- claims so far; the current attempt while active
  max_attempts  INTEGER NOT NULL,
  run_at        INTEGER NOT NULL,             -- waiting: enqueue time; delayed: when to retry
  lease_until   INTEGER,                      -- active only
  received_at   INTEGER NOT NULL,
  finished_at   INTEGER,
  last_error    TEXT,
  result        TEXT
);

-- A processingId is <kind>-<id>-<Unix ms>-<8-character suffix>,
-- so it sorts by id, and a unique index on it alone takes every new job to
-- a random page of the index: one more page written per webhook. Keyed by
-- its milliseconds first, new ids land on the index's last pages. A key
-- that is a function of processing_id, then processing_id, is unique
-- exactly when processing_id is. Lookups must name the same expression.
CREATE UNIQUE INDEX IF NOT EXISTS queue_jobs_processing_id ON queue_jobs (substr(processing_id, -22, 13), processing_id);
-- Claims read (queue, 'waiting') in run_at order; retries read (queue, 'delayed') by run_at.
CREATE INDEX IF NOT EXISTS queue_jobs_claim ON queue_jobs (queue, state, run_at, id);
-- The reaper looks only at active jobs, pruning only at completed ones.
CREATE INDEX IF NOT EXISTS queue_jobs_lease ON queue_jobs (lease_until) WHERE state = 'active';
CREATE INDEX IF NOT EXISTS queue_jobs_finished ON queue_jobs (finished_at) WHERE state = 'completed';

-- Cumulative outcomes, updated in the same transaction as the job's final
-- state, so pruning completed rows never changes what health reports.
CREATE TABLE IF NOT EXISTS queue_stats (
  queue     TEXT PRIMARY KEY,
  completed INTEGER NOT NULL DEFAULT 0,
  failed    INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO queue_stats (queue) VALUES ('job-analysis'), ('post-moderation'), ('activity-scoring');

-- Delivery keys: a sender's webhook-id or Idempotency-Key, or a
-- Supabase envelope's row event, per queue. Written in the same
-- transaction as the job it names, so a repeat finds it and adds nothing.
-- Kept 24 hours (created_at is Unix milliseconds).
CREATE TABLE IF NOT EXISTS queue_deliveries (
  queue         TEXT    NOT NULL,
  key           TEXT    NOT NULL,
  processing_id TEXT    NOT NULL,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (queue, key)
);
CREATE INDEX IF NOT EXISTS queue_deliveries_created ON queue_deliveries (created_at);
