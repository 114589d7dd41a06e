package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// referenceScore is MatchScore as it was before candidates were read once
// (ParseCandidate) and kept as profiles: every raw spelling, level and
// location read again for each job, skills compared with strings.EqualFold.
// The matching paths are tested against it.
func referenceScore(job OfferProfile, c CandidateProfile) (int, []string) {
	skills := CanonicalSkills(job.Skills)
	has := make([]bool, len(skills))
	shared := 0
	for _, raw := range c.Skills {
		skill := CanonicalSkill(raw)
		i := slices.IndexFunc(skills, func(s string) bool { return strings.EqualFold(s, skill) })
		if i >= 0 && !has[i] {
			has[i] = true
			shared++
		}
	}
	if shared == 0 {
		return 0, nil
	}
	names := make([]string, 0, shared)
	for i, ok := range has {
		if ok {
			names = append(names, skills[i])
		}
	}
	n := len(skills)
	total := maxSkillPoints*shared + n*(referenceLevelPoints(job.Level, c.Level)+referenceLocationPoints(job.Location, c.Location))
	return roundHalfUp(total, n), names
}

func referenceLevelPoints(jobLevel, candidateLevel string) int {
	job, ok := ParseLevel(jobLevel)
	if !ok {
		return 20
	}
	candidate, ok := ParseLevel(candidateLevel)
	switch {
	case !ok:
		return 0
	case candidate == job:
		return 20
	case candidate == job+1:
		return 15
	case candidate == job-1:
		return 10
	}
	return 0
}

func referenceLocationPoints(jobLocation, candidateLocation string) int {
	job, candidate := cityKey(jobLocation), cityKey(candidateLocation)
	switch {
	case job == "" || remoteLocations[job] || job == candidate:
		return 10
	case remoteLocations[candidate]:
		return 5
	}
	return 0
}

// profileGen draws random job offers and candidates the way people write
// them: dictionary names and aliases in any casing and spacing, skills the
// dictionary does not know, letters whose case folding is unusual, levels
// and places in English and French with or without accents, blanks.
type profileGen struct {
	rng       *rand.Rand
	spellings []string
}

func newProfileGen(seed uint64) *profileGen {
	g := &profileGen{rng: rand.New(rand.NewPCG(seed, 7))}
	for name, aliases := range builtinSkills().aliases {
		g.spellings = append(g.spellings, name)
		g.spellings = append(g.spellings, aliases...)
	}
	slices.Sort(g.spellings)
	g.spellings = append(g.spellings, "Rustacean", "rustacean", "FooBar", "foobar", "ſpark", "\u212Aafka", "STRAßE", "strasse",
		"σίγμα", "ΣΊΓΜΑ", "", "   ", "Go\u00a0Lang", "g o", "İstanbul", "istanbul", "\xff\xfe", "C#", "c#", ".NET")
	return g
}

var (
	genLevels = []string{"Junior", "junior", "JR.", "Mid", "mid-level", "Confirmé", "CONFIRMEE", "Senior", "Sénior",
		"Expérimenté", "Lead", "Tech Lead", "Principal", "Junior/Débutant", "Mid/Senior", "Stagiaire", "", "  ", "lead dev"}
	genPlaces = []string{"Paris, France", "paris", " PARIS ", "Lyon", "Lyon, France", "Saint-Étienne", "saint etienne",
		"Remote", "remote", "Full Remote", "Télétravail", "À distance", "Anywhere", "Berlin, Germany", "", "Montréal, QC", "montreal"}
)

func (g *profileGen) spelling() string {
	s := g.spellings[g.rng.IntN(len(g.spellings))]
	switch g.rng.IntN(6) {
	case 0:
		return strings.ToUpper(s)
	case 1:
		return strings.ToLower(s)
	case 2:
		return capitalise(s)
	case 3:
		return "  " + s + " "
	}
	return s
}

func (g *profileGen) skills(most int) []string {
	out := make([]string, g.rng.IntN(most+1))
	for i := range out {
		out[i] = g.spelling()
	}
	return out
}

