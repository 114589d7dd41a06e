-- Postgres, migration 1: hookd's part of the Supabase schema. It adds
-- only what hookd owns; the app's own tables (users, candidates, jobs,
-- posts) must already exist.
--
-- Before hookd numbered its migrations, `hookd migrate` ran this script
-- every time, so every statement is idempotent: on a database migrated
-- then (no schema hookd) it changes nothing and is recorded as applied.
-- Like every migration it is never edited once released; a change to the
-- schema is a new file (see migrations.go).

ALTER TABLE jobs
  ADD COLUMN IF NOT EXISTS analysis_completed boolean NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS candidates_count   integer NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS analyzed_at        timestamptz,
  ADD COLUMN IF NOT EXISTS extracted_skills   text[];

ALTER TABLE posts
  ADD COLUMN IF NOT EXISTS is_flagged        boolean NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS flag_reason       text,
  ADD COLUMN IF NOT EXISTS moderated_at      timestamptz,
  ADD COLUMN IF NOT EXISTS moderation_status text;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint
                 WHERE conname = 'posts_moderation_status_check' AND conrelid = 'posts'::regclass) THEN
    ALTER TABLE posts ADD CONSTRAINT posts_moderation_status_check
      CHECK (moderation_status IN ('approved', 'flagged', 'blocked'));
  END IF;
END $$;

ALTER TABLE users
  ADD COLUMN IF NOT EXISTS engagement_score integer NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS last_activity_at timestamptz;

CREATE TABLE IF NOT EXISTS job_matches (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id         uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  candidate_id   uuid NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
  match_score    integer NOT NULL CHECK (match_score BETWEEN 0 AND 100),
  matched_skills text[],
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (job_id, candidate_id)
);

CREATE TABLE IF NOT EXISTS activity_logs (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  action        varchar(50) NOT NULL,
  target_type   varchar(50),
  target_id     varchar(255),
  points_earned integer,
  processing_id text UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Indexes for the app's lookups by job, candidate, flag, user and date,
-- plus the GIN index that makes the candidate lookup `skills && …` fast.
CREATE INDEX IF NOT EXISTS idx_job_matches_job_id       ON job_matches (job_id);
CREATE INDEX IF NOT EXISTS idx_job_matches_candidate_id ON job_matches (candidate_id);
CREATE INDEX IF NOT EXISTS idx_posts_is_flagged         ON posts (is_flagged);
CREATE INDEX IF NOT EXISTS idx_activity_logs_user_id    ON activity_logs (user_id);
CREATE INDEX IF NOT EXISTS idx_activity_logs_created_at ON activity_logs (created_at DESC);
CREATE INDEX IF NOT EXISTS idx_candidates_skills        ON candidates USING gin (skills);
