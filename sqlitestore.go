package main

// The embedded results store, in hookd.db.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SQLiteStore is the embedded results store: the app's tables and hookd's
// columns (migrations/sqlite/0002_store.sql) in hookd.db, beside the
// queue. Rows for jobs, posts and users are created from the payload when
// absent, since no app writes them first.
type SQLiteStore struct {
	db *DB
}

// OpenSQLiteStore returns the store held in db.
func OpenSQLiteStore(db *DB) *SQLiteStore { return &SQLiteStore{db: db} }

// Ping always succeeds: the embedded store is the queue's own file, whose
// failures health reports as the queue's.
func (s *SQLiteStore) Ping(context.Context) error { return nil }

// Close does nothing: the file is the App's to close.
func (s *SQLiteStore) Close() {}

const findCandidatesSQL = `
SELECT c.id, c.skills, coalesce(c.experience_level, ''), coalesce(c.location, '')
FROM candidates c
WHERE c.id IN (
  SELECT cs.candidate_id FROM candidate_skills cs
  WHERE cs.skill IN (SELECT value FROM json_each(?)))`

// MatchCandidates looks candidates up through the candidate_skills index,
// by every lowercase spelling of the job's skills.
func (s *SQLiteStore) MatchCandidates(ctx context.Context, m *Matcher, minScore int) (int, []Match, error) {
	rows, err := s.db.sr.QueryContext(ctx, findCandidatesSQL, jsonText(SkillSpellings(m.skills)))
	if err != nil {
		return 0, nil, fmt.Errorf("find candidates: %w", err)
	}
	defer rows.Close()
	t := matchTally{min: minScore}
	var r CandidateReader
	for rows.Next() {
		var c Candidate
		var skills string
		if err := rows.Scan(&c.ID, &skills, &c.Level, &c.Location); err != nil {
			return 0, nil, fmt.Errorf("find candidates: %w", err)
		}
		if err := json.Unmarshal([]byte(skills), &c.Skills); err != nil {
			return 0, nil, fmt.Errorf("candidate %s: skills are not a JSON array of strings: %w", c.ID, err)
		}
		t.addParsed(m, r.Read(c.ID, CandidateProfile{Skills: c.Skills, Level: c.Level, Location: c.Location}))
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("find candidates: %w", err)
	}
	return t.found, t.matches, nil
}

const insertOfferSQLite = `
INSERT INTO jobs (id, company_id, title, description, location, required_skills, experience_level, created_at)
VALUES (?, nullif(?, ''), ?, nullif(?, ''), nullif(?, ''), ?, nullif(?, ''), ?)
ON CONFLICT (id) DO NOTHING`

// Matches arrive as one JSON array: one statement upserts them all, and
// leaves the rows that are already right as they are.
const upsertMatchesSQLite = `
INSERT INTO job_matches (id, job_id, candidate_id, match_score, matched_skills, created_at)
SELECT m.value ->> 'id', ?1, m.value ->> 'candidate', m.value ->> 'score', m.value -> 'skills', ?2
FROM json_each(?3) AS m WHERE true
ON CONFLICT (job_id, candidate_id) DO UPDATE
SET match_score = excluded.match_score, matched_skills = excluded.matched_skills
WHERE (match_score, matched_skills) IS NOT (excluded.match_score, excluded.matched_skills)`

const deleteStaleMatchesSQLite = `
DELETE FROM job_matches
WHERE job_id = ?1 AND candidate_id NOT IN (SELECT m.value ->> 'candidate' FROM json_each(?2) AS m)`

const markOfferAnalyzedSQLite = `
UPDATE jobs
SET analysis_completed = 1, candidates_count = ?, analyzed_at = ?, extracted_skills = ?
WHERE id = ?`