func (g *profileGen) offer() OfferProfile {
	return OfferProfile{Skills: g.skills(8), Level: genLevels[g.rng.IntN(len(genLevels))], Location: genPlaces[g.rng.IntN(len(genPlaces))]}
}

func (g *profileGen) candidate() CandidateProfile {
	return CandidateProfile{Skills: g.skills(10), Level: genLevels[g.rng.IntN(len(genLevels))], Location: genPlaces[g.rng.IntN(len(genPlaces))]}
}

// pgCandidate is a candidate Postgres can hold: its text is valid UTF-8,
// invalid bytes read as U+FFFD, as strings.EqualFold reads them.
func (g *profileGen) pgCandidate() CandidateProfile {
	c := g.candidate()
	skills := make([]string, len(c.Skills))
	for i, s := range c.Skills {
		skills[i] = strings.ToValidUTF8(s, "\uFFFD")
	}
	return CandidateProfile{Skills: skills, Level: c.Level, Location: c.Location}
}

// skillKey equals for two skills exactly when strings.EqualFold does, for
// every rune and its case-folding orbit, and for random strings of runes
// whose folding is unusual.
func TestSkillKeyIsEqualFold(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if skillKey(string(r)) != skillKey(string(f)) {
				t.Fatalf("%U and %U fold together but have keys %q and %q", r, f, skillKey(string(r)), skillKey(string(f)))
			}
		}
	}
	pool := []string{"k", "K", "\u212A", "s", "S", "ſ", "σ", "ς", "Σ", "i", "I", "İ", "ı", "ß", "ẞ", "a", "\xff", "\ufffd", "é", "É", "Go"}
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(3) {
			b.WriteString(pool[rng.IntN(len(pool))])
		}
		return b.String()
	}
	for range 200000 {
		a, b := word(), word()
		if (skillKey(a) == skillKey(b)) != strings.EqualFold(a, b) {
			t.Fatalf("%q and %q: keys %q and %q, EqualFold %v", a, b, skillKey(a), skillKey(b), strings.EqualFold(a, b))
		}
	}
}

// testNumbers numbers skill keys as a store would, from 1 on.
type testNumbers map[string]uint32

func (n testNumbers) of(keys []string) []uint32 {
	out := make([]uint32, len(keys))
	for i, k := range keys {
		if n[k] == 0 {
			n[k] = uint32(len(n) + 1)
		}
		out[i] = n[k]
	}
	return out
}

// scoreKept scores c with m the way the Postgres store does: kept as a
// profile of numbered skills, read where it lies.
func scoreKept(t *testing.T, m *Matcher, numbers testNumbers, c ParsedCandidate) (int, []string) {
	t.Helper()
	profile := appendProfile(nil, c, numbers.of(c.Skills))
	jobNumbers := make([]uint32, len(m.keys))
	for i, k := range m.keys {
		jobNumbers[i] = numbers[k] // 0 when no candidate has the key
	}
	score, shared, rest, err := m.scoreProfile(profile, m.skillNumbers(jobNumbers))
	if err != nil || len(rest) != 0 {
		t.Fatalf("scoreProfile: %v, %d bytes left", err, len(rest))
	}
	return score, shared
}

// Every matching path scores as referenceScore does, over many random
// offers and candidates: a candidate read once (MatchScore), the same
// candidate kept as a profile and scored where it lies (the Postgres
// path), and one candidate against many offers (candidate matching).
func TestMatchingAgreesWithTodaysRule(t *testing.T) {
	g := newProfileGen(3)
	numbers := testNumbers{}
	var reader CandidateReader
	for round := range 2000 {
		job := g.offer()
		m := NewMatcher(job)
		for range 50 {
			c := g.candidate()
			want, wantShared := referenceScore(job, c)
			check := func(path string, got int, shared []string) {
				t.Helper()
				if got != want || !slices.Equal(shared, wantShared) || (shared == nil) != (wantShared == nil) {
					t.Fatalf("round %d, %s: job %q, candidate %q: (%d, %q), want (%d, %q)", round, path, job, c, got, shared, want, wantShared)
				}
			}
			got, shared := MatchScore(job, c)
			check("MatchScore", got, shared)
			parsed := ParseCandidate("c", c)
			got, shared = m.ScoreParsed(&parsed)
			check("Matcher.ScoreParsed", got, shared)
			read := reader.Read("c", c)
			got, shared = m.ScoreParsed(&read)
			check("CandidateReader", got, shared)
			got, shared = scoreKept(t, m, numbers, parsed)
			check("Matcher.scoreProfile", got, shared)
			got, shared = NewOfferMatcher(parsed).Score(job)
			check("OfferMatcher.Score", got, shared)
		}
	}
}

