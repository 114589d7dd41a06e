-- hookd.db, migration 2: the embedded results store, the Supabase app's
-- tables plus the columns and tables hookd owns, mirrored with SQLite
-- types: booleans as 0/1, timestamps as RFC 3339 UTC text (fixed width,
-- so they sort as text), arrays as JSON arrays, ids as text.
--
-- Created in Postgres mode too, where they stay empty: one file, one
-- sequence of migrations, so user_version alone says what the file holds.
-- Idempotent, as 0001_queue.sql and for the same reason.

CREATE TABLE IF NOT EXISTS users (
  id               TEXT PRIMARY KEY,
  email            TEXT UNIQUE,
  full_name        TEXT,
  created_at       TEXT NOT NULL,
  engagement_score INTEGER NOT NULL DEFAULT 0,
  last_activity_at TEXT
);

CREATE TABLE IF NOT EXISTS candidates (
  id               TEXT PRIMARY KEY,
  user_id          TEXT REFERENCES users(id) ON DELETE CASCADE,
  full_name        TEXT,
  skills           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(skills)),
  experience_level TEXT,
  location         TEXT,
  created_at       TEXT NOT NULL
);

-- One row per (lowercased skill spelling, candidate), kept by triggers so
-- that rows inserted by anyone stay searchable: the job analysis looks
-- candidates up through this index instead of reading every candidate.
CREATE TABLE IF NOT EXISTS candidate_skills (
  skill        TEXT NOT NULL,
  candidate_id TEXT NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
  PRIMARY KEY (skill, candidate_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS candidate_skills_candidate ON candidate_skills (candidate_id);

CREATE TRIGGER IF NOT EXISTS candidates_skills_insert AFTER INSERT ON candidates BEGIN
  INSERT OR IGNORE INTO candidate_skills (skill, candidate_id)
  SELECT lower(trim(value)), NEW.id FROM json_each(NEW.skills) WHERE trim(value) <> '';
END;
CREATE TRIGGER IF NOT EXISTS candidates_skills_update AFTER UPDATE OF skills ON candidates BEGIN
  DELETE FROM candidate_skills WHERE candidate_id = OLD.id;
  INSERT OR IGNORE INTO candidate_skills (skill, candidate_id)
  SELECT lower(trim(value)), NEW.id FROM json_each(NEW.skills) WHERE trim(value) <> '';
END;

CREATE TABLE IF NOT EXISTS jobs (
  id                 TEXT PRIMARY KEY,
  company_id         TEXT,
  title              TEXT NOT NULL,
  description        TEXT,
  location           TEXT,
  required_skills    TEXT NOT NULL DEFAULT '[]',
  experience_level   TEXT,
  created_at         TEXT NOT NULL,
  analysis_completed INTEGER NOT NULL DEFAULT 0,
  candidates_count   INTEGER NOT NULL DEFAULT 0,
  analyzed_at        TEXT,
  extracted_skills   TEXT
);

CREATE TABLE IF NOT EXISTS posts (
  id                TEXT PRIMARY KEY,
  user_id           TEXT REFERENCES users(id) ON DELETE CASCADE,
  content           TEXT NOT NULL DEFAULT '',
  images            TEXT NOT NULL DEFAULT '[]',
  links             TEXT NOT NULL DEFAULT '[]',
  created_at        TEXT NOT NULL,
  is_flagged        INTEGER NOT NULL DEFAULT 0,
  flag_reason       TEXT,
  moderated_at      TEXT,
  moderation_status TEXT CHECK (moderation_status IN ('approved', 'flagged', 'blocked'))
);

CREATE TABLE IF NOT EXISTS job_matches (
  id             TEXT PRIMARY KEY,
  job_id         TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  candidate_id   TEXT NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
  match_score    INTEGER NOT NULL CHECK (match_score BETWEEN 0 AND 100),
  matched_skills TEXT NOT NULL DEFAULT '[]',
  created_at     TEXT NOT NULL,
  UNIQUE (job_id, candidate_id)
);
CREATE INDEX IF NOT EXISTS job_matches_candidate ON job_matches (candidate_id);
CREATE INDEX IF NOT EXISTS job_matches_score ON job_matches (job_id, match_score DESC);

CREATE TABLE IF NOT EXISTS activity_logs (
  id            TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  action        TEXT NOT NULL,
  target_type   TEXT,
  target_id     TEXT,
  points_earned INTEGER,
  processing_id TEXT,                            -- unique: see activity_logs_processing_id
  created_at    TEXT NOT NULL
);
-- Time-ordered, as queue_jobs_processing_id in 0001_queue.sql and for the same
-- reason; inserts name no conflict target (ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX IF NOT EXISTS activity_logs_processing_id ON activity_logs (substr(processing_id, -22, 13), processing_id);
CREATE INDEX IF NOT EXISTS activity_logs_user ON activity_logs (user_id, created_at);
CREATE INDEX IF NOT EXISTS activity_logs_created ON activity_logs (created_at);
CREATE INDEX IF NOT EXISTS posts_flagged ON posts (is_flagged) WHERE is_flagged = 1;