// SaveOfferAnalysis upserts the matches, deletes the stale ones and marks
// the job analysed, all in one transaction.
func (s *SQLiteStore) SaveOfferAnalysis(ctx context.Context, a OfferAnalysis) error {
	at := timeText(a.At)
	type row struct {
		ID string `json:"id"`
		Match
	}
	rows := make([]row, len(a.Matches))
	for i, m := range a.Matches {
		rows[i] = row{newUUID(), m}
	}
	matches := jsonText(rows)
	j := a.Job
	return s.write(ctx, "save job analysis "+j.JobID, func(tx *WriteTx) error {
		if _, err := tx.Exec(insertOfferSQLite, j.JobID, j.CompanyID, j.Title, j.Description,
			j.Location, jsonText(j.RequiredSkills), j.ExperienceLevel, at); err != nil {
			return err
		}
		if _, err := tx.Exec(upsertMatchesSQLite, j.JobID, at, matches); err != nil {
			return fmt.Errorf("upsert matches: %w", err)
		}
		if _, err := tx.Exec(deleteStaleMatchesSQLite, j.JobID, matches); err != nil {
			return fmt.Errorf("delete stale matches: %w", err)
		}
		_, err := tx.Exec(markOfferAnalyzedSQLite, len(a.Matches), at, jsonText(a.Skills), j.JobID)
		return err
	})
}

const ensureUserSQLite = `INSERT INTO users (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`

const insertPostSQLite = `
INSERT INTO posts (id, user_id, content, images, links, created_at)
VALUES (?, nullif(?, ''), ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`

const moderatePostSQLite = `
UPDATE posts
SET is_flagged = ?, flag_reason = nullif(?, ''), moderation_status = ?, moderated_at = ?
WHERE id = ?`

