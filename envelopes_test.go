package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
)

// fixture reads a file of testdata/envelopes.
func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/envelopes/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pgNet posts body the way pg_net delivers a Supabase Database Webhook:
// the configured secret header, Content-Type and pg_net's User-Agent, and
// nothing else (no delivery id, no signature).
func (a *testApp) pgNet(t testing.TB, route, body string) reply {
	t.Helper()
	return a.do(t, http.MethodPost, route, "application/json", body,
		map[string]string{"User-Agent": "pg_net/0.14.0", "x-webhook-secret": testSecret})
}

const (
	fixtureUser = "3f2e1d0c-9b8a-4765-8432-10fedcba9876"
	fixturePost = "5a0e8c3b-2f1d-4b6a-9c8e-7d6f5e4a3b2c"
	fixtureJob  = "7d3c1f0e-8a4b-4c2d-9e6f-1a2b3c4d5e6f"
)

// envelopeFixtures are the files of testdata/envelopes (jsonb text, as
// supabase_functions.http_request sends it), each with the route it goes
// to and either the task it must queue or the reason it must be skipped.
var envelopeFixtures = []struct {
	file  string
	route string
	task  string // the queued payload, as JSON
	skip  string // part of the skip reason
}{
	{"jobs_insert.json", "/api/jobs/analyze", `{"jobId":"` + fixtureJob + `","title":"Senior Go Developer",
		"description":"Build our matching engine in golang with Postgres and Docker.","company_id":"0b9f6a52-3c1d-4e8f-a7b6-c5d4e3f2a1b0",
		"location":"Paris, France","requiredSkills":["Go","PostgreSQL","Docker"],"experienceLevel":"Senior"}`, ""},
	{"jobs_insert_bigint_id.json", "/api/jobs/analyze", `{"jobId":"4217","title":"Data engineer","company_id":"12"}`, ""},
	{"jobs_update_content.json", "/api/jobs/analyze", `{"jobId":"` + fixtureJob + `","title":"Staff Go Developer",
		"description":"Build our matching engine in golang with Postgres and Docker.","company_id":"0b9f6a52-3c1d-4e8f-a7b6-c5d4e3f2a1b0",
		"location":"Paris, France","requiredSkills":["Go","PostgreSQL","Kubernetes"],"experienceLevel":"Senior"}`, ""},
	{"jobs_update_after_analysis.json", "/api/jobs/analyze", "", "UPDATE on jobs: title, description, required_skills, experience_level and location are unchanged"},
	{"jobs_delete.json", "/api/jobs/analyze", "", "DELETE on jobs: a deleted job needs no analysis"},
	{"posts_insert.json", "/api/posts/moderate", `{"postId":"` + fixturePost + `","content":"We are hiring a Go developer in Lyon! Details on our careers page.",
		"images":["https://cdn.acme.example/team.jpg"],"links":["https://acme.example/careers"],"userId":"9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"}`, ""},
	{"posts_update_content.json", "/api/posts/moderate", `{"postId":"` + fixturePost + `","content":"FREE MONEY!!! click here",
		"images":["https://cdn.acme.example/team.jpg"],"links":["https://bit.ly/x"],"userId":"9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"}`, ""},
	{"posts_update_after_moderation.json", "/api/posts/moderate", "", "UPDATE on posts: content, images and links are unchanged"},
	{"posts_delete.json", "/api/posts/moderate", "", "DELETE on posts: a deleted post needs no moderation"},
	{"likes_insert.json", "/api/activity/score", `{"userId":"` + fixtureUser + `","action":"like","targetId":"` + fixturePost + `",
		"targetType":"post","occurredAt":"2024-01-15T22:30:00.123456Z","eventKey":"likes:INSERT:c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"}`, ""},
	{"likes_update.json", "/api/activity/score", "", "UPDATE on likes: an updated activity row is not a new action"},
	{"likes_delete.json", "/api/activity/score", "", "DELETE on likes: an undone action takes no points back"},
	{"comments_insert.json", "/api/activity/score", `{"userId":"` + fixtureUser + `","action":"comment","targetId":"` + fixturePost + `",
		"targetType":"post","occurredAt":"2024-01-16T11:00:00Z","eventKey":"comments:INSERT:981:2024-01-16T11:00:00+00:00"}`, ""},
	{"shares_insert.json", "/api/activity/score", `{"userId":"` + fixtureUser + `","action":"share","targetId":"` + fixturePost + `",
		"targetType":"post","occurredAt":"2024-01-16T12:00:00Z","eventKey":"shares:INSERT:d4c3b2a1-0f9e-4d8c-b7a6-958473625140"}`, ""},
	{"post_views_insert.json", "/api/activity/score", `{"userId":"` + fixtureUser + `","action":"view","targetId":"` + fixturePost + `",
		"targetType":"post","occurredAt":"2024-01-16T11:05:00.5Z","eventKey":"post_views:INSERT:77001"}`, ""},
	{"views_insert.json", "/api/activity/score", `{"userId":"` + fixtureUser + `","action":"view","targetId":"` + fixtureJob + `",
		"targetType":"job","occurredAt":"2024-01-16T12:06:00Z","eventKey":"views:INSERT:77002"}`, ""},
	{"applications_insert.json", "/api/activity/score", `{"userId":"` + fixtureUser + `","action":"apply","targetId":"` + fixtureJob + `",
		"targetType":"job","occurredAt":"2024-01-16T14:00:00.000001Z","eventKey":"applications:INSERT:e5f6a7b8-c9d0-4e1f-a2b3-c4d5e6f7a8b9:2024-01-16T14:00:00.000001+00:00"}`, ""},
	{"user_activities_insert.json", "/api/activity/score", `{"userId":"` + fixtureUser + `","action":"share","targetId":"` + fixturePost + `",
		"targetType":"post","occurredAt":"2024-01-16T15:00:00Z","eventKey":"user_activities:INSERT:5"}`, ""},
}