// A job with more skills than the Matcher keeps sets of for (64) scores as
// the reference does.
func TestMatcherWithManySkills(t *testing.T) {
	var skills []string
	for i := range 70 {
		skills = append(skills, fmt.Sprintf("Skill %d", i))
	}
	job := OfferProfile{Skills: skills}
	m := NewMatcher(job)
	c := CandidateProfile{Skills: []string{"skill 3", "SKILL 69", "Skill 40", "Go"}}
	want, wantShared := referenceScore(job, c)
	parsed := ParseCandidate("c", c)
	if got, shared := m.ScoreParsed(&parsed); got != want || !slices.Equal(shared, wantShared) {
		t.Errorf("(%d, %q), want (%d, %q)", got, shared, want, wantShared)
	}
}

// A profile that ends early is an error, never a panic.
func TestScoreProfileRejectsTruncatedProfiles(t *testing.T) {
	m := NewMatcher(OfferProfile{Skills: []string{"Go"}})
	full := appendProfile(nil, ParseCandidate("c", CandidateProfile{Skills: []string{"golang", "Rust"}, Location: "Paris"}), []uint32{300, 1})
	for n := range len(full) {
		if _, _, _, err := m.scoreProfile(full[:n], map[uint32]int{300: 0}); err == nil {
			t.Errorf("a profile cut to %d of %d bytes read without error", n, len(full))
		}
	}
}

// insertRandomCandidates adds n candidates drawn by g, with ids from first
// on, and returns their ids.
func insertRandomCandidates(t testing.TB, c *pgx.Conn, g *profileGen, first, n int) []string {
	t.Helper()
	type row struct {
		ID       string   `json:"id"`
		Skills   []string `json:"skills"`
		Level    string   `json:"level"`
		Location string   `json:"location"`
	}
	rows := make([]row, n)
	ids := make([]string, n)
	for i := range rows {
		p := g.pgCandidate()
		ids[i] = fmt.Sprintf("c0000000-0000-4000-8000-%012d", first+i)
		rows[i] = row{ids[i], nonNil(p.Skills), p.Level, p.Location}
	}
	pgExec(t, c, `
INSERT INTO candidates (id, skills, experience_level, location)
SELECT (r->>'id')::uuid, ARRAY(SELECT jsonb_array_elements_text(r->'skills')), nullif(r->>'level', ''), nullif(r->>'location', '')
FROM jsonb_array_elements($1::jsonb) AS r`, jsonText(rows))
	return ids
}