// SaveModeration creates the post (and its author) when absent and writes
// the outcome.
func (s *SQLiteStore) SaveModeration(ctx context.Context, p PostTask, m ModerationRecord) error {
	at := timeText(m.At)
	flagged := m.Status != StatusApproved
	return s.write(ctx, "save moderation "+p.PostID, func(tx *WriteTx) error {
		if p.UserID != "" {
			if _, err := tx.Exec(ensureUserSQLite, p.UserID, at); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(insertPostSQLite, p.PostID, p.UserID, p.Content,
			jsonText(p.Images), jsonText(p.Links), at); err != nil {
			return err
		}
		_, err := tx.Exec(moderatePostSQLite, flagged, m.Reason, m.Status, at, p.PostID)
		return err
	})
}

const insertActivitySQLite = `
INSERT INTO activity_logs (id, user_id, action, target_type, target_id, points_earned, processing_id, created_at)
VALUES (?, ?, ?, nullif(?, ''), nullif(?, ''), ?, ?, ?)
ON CONFLICT DO NOTHING`

// Timestamps are fixed-width UTC text, so max() picks the later one.
const addPointsSQLite = `
UPDATE users
SET engagement_score = engagement_score + ?,
    last_activity_at = max(coalesce(last_activity_at, ''), ?)
WHERE id = ?`

// RecordActivities writes the batch in one durable transaction of
// hookd.db's writer (see recordActivities and write).
func (s *SQLiteStore) RecordActivities(ctx context.Context, recs []ActivityRecord) ([]Recorded, error) {
	out, err := WriteResult(ctx, s.db, func(tx *WriteTx) ([]Recorded, error) {
		return recordActivities(tx, recs), nil
	})
	if err != nil {
		return nil, fmt.Errorf("record %d activities: %w", len(recs), err)
	}
	return out, nil
}

// recordActivities writes recs in tx and returns their outcomes. The
// whole batch is tried inside one savepoint; if a record fails, that
// savepoint is rolled back and each record is written inside a savepoint
// of its own, so that it fails alone. (A savepoint per record on the
// first try cost 8% more CPU per activity job in BenchmarkActivityDrain:
// SQLite copies each page a savepoint first touches.)
func recordActivities(tx *WriteTx, recs []ActivityRecord) []Recorded {
	out, err := inSavepoint(tx, func() ([]Recorded, error) { return logActivities(tx, recs) })
	if err == nil {
		return out
	}
	out = make([]Recorded, len(recs))
	for i, a := range recs {
		one, err := inSavepoint(tx, func() ([]Recorded, error) { return logActivities(tx, recs[i:i+1]) })
		if err != nil {
			out[i].Err = fmt.Errorf("record activity %s: %w", a.ProcessingID, err)
			continue
		}
		out[i] = one[0]
	}
	return out
}

// logActivities creates the records' users when absent, then logs each
// record unless its processingId is logged already, and adds its points
// only when its log row is new, so a re-run can never add them twice.
func logActivities(tx *WriteTx, recs []ActivityRecord) ([]Recorded, error) {
	seen := make(map[string]bool, len(recs))
	for _, a := range recs {
		if !seen[a.UserID] {
			seen[a.UserID] = true
			if _, err := tx.Exec(ensureUserSQLite, a.UserID, timeText(a.At)); err != nil {
				return nil, err
			}
		}
	}
	out := make([]Recorded, len(recs))
	for i, a := range recs {
		at := timeText(a.At)
		res, err := tx.Exec(insertActivitySQLite, newUUID(), a.UserID, a.Action, a.TargetType,
			a.TargetID, a.Points, a.ProcessingID, at)
		if err != nil {
			return nil, err
		}
		if out[i].Applied = rowsAffected(res) == 1; out[i].Applied {
			if _, err := tx.Exec(addPointsSQLite, a.Points, at, a.UserID); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// inSavepoint runs fn inside a savepoint, rolled back if fn fails.
func inSavepoint[T any](tx *WriteTx, fn func() (T, error)) (result T, err error) {
	if _, err := tx.Exec(`SAVEPOINT activity`); err != nil {
		return result, err
	}
	defer func() {
		if err != nil {
			_, _ = tx.Exec(`ROLLBACK TO activity`)
		}
		if _, rerr := tx.Exec(`RELEASE activity`); rerr != nil && err == nil {
			err = rerr
		}
	}()
	return fn()
}

// write runs fn through hookd.db's group-commit writer, without waiting
// for the disk (DB.WriteUnsynced): a result lost in a power cut is lost
// with its job's ack, which comes after it in the WAL, so the job runs
// again. Activities are the exception (RecordActivities): the
// leaderboard hears of them once they are written, and must not hear of
// the same activity twice.
func (s *SQLiteStore) write(ctx context.Context, what string, fn func(tx *WriteTx) error) error {
	if err := s.db.WriteUnsynced(ctx, fn); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// timeText is the embedded store's timestamp format: RFC 3339, UTC,
// milliseconds, fixed width.
func timeText(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// jsonText encodes a value as JSON text for a SQLite column; nil slices
// become [] rather than null.
func jsonText[T any](v []T) string {
	if v == nil {
		return "[]"
	}
	b, _ := json.Marshal(v) // strings and plain structs always marshal
	return string(b)
}

// newUUID returns a version 7 UUID: it starts with the Unix time in
// milliseconds, so rows inserted together land on the same pages of their
// primary-key index instead of dirtying one random page each per commit.
func newUUID() string {
	var b [16]byte
	rand.Read(b[6:])
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// The embedded store's leaderboard snapshot. A read transaction in WAL
// mode is a consistent snapshot, but while one is open the writer cannot
// restart the WAL (restartWAL), and a rebuild reads for seconds while the
// queue keeps writing. So one short transaction reads the scores and the
// snapshot's high-water mark, the largest rowid of activity_logs; the rest
// is read in short transactions of their own, limited to the rows at or
// below that mark. Those are the same rows in any later transaction:
// hookd only ever appends to activity_logs, through one writer, and
// SQLite gives each new row a rowid one larger than the largest in the
// table, so a row committed after the scores were read has a larger one.
type sqliteSnapshot struct {
	db   *DB
	tx   *sql.Tx // the scores' transaction, until UserScores ends it
	last int64   // the largest rowid of activity_logs in the snapshot
}

const lastActivityRowSQLite = `SELECT coalesce(max(rowid), 0) FROM activity_logs`

// LeaderboardSnapshot pins the store: see sqliteSnapshot.
func (s *SQLiteStore) LeaderboardSnapshot(ctx context.Context) (LeaderboardSnapshot, error) {
	tx, err := s.db.sr.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin the leaderboard snapshot: %w", err)
	}
	snap := &sqliteSnapshot{db: s.db, tx: tx}
	if err := tx.QueryRowContext(ctx, lastActivityRowSQLite).Scan(&snap.last); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("begin the leaderboard snapshot: %w", err)
	}
	return snap, nil
}

const userScoresSQLite = `SELECT id, engagement_score FROM users WHERE engagement_score > 0`

// UserScores streams every positive engagement score, then ends the
// snapshot's read transaction.
func (s *sqliteSnapshot) UserScores(ctx context.Context, fn func(UserScore) error) error {
	if s.tx == nil {
		return errors.New("read user scores: the snapshot's read transaction has ended")
	}
	defer s.endRead()
	rows, err := s.tx.QueryContext(ctx, userScoresSQLite)
	if err != nil {
		return fmt.Errorf("read user scores: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u UserScore
		if err := rows.Scan(&u.UserID, &u.Score); err != nil {
			return fmt.Errorf("read user scores: %w", err)
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read user scores: %w", err)
	}
	return nil
}

// The first row of activity_logs at or after a time, in rowid order. The
// rows at or after it are found in activity_logs_created, which holds
// their rowids; left to itself, SQLite would read the table from its
// first row, through all the history before.
const firstActivityRowSQLite = `
SELECT coalesce(min(rowid), 0) FROM activity_logs INDEXED BY activity_logs_created WHERE created_at >= ?`

// The points of a range of rowids by type, hour (2006-01-02T15, the first
// 13 characters of the fixed-width UTC timestamp) and target, in that
// order. The range is read in rowid order, page after page ("+" keeps
// SQLite from going through the created_at index instead, which would
// read the table one row at a time wherever the events' times do not
// follow their insertion).
const trendingRowsSQLite = `
SELECT lower(target_type), substr(created_at, 1, 13), target_id, coalesce(sum(points_earned), 0)
FROM activity_logs
WHERE rowid BETWEEN ?1 AND ?2 AND +created_at >= ?3
  AND lower(target_type) IN (SELECT value FROM json_each(?4)) AND target_id IS NOT NULL
GROUP BY 1, 2, 3`

// trendingChunkRows is how many rowids one read of TrendingSince covers.
// Its sums are collected before they are handed on, so that the read
// ends at once.
const trendingChunkRows = 8192

// TrendingSince streams recent activity points by target and hour: the
// rows from the first one at or after since to the snapshot's last, a
// chunk of rowids at a time, each chunk in a short read of its own and
// summed there. A target and hour spread over several chunks comes as
// partial sums. The rows before the first are never read: however long
// the history, what is read is the rows logged since the oldest live one,
// about the last 48 hours, since activity is logged roughly in time order.
func (s *sqliteSnapshot) TrendingSince(ctx context.Context, since time.Time, fn func(HourlyPoints) error) error {
	var first int64
	if err := s.db.sr.QueryRowContext(ctx, firstActivityRowSQLite, timeText(since)).Scan(&first); err != nil {
		return fmt.Errorf("read trending activity: %w", err)
	}
	for lo := first; first > 0 && lo <= s.last; lo += trendingChunkRows {
		chunk, err := s.trendingRows(ctx, lo, min(lo+trendingChunkRows-1, s.last), since)
		if err != nil {
			return err
		}
		for _, h := range chunk {
			if err := fn(h); err != nil {
				return err
			}
		}
	}
	return nil
}

// trendingRows sums the rows lo..hi (rowids) at or after since.
func (s *sqliteSnapshot) trendingRows(ctx context.Context, lo, hi int64, since time.Time) ([]HourlyPoints, error) {
	rows, err := s.db.sr.QueryContext(ctx, trendingRowsSQLite, lo, hi, timeText(since), jsonText(TrendingTypes))
	if err != nil {
		return nil, fmt.Errorf("read trending activity: %w", err)
	}
	var hourText string
	var hour time.Time
	return collectRows(rows, func(scan func(...any) error) (HourlyPoints, error) {
		var h HourlyPoints
		var text string
		if err := scan(&h.TargetType, &text, &h.TargetID, &h.Points); err != nil {
			return h, fmt.Errorf("read trending activity: %w", err)
		}
		if text != hourText {
			t, err := time.Parse("2006-01-02T15", text)
			if err != nil {
				return h, fmt.Errorf("read trending activity: hour %q: %w", text, err)
			}
			hourText, hour = text, t
		}
		h.Hour = hour
		return h, nil
	})
}

// The lookup goes through activity_logs_processing_id, whose first column
// is an expression of the processingId.
const loggedSQLite = `
SELECT a.processing_id FROM json_each(?1) AS j
JOIN activity_logs a ON substr(a.processing_id, -22, 13) = substr(j.value, -22, 13) AND a.processing_id = j.value
WHERE a.rowid <= ?2`

// Logged returns which of ids the snapshot's activity_logs hold.
func (s *sqliteSnapshot) Logged(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := s.db.sr.QueryContext(ctx, loggedSQLite, jsonText(ids), s.last)
	if err != nil {
		return nil, fmt.Errorf("look up logged activities: %w", err)
	}
	found, err := collectRows(rows, func(scan func(...any) error) (id string, err error) {
		err = scan(&id)
		return id, err
	})
	if err != nil {
		return nil, fmt.Errorf("look up logged activities: %w", err)
	}
	logged := make(map[string]bool, len(found))
	for _, id := range found {
		logged[id] = true
	}
	return logged, nil
}

// Close ends the read transaction if UserScores has not.
func (s *sqliteSnapshot) Close() { s.endRead() }

func (s *sqliteSnapshot) endRead() {
	if s.tx != nil {
		s.tx.Rollback() // read only: nothing to keep
		s.tx = nil
	}
}

// The candidate as the envelope sent it: an embedded store has no app
// writing candidates, so the latest row hookd saw is the candidate.
const upsertCandidateSQLite = `
INSERT INTO candidates (id, skills, experience_level, location, created_at)
VALUES (?1, ?2, nullif(?3, ''), nullif(?4, ''), ?5)
ON CONFLICT (id) DO UPDATE
SET skills = excluded.skills, experience_level = excluded.experience_level, location = excluded.location`

const candidateSQLite = `
SELECT id, skills, coalesce(experience_level, ''), coalesce(location, '') FROM candidates WHERE id = ?`

// FindCandidate saves the row t carries, if any, and reads the candidate.
func (s *SQLiteStore) FindCandidate(ctx context.Context, t CandidateTask) (Candidate, error) {
	if r := t.Row; r != nil {
		err := s.write(ctx, "save candidate "+t.CandidateID, func(tx *WriteTx) error {
			_, err := tx.Exec(upsertCandidateSQLite, t.CandidateID, jsonText(r.Skills), r.Level, r.Location, timeText(time.Now()))
			return err
		})
		if err != nil {
			return Candidate{}, err
		}
	}
	var c Candidate
	var skills string
	err := s.db.sr.QueryRowContext(ctx, candidateSQLite, t.CandidateID).Scan(&c.ID, &skills, &c.Level, &c.Location)
	if errors.Is(err, sql.ErrNoRows) {
		return c, Permanent(fmt.Errorf("candidate %s not found in candidates", t.CandidateID))
	}
	if err == nil {
		err = json.Unmarshal([]byte(skills), &c.Skills)
	}
	if err != nil {
		return c, fmt.Errorf("read candidate %s: %w", t.CandidateID, err)
	}
	return c, nil
}

// One statement, so that the offers and the held jobs are read at one
// moment; a held job comes with a NULL skills column.
const findOffersSQLite = `
SELECT j.id, j.extracted_skills, coalesce(j.experience_level, ''), coalesce(j.location, '')
FROM jobs j
WHERE j.analysis_completed = 1 AND j.id IN (
  SELECT os.job_id FROM offer_skills os WHERE os.skill IN (SELECT value FROM json_each(?2)))
UNION ALL
SELECT job_id, NULL, '', '' FROM job_matches WHERE candidate_id = ?1`

// FindOffers looks analysed job offers up through the offer_skills index.
func (s *SQLiteStore) FindOffers(ctx context.Context, candidateID string, skills []string) ([]Offer, []string, error) {
	rows, err := s.db.sr.QueryContext(ctx, findOffersSQLite, candidateID, jsonText(skills))
	if err != nil {
		return nil, nil, fmt.Errorf("find job offers: %w", err)
	}
	defer rows.Close()
	var offers []Offer
	var held []string
	for rows.Next() {
		var o Offer
		var skills sql.NullString
		if err := rows.Scan(&o.ID, &skills, &o.Level, &o.Location); err != nil {
			return nil, nil, fmt.Errorf("find job offers: %w", err)
		}
		if !skills.Valid {
			held = append(held, o.ID)
			continue
		}
		if err := json.Unmarshal([]byte(skills.String), &o.Skills); err != nil {
			return nil, nil, fmt.Errorf("job %s: extracted skills: %w", o.ID, err)
		}
		offers = append(offers, o)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("find job offers: %w", err)
	}
	return offers, held, nil
}

// A candidate's matches arrive as one JSON array, as a job's do. Rows
// already right are left alone, and the jobs of the rows written come
// back.
const upsertCandidateMatchesSQLite = `
INSERT INTO job_matches (id, job_id, candidate_id, match_score, matched_skills, created_at)
SELECT m.value ->> 'id', m.value ->> 'job', ?1, m.value ->> 'score', m.value -> 'skills', ?2
FROM json_each(?3) AS m JOIN jobs j ON j.id = m.value ->> 'job'
WHERE j.analyzed_at <= ?4
ON CONFLICT (job_id, candidate_id) DO UPDATE
SET match_score = excluded.match_score, matched_skills = excluded.matched_skills
WHERE (match_score, matched_skills) IS NOT (excluded.match_score, excluded.matched_skills)
RETURNING job_id`

const deleteStaleCandidateMatchesSQLite = `
DELETE FROM job_matches
WHERE candidate_id = ?1 AND job_id NOT IN (SELECT m.value ->> 'job' FROM json_each(?2) AS m)
  AND job_id NOT IN (SELECT id FROM jobs WHERE analyzed_at > ?3)
  AND job_id IN (SELECT value FROM json_each(?4))
RETURNING job_id`

// candidates_count is the number of a job's match rows, counted again for
// the jobs whose rows this candidate changed. Counting every job it
// matches instead held the writer, and every webhook behind it, for 0.5 s
// and more when jobs had tens of thousands of matches.
const recountOffersSQLite = `
UPDATE jobs SET candidates_count = (SELECT count(*) FROM job_matches m WHERE m.job_id = jobs.id)
WHERE id IN (SELECT value FROM json_each(?))`

// SaveCandidateMatches upserts the candidate's matches, deletes its stale
// ones and recounts the jobs concerned, in one transaction.
func (s *SQLiteStore) SaveCandidateMatches(ctx context.Context, m CandidateMatches) error {
	type row struct {
		ID     string   `json:"id"`
		Job    string   `json:"job"`
		Score  int      `json:"score"`
		Skills []string `json:"skills"`
	}
	rows := make([]row, len(m.Matches))
	for i, o := range m.Matches {
		rows[i] = row{newUUID(), o.JobID, o.Score, nonNil(o.Skills)}
	}
	matches := jsonText(rows)
	return s.write(ctx, "save candidate matches "+m.CandidateID, func(tx *WriteTx) error {
		readAt := timeText(m.ReadAt)
		written, err := queryJobIDs(tx, upsertCandidateMatchesSQLite, m.CandidateID, timeText(m.At), matches, readAt)
		if err != nil {
			return fmt.Errorf("upsert matches: %w", err)
		}
		gone, err := queryJobIDs(tx, deleteStaleCandidateMatchesSQLite, m.CandidateID, matches, readAt, jsonText(m.Held))
		if err != nil {
			return fmt.Errorf("delete stale matches: %w", err)
		}
		if changed := append(written, gone...); len(changed) > 0 {
			_, err = tx.Exec(recountOffersSQLite, jsonText(changed))
		}
		return err
	})
}

// queryJobIDs runs a statement returning job ids and collects them.
func queryJobIDs(tx *WriteTx, query string, args ...any) ([]string, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return nil, err
	}
	return collectRows(rows, func(scan func(...any) error) (job string, err error) {
		err = scan(&job)
		return job, err
	})
}
