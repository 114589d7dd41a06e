-- Postgres, migration 3: matching at scale.
--
-- 1. Candidate profiles. Job analysis scores tens of thousands of
-- candidates per job. Read raw, each candidate's skills must be compared
-- with every spelling of every skill of the job, which cost most of the
-- analysis; hookd instead keeps each candidate as the matching rules read
-- it (profiles.go): a few dozen bytes, read in one pass. Only hookd can
-- compute a profile (the dictionary and the rules are in hookd), so
-- triggers note every candidate written in hookd.candidate_changes, and
-- hookd reads the noted candidates again before it scores
-- (profilestore.go). Deleting a candidate deletes its profile.
CREATE TABLE hookd.candidate_profiles (
  candidate_id uuid   PRIMARY KEY REFERENCES candidates (id) ON DELETE CASCADE ON UPDATE CASCADE,
  version      bigint NOT NULL, -- the last change it reads (hookd.candidate_changes.id)
  rules        bigint NOT NULL, -- the fingerprint of the rules that read it
  skill_mask   bigint NOT NULL, -- bit (id % 64) of each of its skills: a filter, never the answer
  profile      bytea  NOT NULL
);

-- A number for each skill as the rules compare skills (its key), so that
-- a profile holds a byte or two per skill rather than its text. Numbers
-- are never reused: a profile's numbers mean the same forever.
CREATE TABLE hookd.skill_keys (
  id  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key text    NOT NULL UNIQUE
);

-- Candidates written since their profile was read. Rows are only ever
-- added by the app's writes, so the triggers never wait on hookd.
CREATE TABLE hookd.candidate_changes (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  candidate_id uuid   NOT NULL
);

-- SECURITY DEFINER with a pinned search_path, as hookd.capture(): the
-- app's roles need no grant on schema hookd.
CREATE FUNCTION hookd.note_inserted_candidates() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO hookd.candidate_changes (candidate_id) SELECT id FROM hookd_new;
  RETURN NULL;
END
$$;

CREATE FUNCTION hookd.note_updated_candidate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO hookd.candidate_changes (candidate_id) VALUES (NEW.id);
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION hookd.note_inserted_candidates(), hookd.note_updated_candidate() FROM PUBLIC;

-- Inserts: one statement per statement, however many rows. Updates: row
-- by row, but only the rows whose read columns changed; Postgres tests the
-- condition without calling the function.
CREATE TRIGGER hookd_profile_insert AFTER INSERT ON candidates REFERENCING NEW TABLE AS hookd_new
  FOR EACH STATEMENT EXECUTE FUNCTION hookd.note_inserted_candidates();
CREATE TRIGGER hookd_profile_update AFTER UPDATE OF skills, experience_level, location ON candidates
  FOR EACH ROW
  WHEN (OLD.skills IS DISTINCT FROM NEW.skills
        OR OLD.experience_level IS DISTINCT FROM NEW.experience_level
        OR OLD.location IS DISTINCT FROM NEW.location)
  EXECUTE FUNCTION hookd.note_updated_candidate();

-- Every candidate there is, read at the first analysis.
INSERT INTO hookd.candidate_changes (candidate_id) SELECT id FROM candidates ORDER BY id;

-- 2. Capture of UPDATEs, rewritten. hookd.capture() of migration 2 paired
-- the old and new rows by a join that PL/pgSQL planned once per session,
-- with the row counts of the first statement it saw: after a one-row
-- UPDATE, a 2,000-row UPDATE of jobs (candidate matching moving
-- candidates_count) took 53 s, the join comparing every row with every
-- other. It also turned every row into JSON before comparing the columns,
-- 60 µs a row of jobs, for hookd's own writes too. The join is now planned
-- at each statement, by id, and only the rows where a listed column
-- changed become JSON. Listed columns the table lacks are skipped, and a
-- table without an id column captures no UPDATE, as before.
CREATE OR REPLACE FUNCTION hookd.capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $capture$
DECLARE
  captured bigint := 0;
  changed  text;
BEGIN
  BEGIN
    IF TG_OP = 'INSERT' THEN
      INSERT INTO hookd.outbox (op, table_name, record)
      SELECT 'INSERT', TG_TABLE_NAME, to_jsonb(r) FROM hookd_new AS r;
      GET DIAGNOSTICS captured = ROW_COUNT;
    ELSIF TG_OP = 'UPDATE' THEN
      SELECT string_agg(format('to_jsonb(n.%1$I) IS DISTINCT FROM to_jsonb(o.%1$I)', a.attname), ' OR ')
      INTO changed
      FROM pg_attribute AS a
      WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY (TG_ARGV);
      IF changed IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute
                                         WHERE attrelid = TG_RELID AND attname = 'id' AND NOT attisdropped) THEN
        EXECUTE format($sql$
          INSERT INTO hookd.outbox (op, table_name, record, old_record)
          SELECT 'UPDATE', %L, to_jsonb(n), to_jsonb(o)
          FROM hookd_new AS n JOIN hookd_old AS o ON o.id = n.id
          WHERE %s$sql$, TG_TABLE_NAME, changed);
        GET DIAGNOSTICS captured = ROW_COUNT;
      END IF;
    END IF;
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
