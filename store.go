package main

import (
	"context"
	"time"
)

// Store is where results go. Workers talk only to this interface; the
// embedded store (sqlitestore.go) and the Postgres store implement it. Every
// method is idempotent: running the same job twice leaves the same rows.
type Store interface {
	LeaderboardSource
	// Ping reports an unreachable or unusable store as an error.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close()
	// MatchCandidates scores with m every candidate sharing a skill with
	// m's job and returns how many share one and the matches scoring at
	// least minScore, in no particular order.
	MatchCandidates(ctx context.Context, m *Matcher, minScore int) (found int, matches []Match, err error)
	// SaveOfferAnalysis replaces the job's matches with a.Matches and marks
	// the job analysed, in one transaction.
	SaveOfferAnalysis(ctx context.Context, a OfferAnalysis) error
	// FindCandidate returns the candidate t names. The embedded store
	// first saves t.Row, when the task carries one (the latest row hookd
	// saw is the candidate); an unknown candidate is a permanent error.
	FindCandidate(ctx context.Context, t CandidateTask) (Candidate, error)
	// FindOffers returns the analysed job offers whose extracted skills
	// share one of the canonical skills and, read at the same moment, the
	// jobs holding a match of the candidate.
	FindOffers(ctx context.Context, candidateID string, skills []string) (offers []Offer, held []string, err error)
	// SaveCandidateMatches replaces the candidate's matches with
	// m.Matches, except on the jobs analysed after m.ReadAt, and keeps
	// each job's candidates_count true, in one transaction.
	SaveCandidateMatches(ctx context.Context, m CandidateMatches) error
	// SaveModeration writes a post's moderation outcome.
	SaveModeration(ctx context.Context, p PostTask, m ModerationRecord) error
	// RecordActivities logs each action under its processingId and adds
	// its points, the whole batch in one transaction when it can; a
	// processingId already logged changes nothing. It returns one outcome
	// per record, in order: a record that cannot be written fails alone.
	// The error fails the whole call (the store is down or timed out) and
	// nothing of the batch is written.
	RecordActivities(ctx context.Context, recs []ActivityRecord) ([]Recorded, error)
}

// Recorded is what became of one ActivityRecord.
type Recorded struct {
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

// Offer is an analysed job offer as candidate matching needs it: Skills
// is its canonical required set.
type Offer struct {
	ID       string
	Skills   []string
	Level    string
	Location string
}

// OfferMatch is one scored job offer for a candidate.
type OfferMatch struct {
	JobID  string
	Score  int
	Skills []string
}

// CandidateMatches is the outcome of matching one candidate.
type CandidateMatches struct {
	CandidateID string
	Matches     []OfferMatch // only those at or above MIN_MATCH_SCORE
	At          time.Time
	// ReadAt is when the offers were read. A job analysed since then was
	// scored against this candidate by its own analysis, from fresher
	// data: its row is left as that analysis wrote it.
	ReadAt time.Time
	// Held are the jobs holding a match of the candidate when the offers
	// were read: only their rows can be stale. A row written since, by an
	// analysis the read did not see, is left alone.
	Held []string
}

// Match is one scored candidate for a job.
type Match struct {
	CandidateID string   `json:"candidate"`
	Score       int      `json:"score"`
	Skills      []string `json:"skills"`
}

// OfferAnalysis is the outcome of analysing one job offer.
type OfferAnalysis struct {
	Job     OfferTask
	Skills  []string // the whole canonical required set
	Matches []Match  // only those at or above MIN_MATCH_SCORE
	At      time.Time
}

// ModerationRecord is what moderation writes on a post.
type ModerationRecord struct {
	Status string
	Reason string // reasons joined by "; ", empty when approved
	At     time.Time
}

// ActivityRecord is one scored action.
type ActivityRecord struct {
	ProcessingID string
	EventKey     string // the row event it came from, when one did (see ActivityTask)
	UserID       string
	Action       string
	TargetType   string
	TargetID     string
	Points       int
	At           time.Time
}
