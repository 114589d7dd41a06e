package main

// Candidate matching: the other direction of job analysis. A candidate
// inserted, or whose skills, experience level or location change, is
// scored against the analysed job offers with the same rules and
// threshold, and the results replace the candidate's rows in job_matches:
// a job posted before its candidates still finds them.

import (
	"context"
	"fmt"
	"time"
)

// CandidateTask asks for a candidate to be matched against the job
// offers. The work reads the candidate from the store when it runs, so
// that a candidate changed twice is matched as it is now.
type CandidateTask struct {
	CandidateID string `json:"candidateId"`
	// Row is the candidates row an envelope carried; the embedded store
	// creates the candidate from it when absent (no app writes it first).
	Row *CandidateRow `json:"row,omitempty"`
}

// CandidateRow is what matching reads of a candidates row.
type CandidateRow struct {
	Skills   []string `json:"skills,omitempty"`
	Level    string   `json:"experienceLevel,omitempty"`
	Location string   `json:"location,omitempty"`
}

// DecodeCandidate validates a POST /api/candidates/match body: the direct
// form {"candidateId": …} or a candidates envelope.
func DecodeCandidate(body []byte) (Decoded[CandidateTask], error) {
	var b struct {
		CandidateID string `json:"candidateId"`
		envelopeKeys
	}
	if err := decodeObject(body, &b); err != nil {
		return Decoded[CandidateTask]{}, err
	}
	if b.isEnvelope() {
		return decodeCandidatesEnvelope(b.envelopeKeys)
	}
	t := CandidateTask{CandidateID: b.CandidateID}
	return Decoded[CandidateTask]{Task: t}, checkID("candidateId", t.CandidateID, true)
}

func acceptCandidate(body []byte, _ time.Time) (Accepted, error) {
	d, err := DecodeCandidate(body)
	if err != nil || d.Skip != "" {
		return Accepted{Skip: d.Skip}, err
	}
	t := d.Task
	return Accepted{Task: t, ID: t.CandidateID, RowKey: d.RowKey, Reply: acceptReply{CandidateID: t.CandidateID},
		Keys: []namedID{{"candidateId", t.CandidateID}}}, nil
}

// CandidateMatchResult is stored as the candidate-matching job's result.
type CandidateMatchResult struct {
	OffersFound    int `json:"offersFound"`
	MatchesCreated int `json:"matchesCreated"`
}

// MatchCandidate scores a candidate against every analysed job offer
// sharing one of its skills and stores the matches at or above
// MIN_MATCH_SCORE in place of the candidate's previous ones.
func (p *Processor) MatchCandidate(ctx context.Context, j Job) (any, error) {
	var t CandidateTask
	if err := decodePayload(j, &t); err != nil {
		return nil, err
	}
	log := p.Log.With("processingId", j.ProcessingID, "candidateId", t.CandidateID)
	log.Info("[Worker] Matching candidate " + t.CandidateID)
	c, err := p.Store.FindCandidate(ctx, t)
	if err != nil {
		return nil, err
	}
	readAt := p.Now()
	offers, held, err := p.Store.FindOffers(ctx, c.ID, CanonicalSkills(c.Skills))
	if err != nil {
		return nil, err
	}
	matches := p.scoreOffers(c, offers)
	err = p.Store.SaveCandidateMatches(ctx, CandidateMatches{CandidateID: c.ID, Matches: matches, At: p.Now(), ReadAt: readAt, Held: held})
	if err != nil {
		return nil, err
	}
	log.Info(fmt.Sprintf("Candidate matching completed: %d of %d job offers", len(matches), len(offers)))
	return CandidateMatchResult{len(offers), len(matches)}, nil
}

// scoreOffers keeps the offers the candidate scores at least MinMatchScore
// against, in no particular order.
func (p *Processor) scoreOffers(c Candidate, offers []Offer) []OfferMatch {
	m := NewOfferMatcher(ParseCandidate(c.ID, CandidateProfile{Skills: c.Skills, Level: c.Level, Location: c.Location}))
	var matches []OfferMatch
	for _, o := range offers {
		score, shared := m.Score(OfferProfile{Skills: o.Skills, Level: o.Level, Location: o.Location})
		if len(shared) > 0 && score >= p.MinMatchScore {
			matches = append(matches, OfferMatch{JobID: o.ID, Score: score, Skills: shared})
		}
	}
	return matches
}
