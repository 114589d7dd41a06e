package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Processor does each queue's work: the rules of scoring.go and
// moderation.go applied to a job's payload, the outcome written through the
// Store.
type Processor struct {
	Store         Store
	Log           *slog.Logger
	MinMatchScore int
	Timezone      *time.Location
	OffPeak       OffPeak
	Moderator     *Moderator
	Vision        *VisionClient // nil: images are not analysed
	Now           func() time.Time
	// Feed, when set, is told of the activities whose store transaction
	// inserted a new log row, once per claimed batch, after the commit
	// (the leaderboard). A re-run of a recorded job does not report it
	// again.
	Feed ActivityFeed
	// TextModeration, when set, also judges post text
	// (textmoderation.go); nil: the rules alone.
	TextModeration *TextModerationClient
}

// OfferAnalysisResult is stored as the job-analysis job's result.
type OfferAnalysisResult struct {
	CandidatesFound int      `json:"candidatesFound"`
	MatchesCreated  int      `json:"matchesCreated"`
	ExtractedSkills []string `json:"extractedSkills"`
}

// AnalyzeOffer extracts the job's skills, scores every candidate sharing one
// and stores the matches at or above MIN_MATCH_SCORE.
func (p *Processor) AnalyzeOffer(ctx context.Context, j Job) (any, error) {
	var t OfferTask
	if err := decodePayload(j, &t); err != nil {
		return nil, err
	}
	log := p.Log.With("processingId", j.ProcessingID, "jobId", t.JobID)
	log.Info("[Worker] Analyzing job " + t.JobID + ": " + t.Title)
	skills := CanonicalSkills(slices.Concat(t.RequiredSkills, ExtractSkills(t.Title+"\n"+t.Description)))
	found, matches, err := p.matchCandidates(ctx, OfferProfile{Skills: skills, Level: t.ExperienceLevel, Location: t.Location})
	if err != nil {
		return nil, err
	}
	log.Info(fmt.Sprintf("Found %d candidates", found), "skills", skills)
	err = p.Store.SaveOfferAnalysis(ctx, OfferAnalysis{Job: t, Skills: skills, Matches: matches, At: p.Now()})
	if err != nil {
		return nil, err
	}
	log.Info(fmt.Sprintf("Created %d match records", len(matches)))
	log.Info("Job analysis completed: " + t.JobID)
	return OfferAnalysisResult{found, len(matches), skills}, nil
}

// matchCandidates scores the candidates sharing a skill with the job
// (found counts them) and keeps those scoring at least MinMatchScore, in
// no particular order: the stores write them in the order they index them.
func (p *Processor) matchCandidates(ctx context.Context, job OfferProfile) (int, []Match, error) {
	return p.Store.MatchCandidates(ctx, NewMatcher(job), p.MinMatchScore)
}

// matchTally counts the candidates sharing a skill with a job and keeps
// those scoring at least min.
type matchTally struct {
	min     int
	found   int
	matches []Match
}

// addParsed scores c with m.
func (t *matchTally) addParsed(m *Matcher, c ParsedCandidate) {
	if score, shared := m.ScoreParsed(&c); t.counts(score, shared) {
		t.keep(c.ID, score, shared)
	}
}

// counts counts a candidate scored score, sharing shared, if it shares a
// skill, and says whether it scores enough to be kept.
func (t *matchTally) counts(score int, shared []string) bool {
	if shared == nil {
		return false
	}
	t.found++
	return score >= t.min
}

func (t *matchTally) keep(id string, score int, shared []string) {
	t.matches = append(t.matches, Match{CandidateID: id, Score: score, Skills: shared})
}

// ModerationResult is stored as the post-moderation job's result.
type ModerationResult struct {
	Status  string   `json:"status"`
	Flagged bool     `json:"flagged"`
	Reasons []string `json:"reasons"`
}

// ModeratePost checks a post's text, links and images and records the
// outcome.
func (p *Processor) ModeratePost(ctx context.Context, j Job) (any, error) {
	var t PostTask
	if err := decodePayload(j, &t); err != nil {
		return nil, err
	}
	log := p.Log.With("processingId", j.ProcessingID, "postId", t.PostID)
	log.Info("[Worker] Moderating post " + t.PostID)
	images, err := p.checkImages(ctx, j, t.Images, log)
	if err != nil {
		return nil, err
	}
	text, err := p.checkTextService(ctx, j, t.Content, log)
	if err != nil {
		return nil, err
	}
	m := p.Moderator.Moderate(PostContent{Content: t.Content, Images: t.Images, Links: t.Links}, Checks{Images: images, Text: text})
	outcome := ModerationRecord{Status: m.Status, Reason: strings.Join(m.Reasons, "; "), At: p.Now()}
	if err := p.Store.SaveModeration(ctx, t, outcome); err != nil {
		return nil, err
	}
	log.Info("Post moderation completed: "+t.PostID, "status", m.Status, "reason", outcome.Reason)
	return ModerationResult{m.Status, m.Flagged(), nonNil(m.Reasons)}, nil
}

