package main

// The kinds of work hookd does, declared once. Each Kind says where its
// work comes from (a webhook route, the app's tables), how it is queued
// (its queue, its processingIds) and how it is done (its workers and their
// function). Routes, worker pools, queue counts, health and the mapping of
// Supabase tables to routes are all built from Kinds; adding a kind is an
// entry here, its decoder, its work function and its store writes.
//
// In code a job offer (a row of the app's jobs table) is an Offer, so that
// Job always means a queue job.

import (
	"context"
	"time"
)

// A Kind is one sort of work.
type Kind struct {
	// Queue names the kind's queue: the queue column of its jobs, its line
	// in health, its worker pool.
	Queue string
	// Route is the webhook route (POST) that takes it.
	Route string
	// Prefix starts its processingIds: <prefix>-<id>-<unix ms>-<suffix>.
	Prefix string
	// Queued is the message of the 200 answer.
	Queued string
	// Workers is how many jobs of the kind run at once, unless the
	// environment variable WorkersEnv says otherwise.
	Workers    int
	WorkersEnv string
	// Batch is how many claimed jobs one call of Work takes; 0 means 1.
	Batch int
	// Tables are the app's tables whose row events (Supabase Database
	// Webhook envelopes, captured events) the kind takes: every INSERT,
	// and the UPDATEs that change one of UpdateColumns.
	Tables        []string
	UpdateColumns []string
	// Decode validates a webhook body, the direct form or an envelope.
	// received is when the webhook arrived.
	Decode func(body []byte, received time.Time) (Accepted, error)
	// Work does a batch of the kind's jobs and says how each ended, in
	// order.
	Work func(p *Processor, ctx context.Context, jobs []Job) []Result
}

// The queue names, which are part of the API: health and job status
// report them.
const (
	QueueJobAnalysis     = "job-analysis"
	QueuePostModeration  = "post-moderation"
	QueueActivityScoring = "activity-scoring"
	QueueCandidateMatch  = "candidate-matching"
)

// Kinds are the kinds hookd runs.
var Kinds = []Kind{
	{
		Queue:         QueueJobAnalysis,
		Route:         "/api/jobs/analyze",
		Prefix:        "job",
		Queued:        "Job analysis queued",
		Workers:       5,
		WorkersEnv:    "JOB_ANALYSIS_CONCURRENCY",
		Tables:        []string{"jobs"},
		UpdateColumns: []string{"title", "description", "required_skills", "experience_level", "location"},
		Decode:        acceptOffer,
		Work:          oneAtATime((*Processor).AnalyzeOffer),
	},
	{
		Queue:         QueuePostModeration,
		Route:         "/api/posts/moderate",
		Prefix:        "post",
		Queued:        "Post moderation queued",
		Workers:       10,
		WorkersEnv:    "POST_MODERATION_CONCURRENCY",
		Tables:        []string{"posts"},
		UpdateColumns: []string{"content", "images", "links"},
		Decode:        acceptPost,
		Work:          oneAtATime((*Processor).ModeratePost),
	},
	{
		Queue:      QueueActivityScoring,
		Route:      "/api/activity/score",
		Prefix:     "activity",
		Queued:     "Activity scored",
		Workers:    20,
		WorkersEnv: "ACTIVITY_SCORING_CONCURRENCY",
		// Activity jobs are small and many: a claimed batch shares one
		// store transaction (BENCHMARKS.md has the measurement that
		// chose 256).
		Batch:  256,
		Tables: activityTableNames(),
		Decode: acceptActivity,
		Work:   (*Processor).ScoreActivities,
	},
	{
		Queue:         QueueCandidateMatch,
		Route:         "/api/candidates/match",
		Prefix:        "candidate",
		Queued:        "Candidate matching queued",
		Workers:       5,
		WorkersEnv:    "CANDIDATE_MATCHING_CONCURRENCY",
		Tables:        []string{"candidates"},
		UpdateColumns: []string{"skills", "experience_level", "location"},
		Decode:        acceptCandidate,
		Work:          oneAtATime((*Processor).MatchCandidate),
	},
}

// queueNames lists the queues of kinds, in order.
func queueNames(kinds []Kind) []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Queue
	}
	return names
}

// tableRoutes maps each table a kind takes to the kind's route, so that
// an envelope sent to the wrong route is told where it belongs. It is
// filled from Kinds by init: the decoders that read it are part of Kinds.
var tableRoutes map[string]string

func init() {
	tableRoutes = map[string]string{}
	for _, k := range Kinds {
		for _, table := range k.Tables {
			tableRoutes[table] = k.Route
		}
	}
}

// oneAtATime makes a kind's Work of a function that does one job.
func oneAtATime(work func(p *Processor, ctx context.Context, j Job) (any, error)) func(*Processor, context.Context, []Job) []Result {
	return func(p *Processor, ctx context.Context, jobs []Job) []Result {
		out := make([]Result, len(jobs))
		for i, j := range jobs {
			out[i].Value, out[i].Err = work(p, ctx, j)
		}
		return out
	}
}

func acceptOffer(body []byte, _ time.Time) (Accepted, error) {
	d, err := DecodeOffer(body)
	if err != nil || d.Skip != "" {
		return Accepted{Skip: d.Skip}, err
	}
	t := d.Task
	return Accepted{Task: t, ID: t.JobID, RowKey: d.RowKey, Reply: acceptReply{JobID: t.JobID},
		Keys: []namedID{{"jobId", t.JobID}}}, nil
}

func acceptPost(body []byte, _ time.Time) (Accepted, error) {
	d, err := DecodePost(body)
	if err != nil || d.Skip != "" {
		return Accepted{Skip: d.Skip}, err
	}
	t := d.Task
	return Accepted{Task: t, ID: t.PostID, RowKey: d.RowKey, Reply: acceptReply{PostID: t.PostID},
		Keys: []namedID{{"postId", t.PostID}, {"userId", t.UserID}}}, nil
}

func acceptActivity(body []byte, received time.Time) (Accepted, error) {
	d, err := DecodeActivity(body, received)
	if err != nil || d.Skip != "" {
		return Accepted{Skip: d.Skip}, err
	}
	t := d.Task
	return Accepted{Task: t, ID: t.UserID, RowKey: d.RowKey, Reply: acceptReply{UserID: t.UserID, Action: t.Action},
		Keys: []namedID{{"userId", t.UserID}}}, nil
}
