-- Candidate matching: a candidate is scored against the analysed job
-- offers that share one of its skills. One row per (canonical skill,
-- analysed job), kept by a trigger from jobs.extracted_skills, so that
-- the offers are looked up through this index instead of reading every
-- job (candidate_skills does the same for job analysis).
CREATE TABLE offer_skills (
  skill  TEXT NOT NULL,
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  PRIMARY KEY (skill, job_id)
) WITHOUT ROWID;
CREATE INDEX offer_skills_job ON offer_skills (job_id);

CREATE TRIGGER jobs_offer_skills AFTER UPDATE OF extracted_skills ON jobs BEGIN
  DELETE FROM offer_skills WHERE job_id = OLD.id;
  INSERT OR IGNORE INTO offer_skills (skill, job_id)
  SELECT value, NEW.id FROM json_each(coalesce(NEW.extracted_skills, '[]'));
END;

-- The jobs analysed before this migration.
INSERT OR IGNORE INTO offer_skills (skill, job_id)
SELECT s.value, j.id FROM jobs j, json_each(coalesce(j.extracted_skills, '[]')) AS s
WHERE j.analysis_completed = 1;
