-- hookd.db as versions before ordered processingId indexes created it:
-- the queue table and activity_logs with processing_id UNIQUE on the column.
CREATE TABLE IF NOT EXISTS queue_jobs (
  id            INTEGER PRIMARY KEY,
  processing_id TEXT    NOT NULL UNIQUE,
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

-- Claims read (queue, 'waiting') in run_at order; retries read (queue, 'delayed') by run_at.
CREATE INDEX IF NOT EXISTS queue_jobs_claim ON queue_jobs (queue, state, run_at, id);
-- The reaper looks only at active jobs, pruning only at completed ones.
CREATE INDEX IF NOT EXISTS queue_jobs_lease ON queue_jobs (lease_until) WHERE state = 'active';
CREATE INDEX IF NOT EXISTS queue_jobs_finished ON queue_jobs (finished_at) WHERE state = 'completed';

CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, email TEXT UNIQUE, full_name TEXT, created_at TEXT NOT NULL, engagement_score INTEGER NOT NULL DEFAULT 0, last_activity_at TEXT);
CREATE TABLE IF NOT EXISTS activity_logs (
  id            TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  action        TEXT NOT NULL,
  target_type   TEXT,
  target_id     TEXT,
  points_earned INTEGER,
  processing_id TEXT UNIQUE,
  created_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS activity_logs_user ON activity_logs (user_id, created_at);
CREATE INDEX IF NOT EXISTS activity_logs_created ON activity_logs (created_at);
