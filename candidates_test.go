package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// candidateEnvelope is a candidates row event as Supabase sends it.
func candidateEnvelope(op, id, skills, level, location, oldSkills string) string {
	row := func(skills string) string {
		return `{"id":"` + id + `","skills":` + skills + `,"experience_level":"` + level + `","location":"` + location + `"}`
	}
	old := "null"
	if oldSkills != "" {
		old = row(oldSkills)
	}
	return `{"type":"` + op + `","table":"candidates","schema":"public","record":` + row(skills) + `,"old_record":` + old + `}`
}

// A job posted before its candidate finds it: the candidate is matched
// against the analysed offers with the job analysis's rules, its matches
// follow its skills, and each job's candidates_count follows its matches.
func TestCandidateMatchingEndToEnd(t *testing.T) {
	a := startApp(t, nil)
	db := openFile(t, a.cfg.DataDir)
	a.mustAccept(t, "/api/jobs/analyze", `{"jobId":"job-go","title":"Backend engineer","location":"Paris, France",
		"requiredSkills":["Go","PostgreSQL","Docker","Kubernetes"],"experienceLevel":"Senior"}`)
	a.mustAccept(t, "/api/jobs/analyze", `{"jobId":"job-java","title":"Java developer","requiredSkills":["Java"]}`)
	a.waitDrained(t)
	matches := func() map[string]int {
		rows, err := db.Query(`SELECT job_id, match_score FROM job_matches WHERE candidate_id = 'c-100'`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := collectRows(rows, func(scan func(...any) error) (m OfferMatch, err error) {
			err = scan(&m.JobID, &m.Score)
			return m, err
		})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, m := range got {
			out[m.JobID] = m.Score
		}
		return out
	}
	count := func(job string) int {
		return queryInt(t, db, `SELECT candidates_count FROM jobs WHERE id = ?`, job)
	}

	id := a.mustAccept(t, "/api/candidates/match", candidateEnvelope("INSERT", "c-100", `["golang","Postgres","Docker","Kubernetes"]`, "Senior", "Paris", ""))
	if !strings.HasPrefix(id, "candidate-c-100-") {
		t.Errorf("processingId %s", id)
	}
	a.waitDrained(t)
	if got := matches(); len(got) != 1 || got["job-go"] != 100 {
		t.Fatalf("matches %v, want job-go at 100 (job-java shares no skill)", got)
	}
	var res CandidateMatchResult
	if err := json.Unmarshal(a.status(t, id).Result, &res); err != nil || res != (CandidateMatchResult{1, 1}) {
		t.Errorf("result %+v %v, want 1 offer found, 1 match", res, err)
	}
	if n := count("job-go"); n != 1 {
		t.Errorf("job-go candidates_count %d, want 1", n)
	}

	again := a.post(t, "/api/candidates/match", `{"candidateId":"c-100"}`)
	if again.Status != http.StatusOK || again.str("candidateId") != "c-100" || again.str("message") != "Candidate matching queued" {
		t.Fatalf("direct form: %d %v", again.Status, again.Body)
	}
	a.waitDrained(t)
	if got := matches(); len(got) != 1 || got["job-go"] != 100 || count("job-go") != 1 {
		t.Errorf("matching again: %v, count %d: want the same one match", got, count("job-go"))
	}

	unchanged := a.post(t, "/api/candidates/match", candidateEnvelope("UPDATE", "c-100", `["Java"]`, "Senior", "Paris", `["Java"]`))
	if unchanged.Status != http.StatusOK || unchanged.Body["skipped"] != true {
		t.Errorf("unchanged update: %d %v, want skipped", unchanged.Status, unchanged.Body)
	}
	a.mustAccept(t, "/api/candidates/match", candidateEnvelope("UPDATE", "c-100", `["Java"]`, "Senior", "Paris", `["golang"]`))
	a.waitDrained(t)
	if got := matches(); len(got) != 1 || got["job-java"] == 0 {
		t.Errorf("after the skills changed to Java: %v, want job-java only", got)
	}
	if go1, java := count("job-go"), count("job-java"); go1 != 0 || java != 1 {
		t.Errorf("candidates_count job-go %d, job-java %d, want 0 and 1", go1, java)
	}

	unknown := a.mustAccept(t, "/api/candidates/match", `{"candidateId":"c-nobody"}`)
	a.waitDrained(t)
	if st := a.status(t, unknown); st.State != StateFailed || st.LastError == nil || !strings.Contains(*st.LastError, "not found") {
		t.Errorf("unknown candidate: %+v", st)
	}
	bad := a.post(t, "/api/candidates/match", `{"candidateId":""}`)
	if bad.Status != http.StatusBadRequest || !strings.Contains(bad.str("error"), "candidateId: required") {
		t.Errorf("missing id: %d %v", bad.Status, bad.Body)
	}
}

// The same against Postgres: a candidate inserted after the job is
// matched by the direct form, and moving a match to another job moves
// both jobs' candidates_count.
func TestPostgresCandidateMatching(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	const jobJava = "10000000-0000-4000-8000-000000000002"
	const cand = "c0000000-0000-4000-8000-000000000100"
	pgExec(t, c, `INSERT INTO jobs (id, title, location, required_skills, experience_level) VALUES
	 ($1, 'Backend engineer', 'Paris, France', '{Go,PostgreSQL,Docker,Kubernetes}', 'Senior'),
	 ($2, 'Java developer', 'Lyon', '{Java}', NULL)`, jobGo, jobJava)
	a := startPostgresApp(t, dbURL, nil)
	a.mustAccept(t, "/api/jobs/analyze", `{"jobId":"`+jobGo+`","title":"Backend engineer","location":"Paris, France","requiredSkills":["Go","PostgreSQL","Docker","Kubernetes"],"experienceLevel":"Senior"}`)
	a.mustAccept(t, "/api/jobs/analyze", `{"jobId":"`+jobJava+`","title":"Java developer","location":"Lyon","requiredSkills":["Java"]}`)
	a.waitDrained(t)

	pgExec(t, c, `INSERT INTO candidates (id, skills, experience_level, location) VALUES ($1, '{golang,Postgres,Docker,Kubernetes}', 'Senior', 'Paris')`, cand)
	id := a.mustAccept(t, "/api/candidates/match", `{"candidateId":"`+cand+`"}`)
	a.waitDrained(t)
	if st := a.status(t, id); st.State != StateCompleted {
		t.Fatalf("%+v", st)
	}
	score := func(job string) int {
		return pgInt(t, c, `SELECT match_score FROM job_matches WHERE job_id = $1 AND candidate_id = $2`, job, cand)
	}
	count := func(job string) int { return pgInt(t, c, `SELECT candidates_count FROM jobs WHERE id = $1`, job) }
	if score(jobGo) != 100 || count(jobGo) != 1 || count(jobJava) != 0 {
		t.Errorf("after insert: score %d, counts %d %d, want 100, 1, 0", score(jobGo), count(jobGo), count(jobJava))
	}

	pgExec(t, c, `UPDATE candidates SET skills = '{Java}', location = 'Lyon' WHERE id = $1`, cand)
	a.mustAccept(t, "/api/candidates/match", candidateEnvelope("UPDATE", cand, `["Java"]`, "Senior", "Lyon", `["golang"]`))
	a.waitDrained(t)
	if n := pgInt(t, c, `SELECT count(*) FROM job_matches WHERE job_id = $1`, jobGo); n != 0 || score(jobJava) != 100 {
		t.Errorf("after the change: %d rows left on the Go job, Java score %d, want 0 and 100", n, score(jobJava))
	}
	if count(jobGo) != 0 || count(jobJava) != 1 {
		t.Errorf("counts %d %d, want 0 and 1", count(jobGo), count(jobJava))
	}
	unknown := a.mustAccept(t, "/api/candidates/match", `{"candidateId":"c0000000-0000-4000-8000-000000000999"}`)
	a.waitDrained(t)
	if st := a.status(t, unknown); st.State != StateFailed || !strings.Contains(deref(st.LastError), "not found") {
		t.Errorf("unknown candidate: %+v", st)
	}
}
