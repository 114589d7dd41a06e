package main

// Pure matching rules: the score of a candidate against a job, out of 100,
// from their skills, experience levels and locations. Skills are read
// through the dictionary (skills.go), levels by levels.go. Nothing here
// performs I/O; all of it but a Matcher, which caches as it goes, is safe
// for concurrent use.

import (
	"slices"
	"strings"
)

// OfferProfile is what MatchScore needs to know about a job offer.
type OfferProfile struct {
	Skills   []string // canonical, deduplicated (output of CanonicalSkills)
	Level    string   // raw experience level, may be blank
	Location string   // raw, e.g. "Paris, France", "Remote", ""
}

// CandidateProfile is what MatchScore needs to know about a candidate.
type CandidateProfile struct {
	Skills   []string // raw, any spelling
	Level    string
	Location string
}

// maxSkillPoints is the skill part of a score when the candidate has every
// skill of the job.
const maxSkillPoints = 70

// remoteLocations are the location names, in looseKey form, meaning remote work.
var remoteLocations = map[string]bool{
	"remote":              true,
	"full remote":         true,
	"fully remote":        true,
	"100% remote":         true,
	"remote only":         true,
	"anywhere":            true,
	"teletravail":         true,
	"full teletravail":    true,
	"100% teletravail":    true,
	"teletravail complet": true,
	"en teletravail":      true,
	"a distance":          true,
}

// MatchScore scores a candidate against a job out of 100 and returns the
// job's skills the candidate has (canonical names, sorted). A candidate
// sharing no skill gets (0, nil).
//
// The score is the sum, rounded half up, of three parts:
//   - skills: 70 × shared skills / job skills, the candidate's skills being
//     canonicalised first;
//   - level: 20 if the job names no known level or the candidate's level is
//     the same, 15 if it is one above, 10 one below, otherwise 0;
//   - location: 10 if the job is remote, has no location or is in the
//     candidate's city (the first comma-separated part, ignoring case and
//     accents), 5 if only the candidate is remote, otherwise 0.
func MatchScore(job OfferProfile, c CandidateProfile) (int, []string) {
	return NewMatcher(job).Score(c)
}

// Matcher is MatchScore for many candidates of one job. It remembers the
// reading of every distinct skill spelling, level and location it meets:
// candidates repeat the same few, so scoring tens of thousands of them
// costs little more than a few map lookups each. A Matcher is not safe for
// concurrent use.
type Matcher struct {
	job       OfferProfile
	skills    []string       // the job's skills, canonical and sorted
	skillAt   map[string]int // raw spelling → index in skills, -1 if not a job skill
	levels    map[string]int // raw level → level points
	locations map[string]int // raw location → location points
	has       []bool         // scratch: which job skills the candidate has
}

// NewMatcher prepares to score candidates against job.
func NewMatcher(job OfferProfile) *Matcher {
	skills := CanonicalSkills(job.Skills) // a no-op for well-formed profiles
	return &Matcher{
		job:       job,
		skills:    skills,
		skillAt:   make(map[string]int),
		levels:    make(map[string]int),
		locations: make(map[string]int),
		has:       make([]bool, len(skills)),
	}
}

// Score is MatchScore(job, c) for the Matcher's job.
func (m *Matcher) Score(c CandidateProfile) (int, []string) {
	clear(m.has)
	shared := 0
	for _, raw := range c.Skills {
		if i := remember(m.skillAt, raw, m.jobSkillIndex); i >= 0 && !m.has[i] {
			m.has[i] = true
			shared++
		}
	}
	if shared == 0 {
		return 0, nil
	}
	names := make([]string, 0, shared)
	for i, ok := range m.has {
		if ok {
			names = append(names, m.skills[i])
		}
	}
	// Work in units of 1/len(skills) point so that rounding is exact.
	n := len(m.skills)
	level := remember(m.levels, c.Level, m.levelPoints)
	location := remember(m.locations, c.Location, m.locationPoints)
	total := maxSkillPoints*shared + n*(level+location)
	return roundHalfUp(total, n), names
}

// remember returns seen[raw], reading raw with read the first time it comes.
func remember(seen map[string]int, raw string, read func(string) int) int {
	v, ok := seen[raw]
	if !ok {
		v = read(raw)
		seen[raw] = v
	}
	return v
}

// jobSkillIndex returns the index in m.skills of the skill raw spells, -1
// when it is not one of the job's.
func (m *Matcher) jobSkillIndex(raw string) int {
	skill := CanonicalSkill(raw)
	return slices.IndexFunc(m.skills, func(s string) bool { return strings.EqualFold(s, skill) })
}

func (m *Matcher) levelPoints(raw string) int { return levelPoints(m.job.Level, raw) }

func (m *Matcher) locationPoints(raw string) int { return locationPoints(m.job.Location, raw) }

// levelPoints is the level part of MatchScore.
func levelPoints(jobLevel, candidateLevel string) int {
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

// locationPoints is the location part of MatchScore.
func locationPoints(jobLocation, candidateLocation string) int {
	job, candidate := cityKey(jobLocation), cityKey(candidateLocation)
	switch {
	case job == "" || remoteLocations[job] || job == candidate:
		return 10
	case remoteLocations[candidate]:
		return 5
	}
	return 0
}

// cityKey returns the comparable city of a location: its first
// comma-separated part in looseKey form ("Paris, France" → "paris").
func cityKey(location string) string {
	city, _, _ := strings.Cut(location, ",")
	return looseKey(city)
}

// roundHalfUp returns num/den rounded half up, for non-negative num and
// positive den.
func roundHalfUp(num, den int) int {
	return (2*num + den) / (2 * den)
}
