-- Postgres, migration 2: capture. Each row change hookd works on is
-- written into hookd.outbox in the same transaction as the change, and
-- hookd pulls it from there (outbox.go): nothing is lost while hookd is
-- down, and nothing waits for pg_net. `hookd migrate` attaches the
-- triggers to the app's tables after the migrations (capture.go).

-- The events: the row as JSON, the row before for an UPDATE, and which
-- change it was. hookd turns each into the envelope a Database Webhook
-- would send ({"type", "table", "schema", "record", "old_record"}) when it
-- pulls it; building that envelope here, per row, doubled the trigger's
-- cost. Only hookd reads or writes this table: the app's roles insert
-- through hookd.capture(), which runs as its owner.
CREATE TABLE hookd.outbox (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  op          text        NOT NULL,  -- INSERT or UPDATE
  table_name  text        NOT NULL,  -- a table of schema public
  record      jsonb       NOT NULL,
  old_record  jsonb,
  captured_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON SCHEMA hookd FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA hookd FROM PUBLIC;

-- The capture trigger function, for statement-level AFTER triggers with
-- transition tables named hookd_new (and hookd_old for an UPDATE): one
-- INSERT … SELECT and one NOTIFY per statement, however many rows it
-- changed. An UPDATE trigger passes the columns hookd reads as its
-- arguments, and only the rows where one of them changed are captured,
-- so hookd's own writes (analysis_completed, is_flagged…) capture nothing.
--
-- SECURITY DEFINER with a pinned search_path: it runs as the role that
-- ran `hookd migrate`, so the app's roles (authenticated, anon) need no
-- grant on schema hookd, and nothing they put on their search_path can
-- stand in for the functions it calls. Whatever goes wrong inside is
-- turned into a warning: capture must never make the app's own write
-- fail. The block costs one subtransaction per statement, not per row.
CREATE FUNCTION hookd.capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $capture$
DECLARE
  captured bigint;
BEGIN
  BEGIN
    IF TG_OP = 'INSERT' THEN
      INSERT INTO hookd.outbox (op, table_name, record)
      SELECT 'INSERT', TG_TABLE_NAME, to_jsonb(r) FROM hookd_new AS r;
    ELSIF TG_OP = 'UPDATE' THEN
      INSERT INTO hookd.outbox (op, table_name, record, old_record)
      SELECT 'UPDATE', TG_TABLE_NAME, n.row, o.row
      FROM (SELECT to_jsonb(r) AS row FROM hookd_new AS r) AS n
      JOIN (SELECT to_jsonb(r) AS row FROM hookd_old AS r) AS o ON o.row -> 'id' = n.row -> 'id'
      WHERE EXISTS (SELECT 1 FROM unnest(TG_ARGV) AS c (name)
                    WHERE n.row -> c.name IS DISTINCT FROM o.row -> c.name);
    END IF;
    GET DIAGNOSTICS captured = ROW_COUNT;
    IF captured > 0 THEN
      PERFORM pg_notify('hookd_outbox', '');
    END IF;
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'hookd: % on %.% not captured: %', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME, SQLERRM;
  END;
  RETURN NULL;
END
$capture$;
REVOKE ALL ON FUNCTION hookd.capture() FROM PUBLIC;

-- An activity that reaches hookd twice, by a webhook and by capture, or
-- pulled by two hookd processes, names its row event (table:INSERT:id):
-- unique, so that its points are added once. Direct-form webhooks have
-- none (NULLs never conflict).
ALTER TABLE activity_logs ADD COLUMN event_key text;
CREATE UNIQUE INDEX activity_logs_event_key ON activity_logs (event_key);

-- `hookd backfill` finds activity rows without a log by user and time.
CREATE INDEX activity_logs_user_created ON activity_logs (user_id, created_at);

-- Candidate matching looks analysed job offers up by canonical skill.
CREATE INDEX idx_jobs_extracted_skills ON jobs USING gin (extracted_skills);