// allCandidates reads every candidate raw.
func allCandidates(t testing.TB, c *pgx.Conn) []Candidate {
	t.Helper()
	rows, err := c.Query(context.Background(), `
SELECT id::text, coalesce(skills, '{}'), coalesce(experience_level, ''), coalesce(location, '') FROM candidates`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Candidate, error) {
		var c Candidate
		err := r.Scan(&c.ID, &c.Skills, &c.Level, &c.Location)
		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storedMatches reads job_matches as "candidate job score skills" lines,
// sorted, for the rows query selects.
func storedMatches(t testing.TB, c *pgx.Conn, where string, args ...any) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), `
SELECT candidate_id::text || ' ' || job_id::text || ' ' || match_score || ' ' || array_to_string(matched_skills, '|')
FROM job_matches WHERE `+where, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func matchLine(candidate, job string, score int, skills []string) string {
	return fmt.Sprintf("%s %s %d %s", candidate, job, score, strings.Join(skills, "|"))
}

// diffLines describes how got differs from want, "" when it does not.
func diffLines(got, want []string) string {
	var b strings.Builder
	for _, l := range want {
		if _, found := slices.BinarySearch(got, l); !found {
			fmt.Fprintf(&b, "\n  missing %s", l)
		}
	}
	for _, l := range got {
		if _, found := slices.BinarySearch(want, l); !found {
			fmt.Fprintf(&b, "\n  unexpected %s", l)
		}
	}
	return b.String()
}

// Job analysis in Postgres stores exactly the matches referenceScore gives
// over every candidate, for random candidates and offers; then again after
// candidates were changed, deleted and added, and with profiles left by a
// hookd whose rules differ.
func TestPostgresJobAnalysisAgreesWithTheRule(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	g := newProfileGen(11)
	ids := insertRandomCandidates(t, c, g, 1, 3000)
	pg, err := OpenPostgres(dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	p := &Processor{Store: pg, Log: testLogger(), MinMatchScore: 30, Timezone: time.UTC, Now: time.Now}
	jobs := make([]OfferTask, 12)
	for i := range jobs {
		o := g.offer()
		jobs[i] = OfferTask{JobID: fmt.Sprintf("10000000-0000-4000-8000-%012d", i+1), Title: "Job", RequiredSkills: o.Skills,
			ExperienceLevel: o.Level, Location: o.Location}
		pgExec(t, c, `INSERT INTO jobs (id, title) VALUES ($1, 'Job')`, jobs[i].JobID)
	}
	check := func(when string) {
		t.Helper()
		candidates := allCandidates(t, c)
		for _, job := range jobs {
			payload, _ := json.Marshal(job)
			out, err := p.AnalyzeOffer(context.Background(), Job{Queue: QueueJobAnalysis, Payload: payload})
			if err != nil {
				t.Fatalf("%s: analyse %s: %v", when, job.JobID, err)
			}
			offer := OfferProfile{Skills: CanonicalSkills(job.RequiredSkills), Level: job.ExperienceLevel, Location: job.Location}
			var want []string
			found := 0
			for _, cand := range candidates {
				score, shared := referenceScore(offer, CandidateProfile{Skills: cand.Skills, Level: cand.Level, Location: cand.Location})
				if shared != nil {
					found++
				}
				if shared != nil && score >= p.MinMatchScore {
					want = append(want, matchLine(cand.ID, job.JobID, score, shared))
				}
			}
			slices.Sort(want)
			if got := storedMatches(t, c, `job_id = $1`, job.JobID); !slices.Equal(got, want) {
				t.Fatalf("%s: job %s (%q): %d matches stored, want %d:%s", when, job.JobID, offer, len(got), len(want), diffLines(got, want))
			}
			if res := out.(OfferAnalysisResult); res.CandidatesFound != found || res.MatchesCreated != len(want) {
				t.Errorf("%s: job %s: result %+v, want %d found, %d created", when, job.JobID, res, found, len(want))
			}
			if n := pgInt(t, c, `SELECT candidates_count FROM jobs WHERE id = $1`, job.JobID); n != len(want) {
				t.Errorf("%s: job %s: candidates_count %d, want %d", when, job.JobID, n, len(want))
			}
		}
	}
	check("first analysis")

	for i, id := range ids[:300] {
		cand := g.pgCandidate()
		pgExec(t, c, `UPDATE candidates SET skills = $2, experience_level = $3, location = $4 WHERE id = $1`,
			id, nonNil(cand.Skills), cand.Level, cand.Location)
		if i%3 == 0 { // the same candidate changed twice before it is read
			pgExec(t, c, `UPDATE candidates SET location = 'Remote' WHERE id = $1`, id)
		}
	}
	pgExec(t, c, `DELETE FROM candidates WHERE id = ANY($1::uuid[])`, ids[300:400])
	insertRandomCandidates(t, c, g, 5000, 200)
	pgExec(t, c, `UPDATE hookd.candidate_profiles SET rules = rules + 1 WHERE candidate_id = ANY($1::uuid[])`, ids[1000:1200])
	check("after changes")
	if n := pgInt(t, c, `SELECT count(*) FROM hookd.candidate_profiles WHERE rules <> $1`, matchRules); n != 0 {
		t.Errorf("%d profiles still read by other rules after a second analysis", n)
	}
	if n := pgInt(t, c, `SELECT count(*) FROM candidates c LEFT JOIN hookd.candidate_profiles p ON p.candidate_id = c.id WHERE p IS NULL`); n != 0 {
		t.Errorf("%d candidates without a profile", n)
	}
}

// Profiles read while the app keeps writing candidates, by two hookd at
// once, end up exactly what the rules read from every candidate as it is.
func TestPostgresProfilesStayCurrentUnderConcurrentWrites(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	g := newProfileGen(5)
	ids := insertRandomCandidates(t, c, g, 1, 20) // few, so that each changes often
	var stores [4]*PostgresStore
	for i := range stores {
		pg, err := OpenPostgres(dbURL, 3)
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		stores[i] = pg
	}
	// The app's two writers connect here: connect fails the test with
	// t.Fatal, which must run on the test's goroutine.
	apps := [2]*pgx.Conn{connect(t, dbURL), connect(t, dbURL)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w, app := range apps {
		wg.Go(func() {
			gen := newProfileGen(uint64(100 + w))
			for i := 0; ctx.Err() == nil; i++ {
				cand := gen.pgCandidate()
				id := ids[gen.rng.IntN(len(ids))]
				if _, err := app.Exec(context.Background(), `UPDATE candidates SET skills = $2, experience_level = $3, location = $4 WHERE id = $1`,
					id, nonNil(cand.Skills), cand.Level, cand.Location); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for _, pg := range stores {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := pg.refreshProfiles(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := stores[0].refreshProfiles(context.Background()); err != nil {
		t.Fatal(err)
	}
	numbers := skillNumbersIn(t, c)
	rows, err := c.Query(context.Background(), `
SELECT c.id::text, coalesce(c.skills, '{}'), coalesce(c.experience_level, ''), coalesce(c.location, ''), p.profile, p.skill_mask
FROM candidates c LEFT JOIN hookd.candidate_profiles p ON p.candidate_id = c.id`)
	if err != nil {
		t.Fatal(err)
	}
	var cand Candidate
	var profile []byte
	var mask *int64
	stale := 0
	_, err = pgx.ForEachRow(rows, []any{&cand.ID, &cand.Skills, &cand.Level, &cand.Location, &profile, &mask}, func() error {
		parsed := ParseCandidate(cand.ID, CandidateProfile{Skills: cand.Skills, Level: cand.Level, Location: cand.Location})
		ns := numbers.of(parsed.Skills)
		if !slices.Equal(profile, appendProfile(nil, parsed, ns)) || mask == nil || *mask != skillMask(ns) {
			stale++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if stale > 0 {
		t.Errorf("%d of %d profiles do not read their candidate as it is", stale, len(ids))
	}
}

// Candidate matching in Postgres stores exactly the matches referenceScore
// gives against every analysed offer sharing one of the candidate's
// canonical skills, for random candidates and offers, and keeps every
// job's candidates_count equal to its rows, as candidates change.
func TestPostgresCandidateMatchingAgreesWithTheRule(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	g := newProfileGen(17)
	type offer struct {
		ID       string   `json:"id"`
		Skills   []string `json:"skills"`
		Level    string   `json:"level"`
		Location string   `json:"location"`
	}
	offers := make([]offer, 400)
	for i := range offers {
		o := g.offer()
		o.Skills = g.pgCandidate().Skills
		offers[i] = offer{fmt.Sprintf("10000000-0000-4000-8000-%012d", i+1), nonNil(CanonicalSkills(o.Skills)), o.Level, o.Location}
	}
	pgExec(t, c, `
INSERT INTO jobs (id, title, experience_level, location, analysis_completed, analyzed_at, extracted_skills)
SELECT (o->>'id')::uuid, 'Offer', nullif(o->>'level', ''), nullif(o->>'location', ''), true, now() - interval '1 hour',
       ARRAY(SELECT jsonb_array_elements_text(o->'skills'))
FROM jsonb_array_elements($1::jsonb) AS o`, jsonText(offers))
	ids := insertRandomCandidates(t, c, g, 1, 150)
	pg, err := OpenPostgres(dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	p := &Processor{Store: pg, Log: testLogger(), MinMatchScore: 30, Timezone: time.UTC, Now: time.Now}
	check := func(when string) {
		t.Helper()
		for _, cand := range allCandidates(t, c) {
			if _, err := p.MatchCandidate(context.Background(), Job{Queue: QueueCandidateMatch, Payload: fmt.Appendf(nil, `{"candidateId":%q}`, cand.ID)}); err != nil {
				t.Fatalf("%s: match %s: %v", when, cand.ID, err)
			}
			canonical := CanonicalSkills(cand.Skills)
			var want []string
			for _, o := range offers {
				if !slices.ContainsFunc(o.Skills, func(s string) bool { return slices.Contains(canonical, s) }) {
					continue
				}
				score, shared := referenceScore(OfferProfile{Skills: o.Skills, Level: o.Level, Location: o.Location},
					CandidateProfile{Skills: cand.Skills, Level: cand.Level, Location: cand.Location})
				if shared != nil && score >= p.MinMatchScore {
					want = append(want, matchLine(cand.ID, o.ID, score, shared))
				}
			}
			slices.Sort(want)
			if got := storedMatches(t, c, `candidate_id = $1`, cand.ID); !slices.Equal(got, want) {
				t.Fatalf("%s: candidate %s: %d matches stored, want %d:%s", when, cand.ID, len(got), len(want), diffLines(got, want))
			}
		}
		if n := pgInt(t, c, `
SELECT count(*) FROM jobs j
WHERE j.candidates_count <> (SELECT count(*) FROM job_matches m WHERE m.job_id = j.id)`); n != 0 {
			t.Errorf("%s: %d jobs whose candidates_count is not their number of matches", when, n)
		}
	}
	check("first matching")
	for _, id := range ids[:60] {
		cand := g.pgCandidate()
		pgExec(t, c, `UPDATE candidates SET skills = $2, experience_level = $3, location = $4 WHERE id = $1`,
			id, nonNil(cand.Skills), cand.Level, cand.Location)
	}
	check("after changes")
}

// A profile read from an older change never replaces one read from a
// newer change, whatever order their writes come in.
func TestPostgresOlderProfileNeverReplacesNewer(t *testing.T) {
	dbURL := migratedDatabase(t)
	c := connect(t, dbURL)
	const id = "c0000000-0000-4000-8000-000000000001"
	pgExec(t, c, `INSERT INTO candidates (id, skills, location) VALUES ($1, '{Go}', 'Paris')`, id)
	pg, err := OpenPostgres(dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	first := int64(pgInt(t, c, `SELECT max(id) FROM hookd.candidate_changes`))
	pgExec(t, c, `UPDATE candidates SET skills = '{Rust}' WHERE id = $1`, id)
	if err := pg.refreshProfiles(context.Background()); err != nil {
		t.Fatal(err)
	}
	var stale profileRows
	stale.add(ParseCandidate(id, CandidateProfile{Skills: []string{"Go"}, Location: "Paris"}), first, skillNumbersIn(t, c))
	pgExec(t, c, upsertProfilesPG, stale.ids, stale.versions, stale.masks, stale.profiles, matchRules)
	var profile []byte
	if err := c.QueryRow(context.Background(), `SELECT profile FROM hookd.candidate_profiles WHERE candidate_id = $1`, id).Scan(&profile); err != nil {
		t.Fatal(err)
	}
	numbers := skillNumbersIn(t, c)
	want := appendProfile(nil, ParseCandidate(id, CandidateProfile{Skills: []string{"Rust"}, Location: "Paris"}), numbers.of([]string{"RUST"}))
	if !slices.Equal(profile, want) {
		t.Errorf("the profile read from change %d replaced the newer one", first)
	}
}

// skillNumbersIn reads the numbers the database gave skill keys.
func skillNumbersIn(t testing.TB, c *pgx.Conn) testNumbers {
	t.Helper()
	rows, err := c.Query(context.Background(), `SELECT key, id FROM hookd.skill_keys`)
	if err != nil {
		t.Fatal(err)
	}
	numbers := testNumbers{}
	var key string
	var n uint32
	if _, err := pgx.ForEachRow(rows, []any{&key, &n}, func() error { numbers[key] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	return numbers
}

// A candidate matched while a job's analysis is being saved: the analysis
// took its time before the matching read the offers but committed after,
// so the matching neither saw the offer nor its rows. The analysis's row
// for the candidate must survive the matching's save, in both stores.
func TestCandidateMatchingLeavesRowsItDidNotSee(t *testing.T) {
	check := func(t *testing.T, store Store, jobID, candidateID string) {
		ctx := context.Background()
		task := CandidateTask{CandidateID: candidateID, Row: &CandidateRow{Skills: []string{"golang"}, Level: "Senior", Location: "Paris"}}
		cand, err := store.FindCandidate(ctx, task)
		if err != nil {
			t.Fatal(err)
		}
		offers, held, err := store.FindOffers(ctx, cand.ID, CanonicalSkills(cand.Skills))
		if err != nil || len(offers) != 0 || len(held) != 0 {
			t.Fatalf("before the analysis: offers %v, held %v, %v", offers, held, err)
		}
		readAt := time.Now()
		analysis := &Processor{Store: store, Log: testLogger(), MinMatchScore: 40, Timezone: time.UTC,
			Now: func() time.Time { return readAt.Add(-time.Second) }}
		payload := fmt.Appendf(nil, `{"jobId":%q,"title":"Go developer","requiredSkills":["Go"],"location":"Paris"}`, jobID)
		if _, err := analysis.AnalyzeOffer(ctx, Job{Queue: QueueJobAnalysis, Payload: payload}); err != nil {
			t.Fatal(err)
		}
		err = store.SaveCandidateMatches(ctx, CandidateMatches{CandidateID: cand.ID, At: time.Now(), ReadAt: readAt, Held: held})
		if err != nil {
			t.Fatal(err)
		}
		_, held, err = store.FindOffers(ctx, cand.ID, nil)
		if err != nil || !slices.Equal(held, []string{jobID}) {
			t.Errorf("after the matching: the candidate's matches are on %v (%v), want the analysis's row on %s", held, err, jobID)
		}
	}
	t.Run("embedded", func(t *testing.T) {
		db, err := OpenDB(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		check(t, OpenSQLiteStore(db), "job-1", "c-1")
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL := migratedDatabase(t)
		c := connect(t, dbURL)
		const cand = "c0000000-0000-4000-8000-000000000001"
		pgExec(t, c, `INSERT INTO jobs (id, title) VALUES ($1, 'Go developer')`, jobGo)
		pgExec(t, c, `INSERT INTO candidates (id, skills, experience_level, location) VALUES ($1, '{golang}', 'Senior', 'Paris')`, cand)
		pg, err := OpenPostgres(dbURL, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		check(t, pg, jobGo, cand)
	})
}

// appendUUID reads a uuid's textual form as Postgres does, and refuses
// anything else.
func TestAppendUUID(t *testing.T) {
	got, err := appendUUID(nil, "c0ffee00-0000-4000-8aBC-0123456789Ef")
	want := []byte{0, 0, 0, 16, 0xc0, 0xff, 0xee, 0, 0, 0, 0x40, 0, 0x8a, 0xbc, 1, 0x23, 0x45, 0x67, 0x89, 0xef}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("appendUUID = %x, %v, want %x", got, err, want)
	}
	for _, bad := range []string{"", "c0ffee00-0000-4000-8abc-0123456789e", "c0ffee00-0000-4000-8abc-0123456789eg",
		"c0ffee00x0000-4000-8abc-0123456789ef", "c0ffee0000000-4000-8abc-0123456789ef"} {
		if _, err := appendUUID(nil, bad); err == nil {
			t.Errorf("appendUUID(%q) read a uuid", bad)
		}
	}
	if s := formatUUID(want[4:]); s != "c0ffee00-0000-4000-8abc-0123456789ef" {
		t.Errorf("formatUUID = %q", s)
	}
}
