package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"
)

// Store is where results go. Workers talk only to this interface; the
// embedded SQLite store below and the Postgres store implement it. Every
// method is idempotent: running the same job twice leaves the same rows.
type Store interface {
	LeaderboardSource
	// FindCandidates returns every candidate having at least one skill
	// whose lowercase spelling is in spellings (see SkillSpellings).
	FindCandidates(ctx context.Context, spellings []string) ([]Candidate, error)
	// SaveJobAnalysis replaces the job's matches with a.Matches and marks
	// the job analysed, in one transaction.
	SaveJobAnalysis(ctx context.Context, a JobAnalysis) error
	// SaveModeration writes a post's moderation outcome.
	SaveModeration(ctx context.Context, p PostTask, m ModerationOutcome) error
	// RecordActivities logs each action under its processingId and adds
	// its points, the whole batch in one transaction when it can; a
	// processingId already logged changes nothing. It returns one outcome
	// per record, in order: a record that cannot be written fails alone.
	// The error fails the whole call (the store is down or timed out) and
	// nothing of the batch is written.
	RecordActivities(ctx context.Context, recs []ActivityRecord) ([]ActivityOutcome, error)
}

// ActivityOutcome is what became of one ActivityRecord.
type ActivityOutcome struct {
	Applied bool  // false when the processingId had been logged before
	Err     error // this record alone failed
}

// Candidate is a candidate as the matcher needs it.
type Candidate struct {
	ID       string
	Skills   []string
	Level    string
	Location string
}

// Match is one scored candidate for a job.
type Match struct {
	CandidateID string   `json:"candidate"`
	Score       int      `json:"score"`
	Skills      []string `json:"skills"`
}

// JobAnalysis is the outcome of analysing one job offer.
type JobAnalysis struct {
	Job     JobTask
	Skills  []string // the whole canonical required set
	Matches []Match  // only those at or above MIN_MATCH_SCORE
	At      time.Time
}

// ModerationOutcome is what moderation writes on a post.
type ModerationOutcome struct {
	Status string
	Reason string // reasons joined by "; ", empty when approved
	At     time.Time
}

// ActivityRecord is one scored action.
type ActivityRecord struct {
	ProcessingID string
	UserID       string
	Action       string
	TargetType   string
	TargetID     string
	Points       int
	At           time.Time
}

// SQLiteStore is the embedded results store: the app's tables and hookd's
// columns (migrations/sqlite/0002_store.sql) in hookd.db, beside the
// queue. Rows for jobs, posts and users are created from the payload when
// absent, since no app writes them first.
type SQLiteStore struct {
	db *DB
}

// OpenSQLiteStore returns the store held in db.
func OpenSQLiteStore(db *DB) *SQLiteStore { return &SQLiteStore{db: db} }

const findCandidatesSQL = `
SELECT c.id, c.skills, coalesce(c.experience_level, ''), coalesce(c.location, '')
FROM candidates c
WHERE c.id IN (
  SELECT cs.candidate_id FROM candidate_skills cs
  WHERE cs.skill IN (SELECT value FROM json_each(?)))`