// Every fixture through real HTTP as pg_net sends it: a queued envelope
// gets the direct form's reply and queues exactly the mapped task; a
// skipped one gets the skipped reply and queues nothing; then every job
// completes and the activity points add up.
func TestEnvelopeFixtures(t *testing.T) {
	a := startApp(t, nil)
	db := openFile(t, a.cfg.DataDir)
	for _, f := range envelopeFixtures {
		t.Run(f.file, func(t *testing.T) {
			before := queryInt(t, db, `SELECT count(*) FROM queue_jobs`)
			r := a.pgNet(t, f.route, fixture(t, f.file))
			if r.Status != http.StatusOK || r.Body["success"] != true {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			if f.skip != "" {
				if r.Body["skipped"] != true || !strings.HasPrefix(r.str("reason"), f.skip) || r.Body["processingId"] != nil {
					t.Errorf("reply %s, want skipped with a reason starting %q", r.Raw, f.skip)
				}
				if n := queryInt(t, db, `SELECT count(*) FROM queue_jobs`); n != before {
					t.Errorf("a skipped envelope queued %d jobs", n-before)
				}
				return
			}
			checkEnvelopeReply(t, r, f.task)
			payload := queryString(t, db, `SELECT payload FROM queue_jobs WHERE processing_id = ?`, r.str("processingId"))
			if !sameJSON(t, payload, f.task) {
				t.Errorf("queued %s\nwant   %s", payload, f.task)
			}
		})
	}
	counts := a.waitDrained(t)
	for q, c := range counts {
		if c.Failed != 0 {
			t.Errorf("%s: %d jobs failed", q, c.Failed)
		}
	}
	// like at 23:30 Paris (off-peak: 8), comment 10, share 15, two views 1 + 1,
	// apply 20, share 15.
	if score := queryInt(t, db, `SELECT engagement_score FROM users WHERE id = ?`, fixtureUser); score != 70 {
		t.Errorf("engagement_score %d, want 70", score)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM jobs WHERE id = ? AND analysis_completed = 1`, fixtureJob); n != 1 {
		t.Error("the envelope's job was not analysed")
	}
	if s := queryString(t, db, `SELECT moderation_status FROM posts WHERE id = ?`, fixturePost); s == "" {
		t.Error("the envelope's post was not moderated")
	}
}

// checkEnvelopeReply checks that a queued envelope is answered as the
// direct form with the same task would be.
func checkEnvelopeReply(t *testing.T, r reply, task string) {
	t.Helper()
	var want map[string]any
	if err := json.Unmarshal([]byte(task), &want); err != nil {
		t.Fatal(err)
	}
	var kind, id, message string
	switch {
	case want["jobId"] != nil:
		kind, id, message = "jobId", want["jobId"].(string), "Job analysis queued"
	case want["postId"] != nil:
		kind, id, message = "postId", want["postId"].(string), "Post moderation queued"
	default:
		kind, id, message = "userId", want["userId"].(string), "Activity scored"
		if r.str("action") != want["action"] {
			t.Errorf("reply action %q, want %q", r.str("action"), want["action"])
		}
	}
	prefix := map[string]string{"jobId": "job-", "postId": "post-", "userId": "activity-"}[kind] + id + "-"
	if r.str(kind) != id || r.str("message") != message || !strings.HasPrefix(r.str("processingId"), prefix) || r.Body["duplicate"] != nil {
		t.Errorf("reply %s, want %s %q, %q and a processingId starting %q", r.Raw, kind, id, message, prefix)
	}
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

// Loop prevention with the rows hookd itself wrote: after a job is
// analysed and a post moderated, an UPDATE envelope carrying the row as it
// now is in the store (analysis_completed flipped, is_flagged set…) is
// skipped and queues nothing, while the same row with its content changed
// is queued.
func TestEnvelopeLoopFromOwnWrites(t *testing.T) {
	a := startApp(t, nil)
	db := openFile(t, a.cfg.DataDir)
	jobInsert, postInsert := fixture(t, "jobs_insert.json"), fixture(t, "posts_insert.json")
	a.pgNet(t, "/api/jobs/analyze", jobInsert)
	a.pgNet(t, "/api/posts/moderate", postInsert)
	a.waitDrained(t)

	jobAfter := queryString(t, db, `
SELECT json_object('id', id, 'company_id', company_id, 'title', title, 'description', description,
  'location', location, 'required_skills', json(required_skills), 'experience_level', experience_level,
  'created_at', created_at, 'analysis_completed', json(iif(analysis_completed, 'true', 'false')),
  'candidates_count', candidates_count, 'analyzed_at', analyzed_at, 'extracted_skills', json(extracted_skills))
FROM jobs WHERE id = ? AND analysis_completed = 1 AND analyzed_at IS NOT NULL`, fixtureJob)
	postAfter := queryString(t, db, `
SELECT json_object('id', id, 'user_id', user_id, 'content', content, 'images', json(images), 'links', json(links),
  'created_at', created_at, 'is_flagged', json(iif(is_flagged, 'true', 'false')), 'flag_reason', flag_reason,
  'moderated_at', moderated_at, 'moderation_status', moderation_status)
FROM posts WHERE id = ? AND moderated_at IS NOT NULL`, fixturePost)
	if jobAfter == "" || postAfter == "" {
		t.Fatalf("hookd did not write the job (%q) or the post (%q)", jobAfter, postAfter)
	}
	update := func(table, record, insert string) string {
		var ins map[string]json.RawMessage
		if err := json.Unmarshal([]byte(insert), &ins); err != nil {
			t.Fatal(err)
		}
		return `{"type":"UPDATE","table":"` + table + `","schema":"public","record":` + record + `,"old_record":` + string(ins["record"]) + `}`
	}
	before := queryInt(t, db, `SELECT count(*) FROM queue_jobs`)
	for route, body := range map[string]string{
		"/api/jobs/analyze":   update("jobs", jobAfter, jobInsert),
		"/api/posts/moderate": update("posts", postAfter, postInsert),
	} {
		r := a.pgNet(t, route, body)
		if r.Status != http.StatusOK || r.Body["skipped"] != true || !strings.Contains(r.str("reason"), "unchanged") {
			t.Errorf("%s, hookd's own write: %d %s, want skipped", route, r.Status, r.Raw)
		}
	}
	if n := queryInt(t, db, `SELECT count(*) FROM queue_jobs`); n != before {
		t.Fatalf("hookd's own writes queued %d jobs: a webhook loop", n-before)
	}

	edited := strings.Replace(jobAfter, `"Senior Go Developer"`, `"Principal Go Developer"`, 1)
	if r := a.pgNet(t, "/api/jobs/analyze", update("jobs", edited, jobInsert)); r.Status != http.StatusOK || r.str("processingId") == "" {
		t.Errorf("a real edit of the title: %d %s, want queued", r.Status, r.Raw)
	}
}

// Every way an envelope can be wrong is a 400 naming the field as the
// sender wrote it, and queues nothing.
func TestEnvelopeErrors(t *testing.T) {
	a := startApp(t, nil)
	const job = `{"id":"j1","title":"t"}`
	const like = `"user_id":"u1","post_id":"p1"`
	env := func(op, table, record string) string {
		return `{"type":"` + op + `","table":"` + table + `","schema":"public","record":` + record + `,"old_record":null}`
	}
	cases := []struct {
		name, route, body, errorHas string
	}{
		{"jobs route, likes table", "/api/jobs/analyze", env("INSERT", "likes", job), `table: want jobs, got "likes"; likes rows go to /api/activity/score`},
		{"posts route, jobs table", "/api/posts/moderate", env("INSERT", "jobs", job), `table: want posts, got "jobs"; jobs rows go to /api/jobs/analyze`},
		{"activity route, activity_logs", "/api/activity/score", env("INSERT", "activity_logs", `{`+like+`,"action":"like"}`), "table: activity_logs is written by hookd's scoring"},
		{"activity route, jobs", "/api/activity/score", env("INSERT", "jobs", job), "table: jobs rows go to /api/jobs/analyze"},
		{"activity route, unknown table", "/api/activity/score", env("INSERT", "bookmarks", `{`+like+`}`), `table: want an activity table (post_views, views, likes, comments, shares, applications) or rows with an action column, got "bookmarks"`},
		{"table missing", "/api/jobs/analyze", `{"type":"INSERT","record":` + job + `}`, "table: required"},
		{"table too long", "/api/jobs/analyze", env("INSERT", strings.Repeat("t", 64), job), "table: longer than 63"},
		{"type missing", "/api/jobs/analyze", `{"table":"jobs","record":` + job + `}`, "type: required"},
		{"type unknown", "/api/jobs/analyze", env("TRUNCATE", "jobs", job), `type: want INSERT, UPDATE or DELETE, got "TRUNCATE"`},
		{"type a number", "/api/jobs/analyze", `{"type":1,"table":"jobs","record":` + job + `}`, "type: must be a string, got number 1"},
		{"INSERT without record", "/api/jobs/analyze", env("INSERT", "jobs", "null"), "record: required for INSERT"},
		{"UPDATE without record", "/api/posts/moderate", `{"type":"UPDATE","table":"posts","record":null,"old_record":{"id":"p"}}`, "record: required for UPDATE"},
		{"record an array", "/api/jobs/analyze", env("INSERT", "jobs", "[1]"), "record: must be a JSON object"},
		{"record.title missing", "/api/jobs/analyze", env("INSERT", "jobs", `{"id":"j1"}`), "record.title: required"},
		{"record.id missing", "/api/jobs/analyze", env("INSERT", "jobs", `{"title":"t"}`), "record.id: required"},
		{"record.id fractional", "/api/jobs/analyze", env("INSERT", "jobs", `{"id":1.5,"title":"t"}`), "record.id: must be a string or an integer, got number 1.5"},
		{"record.id an object", "/api/posts/moderate", env("INSERT", "posts", `{"id":{},"content":"c"}`), "record.id: must be a string or an integer, got object"},
		{"record.id bad characters", "/api/jobs/analyze", env("INSERT", "jobs", `{"id":"a b","title":"t"}`), "record.id: only letters"},
		{"record.required_skills as a Postgres literal", "/api/jobs/analyze", env("INSERT", "jobs", `{"id":"j1","title":"t","required_skills":"{Go,Rust}"}`), "record.required_skills: must be an array of strings"},
		{"record.required_skills too many", "/api/jobs/analyze", env("INSERT", "jobs", `{"id":"j1","title":"t","required_skills":[`+strings.Repeat(`"Go",`, 100)+`"Go"]}`), "record.required_skills: more than 100"},
		{"record.experience_level too long", "/api/jobs/analyze", env("INSERT", "jobs", `{"id":"j1","title":"t","experience_level":"`+strings.Repeat("x", 51)+`"}`), "record.experience_level: longer than 50"},
		{"record.updated_at too long", "/api/jobs/analyze", env("INSERT", "jobs", `{"id":"j1","title":"t","updated_at":"`+strings.Repeat("9", 65)+`"}`), "record.updated_at: longer than 64"},
		{"old_record.title a number", "/api/jobs/analyze", `{"type":"UPDATE","table":"jobs","record":` + job + `,"old_record":{"id":"j1","title":5}}`, "old_record.title: must be a string"},
		{"post with nothing to moderate", "/api/posts/moderate", env("INSERT", "posts", `{"id":"p1","content":"","images":[],"links":[]}`), "record.content: at least one of record.content, record.images or record.links is required"},
		{"record.user_id bad", "/api/posts/moderate", env("INSERT", "posts", `{"id":"p1","content":"c","user_id":"<script>"}`), "record.user_id: only letters"},
		{"record.images not text", "/api/posts/moderate", env("INSERT", "posts", `{"id":"p1","images":[{"url":"x"}]}`), "record.images: must be a string, got object"},
		{"activity without user", "/api/activity/score", env("INSERT", "likes", `{"post_id":"p1"}`), "record.user_id: required"},
		{"record.action unknown", "/api/activity/score", env("INSERT", "user_activities", `{"user_id":"u1","action":"dance"}`), "record.action: unknown action \"dance\"; allowed: view, like, comment, share, apply"},
		{"record.created_at not a time", "/api/activity/score", env("INSERT", "likes", `{`+like+`,"created_at":"yesterday"}`), "record.created_at: want an RFC 3339 time"},
		{"record.created_at a number", "/api/activity/score", env("INSERT", "likes", `{`+like+`,"created_at":1705314600}`), "record.created_at: must be a string"},
		{"record.created_at in the future", "/api/activity/score", env("INSERT", "likes", `{`+like+`,"created_at":"2999-01-01T00:00:00+00:00"}`), "record.created_at: more than 1h0m0s in the future"},
		{"record.post_id too long", "/api/activity/score", env("INSERT", "likes", `{"user_id":"u1","post_id":"`+strings.Repeat("p", 256)+`"}`), "record.post_id: longer than 255"},
		{"record.id of an activity bad", "/api/activity/score", env("INSERT", "likes", `{"id":"x y",`+like+`}`), "record.id: only letters"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.pgNet(t, c.route, c.body)
			if r.Status != http.StatusBadRequest || r.Body["success"] != false || !strings.Contains(r.str("error"), c.errorHas) {
				t.Errorf("%d %s, want 400 with an error containing %q", r.Status, r.Raw, c.errorHas)
			}
		})
	}
	r := a.pgNet(t, "/api/activity/score", env("INSERT", "likes", `{`+like+`,"action":"dance"}`))
	if d, _ := r.Body["details"].(map[string]any); d["field"] != "record.action" || d["allowed"] == nil {
		t.Errorf("unknown record.action: details %v, want the field and the allowed actions", r.Body["details"])
	}
	counts, err := a.queue.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for q, c := range counts {
		if c != (QueueCounts{}) {
			t.Errorf("%s: %+v: a rejected envelope was queued", q, c)
		}
	}
}
