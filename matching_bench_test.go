package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The matching benchmarks: job analysis over 100,000 candidates and
// candidate matching against 10,000 analysed job offers, in Postgres. Each
// comes in two cases: "again" analyses the same job (matches the same
// candidate) at every iteration, so that the stored matches are already
// right and nothing needs writing; "new" takes a job (a candidate) never
// analysed before at every iteration, so that every match is a new row.

// benchSkills are the 40 skills the benchmark candidates and offers draw from.
var benchSkills = []string{
	"Go", "Rust", "Python", "Java", "Kotlin", "Scala", "JavaScript", "TypeScript", "C++", "C#",
	"PHP", "Ruby", "Swift", "React", "Angular", "Vue.js", "Node.js", "Django", "Flask", "Spring",
	"PostgreSQL", "MySQL", "MongoDB", "Redis", "Kafka", "Docker", "Kubernetes", "Terraform", "AWS", "GCP",
	"Azure", "Linux", "GraphQL", "gRPC", "Elasticsearch", "Spark", "Airflow", "TensorFlow", "PyTorch", "Pandas",
}

// insertBenchCandidates adds n candidates with 3–8 random skills of
// benchSkills, the four levels and four locations in turn.
func insertBenchCandidates(b *testing.B, c *pgx.Conn, n int) {
	b.Helper()
	pgExec(b, c, `
INSERT INTO candidates (skills, experience_level, location)
SELECT ARRAY(SELECT s FROM unnest($1::text[]) s ORDER BY random() LIMIT 3 + (g % 6)),
       (ARRAY['Junior', 'Mid', 'Senior', 'Lead'])[1 + g % 4],
       (ARRAY['Paris, France', 'Lyon, France', 'Remote', 'Berlin'])[1 + g % 4]
FROM generate_series(1, $2::int) AS g`, benchSkills, n)
	pgExec(b, c, `ANALYZE candidates`)
}

// insertBenchOffers adds n analysed job offers requiring 2–6 random skills
// of benchSkills, as job analysis would have stored them.
func insertBenchOffers(b *testing.B, c *pgx.Conn, n int) {
	b.Helper()
	pgExec(b, c, `
INSERT INTO jobs (title, location, experience_level, analysis_completed, analyzed_at, extracted_skills)
SELECT 'Offer ' || g,
       (ARRAY['Paris, France', 'Lyon', 'Remote', NULL, 'Berlin, Germany'])[1 + g % 5],
       (ARRAY['Junior', 'Mid', 'Senior', 'Lead', NULL])[1 + g % 5],
       true, now() - interval '1 day',
       ARRAY(SELECT s FROM (SELECT s FROM unnest($1::text[]) s ORDER BY random() LIMIT 2 + (g % 5)) k ORDER BY lower(s), s)
FROM generate_series(1, $2::int) AS g`, benchSkills, n)
	pgExec(b, c, `ANALYZE jobs`)
}

// benchOfferPayload is the job-analysis payload of the benchmark's job.
func benchOfferPayload(jobID string) []byte {
	return fmt.Appendf(nil, `{"jobId":%q,"title":"Platform engineer","location":"Paris, France","requiredSkills":["Go","PostgreSQL","Kubernetes","AWS"],"experienceLevel":"Senior"}`, jobID)
}