// FindCandidates looks candidates up through the candidate_skills index.
func (s *SQLiteStore) FindCandidates(ctx context.Context, spellings []string) ([]Candidate, error) {
	rows, err := s.db.r.QueryContext(ctx, findCandidatesSQL, jsonText(spellings))
	if err != nil {
		return nil, fmt.Errorf("find candidates: %w", err)
	}
	defer rows.Close()
	var out []Candidate
	for rows.Next() {
		var c Candidate
		var skills string
		if err := rows.Scan(&c.ID, &skills, &c.Level, &c.Location); err != nil {
			return nil, fmt.Errorf("find candidates: %w", err)
		}
		if err := json.Unmarshal([]byte(skills), &c.Skills); err != nil {
			return nil, fmt.Errorf("candidate %s: skills are not a JSON array of strings: %w", c.ID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find candidates: %w", err)
	}
	return out, nil
}

const insertJobSQLite = `
INSERT INTO jobs (id, company_id, title, description, location, required_skills, experience_level, created_at)
VALUES (?, nullif(?, ''), ?, nullif(?, ''), nullif(?, ''), ?, nullif(?, ''), ?)
ON CONFLICT (id) DO NOTHING`

// Matches arrive as one JSON array: one statement upserts them all.
const upsertMatchesSQLite = `
INSERT INTO job_matches (id, job_id, candidate_id, match_score, matched_skills, created_at)
SELECT m.value ->> 'id', ?1, m.value ->> 'candidate', m.value ->> 'score', m.value -> 'skills', ?2
FROM json_each(?3) AS m WHERE true
ON CONFLICT (job_id, candidate_id) DO UPDATE
SET match_score = excluded.match_score, matched_skills = excluded.matched_skills`

const deleteStaleMatchesSQLite = `
DELETE FROM job_matches
WHERE job_id = ?1 AND candidate_id NOT IN (SELECT m.value ->> 'candidate' FROM json_each(?2) AS m)`

const markJobAnalyzedSQLite = `
UPDATE jobs
SET analysis_completed = 1, candidates_count = ?, analyzed_at = ?, extracted_skills = ?
WHERE id = ?`

// SaveJobAnalysis upserts the matches, deletes the stale ones and marks
// the job analysed, all in one transaction.
func (s *SQLiteStore) SaveJobAnalysis(ctx context.Context, a JobAnalysis) error {
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
		if _, err := tx.Exec(insertJobSQLite, j.JobID, j.CompanyID, j.Title, j.Description,
			j.Location, jsonText(j.RequiredSkills), j.ExperienceLevel, at); err != nil {
			return err
		}
		if _, err := tx.Exec(upsertMatchesSQLite, j.JobID, at, matches); err != nil {
			return fmt.Errorf("upsert matches: %w", err)
		}
		if _, err := tx.Exec(deleteStaleMatchesSQLite, j.JobID, matches); err != nil {
			return fmt.Errorf("delete stale matches: %w", err)
		}
		_, err := tx.Exec(markJobAnalyzedSQLite, len(a.Matches), at, jsonText(a.Skills), j.JobID)
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
func (s *SQLiteStore) SaveModeration(ctx context.Context, p PostTask, m ModerationOutcome) error {
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

// RecordActivities writes the batch in one transaction of hookd.db's
// writer (see recordActivities).
func (s *SQLiteStore) RecordActivities(ctx context.Context, recs []ActivityRecord) ([]ActivityOutcome, error) {
	out, err := WriteResult(ctx, s.db, func(tx *WriteTx) ([]ActivityOutcome, error) {
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
func recordActivities(tx *WriteTx, recs []ActivityRecord) []ActivityOutcome {
	out, err := inSavepoint(tx, func() ([]ActivityOutcome, error) { return logActivities(tx, recs) })
	if err == nil {
		return out
	}
	out = make([]ActivityOutcome, len(recs))
	for i, a := range recs {
		one, err := inSavepoint(tx, func() ([]ActivityOutcome, error) { return logActivities(tx, recs[i:i+1]) })
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
func logActivities(tx *WriteTx, recs []ActivityRecord) ([]ActivityOutcome, error) {
	seen := make(map[string]bool, len(recs))
	for _, a := range recs {
		if !seen[a.UserID] {
			seen[a.UserID] = true
			if _, err := tx.Exec(ensureUserSQLite, a.UserID, timeText(a.At)); err != nil {
				return nil, err
			}
		}
	}
	out := make([]ActivityOutcome, len(recs))
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

// write runs fn through hookd.db's group-commit writer: the results of
// concurrent workers share transactions and fsyncs with each other and
// with the queue's writes.
func (s *SQLiteStore) write(ctx context.Context, what string, fn func(tx *WriteTx) error) error {
	if err := s.db.Write(ctx, fn); err != nil {
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

const userScoresSQLite = `SELECT id, engagement_score FROM users WHERE engagement_score > 0`

// UserScores reads every positive engagement score, for a leaderboard rebuild.
func (s *SQLiteStore) UserScores(ctx context.Context) ([]UserScore, error) {
	rows, err := s.db.r.QueryContext(ctx, userScoresSQLite)
	if err != nil {
		return nil, fmt.Errorf("read user scores: %w", err)
	}
	return collectRows(rows, func(sc func(...any) error) (UserScore, error) {
		var u UserScore
		err := sc(&u.UserID, &u.Score)
		return u, err
	})
}

// The hour is the first 13 characters of the fixed-width UTC timestamp,
// 2006-01-02T15; activity_logs_created serves the range.
const trendingSinceSQLite = `
SELECT lower(target_type), target_id, substr(created_at, 1, 13), coalesce(sum(points_earned), 0)
FROM activity_logs
WHERE created_at >= ? AND lower(target_type) IN (SELECT value FROM json_each(?)) AND target_id IS NOT NULL
GROUP BY 1, 2, 3`

// TrendingSince sums recent activity points by target and hour, for a
// leaderboard rebuild.
func (s *SQLiteStore) TrendingSince(ctx context.Context, since time.Time) ([]HourlyPoints, error) {
	rows, err := s.db.r.QueryContext(ctx, trendingSinceSQLite, timeText(since), jsonText(TrendingTypes))
	if err != nil {
		return nil, fmt.Errorf("read trending activity: %w", err)
	}
	return collectRows(rows, scanHourlyPoints)
}

// scanHourlyPoints reads a row of target type, target id, hour as
// 2006-01-02T15 (UTC) and points: both stores' trending queries return that.
func scanHourlyPoints(scan func(...any) error) (HourlyPoints, error) {
	var h HourlyPoints
	var hour string
	if err := scan(&h.TargetType, &h.TargetID, &hour, &h.Points); err != nil {
		return h, err
	}
	t, err := time.Parse("2006-01-02T15", hour)
	if err != nil {
		return h, fmt.Errorf("activity hour %q: %w", hour, err)
	}
	h.Hour = t
	return h, nil
}