// checkImages asks Vision about the post's distinct images that may be sent
// to it (see ImageURLProblem). A Vision failure is a transient error, so the queue
// retries the job; on the job's last attempt the post is decided without
// images instead, and the report says they were not checked.
func (p *Processor) checkImages(ctx context.Context, j Job, images []string, log *slog.Logger) (ImageReport, error) {
	if p.Vision == nil {
		return ImageReport{}, nil
	}
	report := ImageReport{Enabled: true}
	var send []string
	for _, u := range images {
		if u = strings.TrimSpace(u); ImageURLProblem(u) == "" && !slices.Contains(send, u) {
			send = append(send, u)
		}
	}
	if len(send) == 0 {
		return report, nil
	}
	verdicts, err := p.Vision.SafeSearch(ctx, send)
	if err != nil {
		report.NotChecked, err = serviceFailed(j, err, log, "Vision", "text and links")
		return report, err
	}
	report.Verdicts = verdicts
	return report, nil
}

// serviceFailed turns a failed call to an outside service into the job's
// outcome: while attempts are left, an error the queue retries; on the
// last, a note that the check could not be made, so that the post is still
// decided, on what was.
func serviceFailed(j Job, err error, log *slog.Logger, service, decidedOn string) (notChecked string, retry error) {
	if !j.LastAttempt() {
		return "", fmt.Errorf("post %s: %w", j.ProcessingID, err)
	}
	log.Warn(service+" failed on the last attempt: post decided on "+decidedOn, "err", err)
	return fmt.Sprintf("%s failed after %d attempts", service, j.Attempt), nil
}

// checkTextService asks the text-moderation service about the post's text,
// as checkImages asks Vision: a failure is retried by the queue, and on the
// job's last attempt the post is decided on the rules alone, the report
// saying the service was not reached.
func (p *Processor) checkTextService(ctx context.Context, j Job, content string, log *slog.Logger) (TextReport, error) {
	if p.TextModeration == nil {
		return TextReport{}, nil
	}
	report := TextReport{Enabled: true}
	if strings.TrimSpace(content) == "" {
		return report, nil
	}
	verdict, err := p.TextModeration.Moderate(ctx, content)
	if err != nil {
		report.NotChecked, err = serviceFailed(j, err, log, "the service", "the rules alone")
		return report, err
	}
	report.Verdict = &verdict
	return report, nil
}

// ActivityFeed is what hears of the activities the store recorded as new:
// the leaderboard. Enter marks the start of a store write whose new
// activities will be handed to Record, and the func it returns the end,
// once they have been: a rebuild waits for the writes begun before its
// snapshot (see Leaderboard.Rebuild).
type ActivityFeed interface {
	Enter() (leave func())
	Record(events []ActivityEvent)
}

// ActivityResult is stored as the activity-scoring job's result. Applied
// is false when a previous run had already recorded the same event.
type ActivityResult struct {
	Points  int  `json:"points"`
	Applied bool `json:"applied"`
}

// ScoreActivities awards each job's points, once per processingId, with
// one store call for the whole batch.
func (p *Processor) ScoreActivities(ctx context.Context, jobs []Job) []Result {
	out := make([]Result, len(jobs))
	recs := make([]ActivityRecord, 0, len(jobs))
	idx := make([]int, 0, len(jobs)) // recs[k] is for jobs[idx[k]]
	for i, j := range jobs {
		rec, err := p.activityRecord(j)
		if err != nil {
			out[i].Err = err
			continue
		}
		recs = append(recs, rec)
		idx = append(idx, i)
	}
	if len(recs) == 0 {
		return out
	}
	if p.Feed != nil {
		defer p.Feed.Enter()() // from before the store write until its events are fed
	}
	recorded, err := p.Store.RecordActivities(ctx, recs)
	if err != nil {
		for _, i := range idx {
			out[i].Err = err
		}
		return out
	}
	var applied []ActivityEvent
	for k, i := range idx {
		if out[i].Err = recorded[k].Err; out[i].Err == nil {
			out[i].Value = ActivityResult{recs[k].Points, recorded[k].Applied}
			if recorded[k].Applied {
				applied = append(applied, recs[k].event())
			}
		}
	}
	p.logScored(ctx, recs, recorded)
	if len(applied) > 0 && p.Feed != nil {
		p.Feed.Record(applied)
	}
	return out
}

// logScored logs each recorded activity at debug level.
func (p *Processor) logScored(ctx context.Context, recs []ActivityRecord, recorded []Recorded) {
	if !p.Log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	for k, a := range recs {
		p.Log.Debug("Activity scored", "processingId", a.ProcessingID, "userId", a.UserID,
			"action", a.Action, "points", a.Points, "applied", recorded[k].Applied, "err", recorded[k].Err)
	}
}

// activityRecord reads an activity job and prices its action.
func (p *Processor) activityRecord(j Job) (ActivityRecord, error) {
	var t ActivityTask
	if err := decodePayload(j, &t); err != nil {
		return ActivityRecord{}, err
	}
	points, ok := ActivityPoints(t.Action, t.OccurredAt, p.Timezone, p.OffPeak)
	if !ok {
		return ActivityRecord{}, Permanent(fmt.Errorf("unknown action %q", t.Action))
	}
	return ActivityRecord{
		ProcessingID: j.ProcessingID,
		EventKey:     t.EventKey,
		UserID:       t.UserID,
		Action:       t.Action,
		TargetType:   t.TargetType,
		TargetID:     t.TargetID,
		Points:       points,
		At:           t.OccurredAt,
	}, nil
}

// decodePayload reads a job's stored task. The handler wrote it, so a
// payload that does not decode can never succeed: the error is permanent.
func decodePayload(j Job, dst any) error {
	if err := json.Unmarshal(j.Payload, dst); err != nil {
		return Permanent(fmt.Errorf("decode %s payload: %w", j.Queue, err))
	}
	return nil
}

// nonNil makes an empty slice encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