// BenchmarkPostgresJobAnalysis times one job analysis (candidate search,
// scoring, storing the matches) against 100,000 candidates with 3–8
// random skills of 40. The target is under 100 ms per job.
func BenchmarkPostgresJobAnalysis(b *testing.B) {
	dbURL := migratedDatabase(b)
	c := connect(b, dbURL)
	insertBenchCandidates(b, c, 100000)
	pg, err := OpenPostgres(dbURL, 4)
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close()
	p := &Processor{Store: pg, Log: testLogger(), MinMatchScore: 40, Timezone: time.UTC, Now: time.Now}
	analyze := func(b *testing.B, jobID string) OfferAnalysisResult {
		out, err := p.AnalyzeOffer(context.Background(), Job{Queue: QueueJobAnalysis, Payload: benchOfferPayload(jobID)})
		if err != nil {
			b.Fatal(err)
		}
		return out.(OfferAnalysisResult)
	}
	report := func(b *testing.B, res OfferAnalysisResult) {
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/job")
		b.ReportMetric(float64(res.CandidatesFound), "candidates")
		b.ReportMetric(float64(res.MatchesCreated), "matches")
	}
	b.Run("again", func(b *testing.B) {
		pgExec(b, c, `INSERT INTO jobs (id, title) VALUES ($1, 'Platform engineer')`, jobGo)
		analyze(b, jobGo) // the matches are stored once, before timing
		var res OfferAnalysisResult
		b.ResetTimer()
		for b.Loop() {
			res = analyze(b, jobGo)
		}
		report(b, res)
	})
	b.Run("new", func(b *testing.B) {
		var res OfferAnalysisResult
		for i := range b.N {
			b.StopTimer()
			id := fmt.Sprintf("10000000-0000-4000-8000-%012d", 1000+i)
			pgExec(b, c, `INSERT INTO jobs (id, title) VALUES ($1, 'Platform engineer') ON CONFLICT DO NOTHING`, id)
			pgExec(b, c, `DELETE FROM job_matches WHERE job_id = $1`, id)
			b.StartTimer()
			res = analyze(b, id)
		}
		report(b, res)
	})
}

// BenchmarkPostgresCandidateMatching times matching one candidate against
// 10,000 analysed job offers requiring 2–6 random skills of 40 (among
// 100,000 candidates). The target is under 50 ms per candidate.
func BenchmarkPostgresCandidateMatching(b *testing.B) {
	dbURL := migratedDatabase(b)
	c := connect(b, dbURL)
	insertBenchCandidates(b, c, 100000)
	insertBenchOffers(b, c, 10000)
	pg, err := OpenPostgres(dbURL, 4)
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close()
	p := &Processor{Store: pg, Log: testLogger(), MinMatchScore: 40, Timezone: time.UTC, Now: time.Now}
	match := func(b *testing.B, id string) CandidateMatchResult {
		payload := fmt.Appendf(nil, `{"candidateId":%q}`, id)
		out, err := p.MatchCandidate(context.Background(), Job{Queue: QueueCandidateMatch, Payload: payload})
		if err != nil {
			b.Fatal(err)
		}
		return out.(CandidateMatchResult)
	}
	// Candidates with five skills, so that each finds a typical share of
	// the offers.
	const insertCandidate = `
INSERT INTO candidates (id, skills, experience_level, location)
VALUES ($1, '{golang,PostgreSQL,Docker,React,Python}', 'Senior', 'Paris, France')
ON CONFLICT DO NOTHING`
	report := func(b *testing.B, res CandidateMatchResult) {
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/candidate")
		b.ReportMetric(float64(res.OffersFound), "offers")
		b.ReportMetric(float64(res.MatchesCreated), "matches")
	}
	b.Run("again", func(b *testing.B) {
		const id = "c0000000-0000-4000-8000-000000000001"
		pgExec(b, c, insertCandidate, id)
		match(b, id)
		var res CandidateMatchResult
		b.ResetTimer()
		for b.Loop() {
			res = match(b, id)
		}
		report(b, res)
	})
	b.Run("new", func(b *testing.B) {
		var res CandidateMatchResult
		for i := range b.N {
			b.StopTimer()
			id := fmt.Sprintf("c0000000-0000-4000-8000-%012d", 1000+i)
			pgExec(b, c, `DELETE FROM candidates WHERE id = $1`, id)
			pgExec(b, c, insertCandidate, id)
			b.StartTimer()
			res = match(b, id)
		}
		report(b, res)
	})
}
