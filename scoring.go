package main

// Pure matching rules: the score of a candidate against a job, out of 100,
// from their skills, experience levels and locations. Skills are read
// through the dictionary (skills.go), levels by levels.go, candidates once
// by ParseCandidate (profiles.go). Nothing here performs I/O; all of it but
// a Matcher, which caches as it goes, is safe for concurrent use.

import (
	"cmp"
	"encoding/binary"
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
//     canonicalised first and compared ignoring case;
//   - level: 20 if the job names no known level or the candidate's level is
//     the same, 15 if it is one above, 10 one below, otherwise 0;
//   - location: 10 if the job is remote, has no location or is in the
//     candidate's city (the first comma-separated part, ignoring case and
//     accents), 5 if only the candidate is remote, otherwise 0.
func MatchScore(job OfferProfile, c CandidateProfile) (int, []string) {
	p := ParseCandidate("", c)
	return NewMatcher(job).ScoreParsed(&p)
}

// Matcher is MatchScore for many candidates of one job, read once by
// ParseCandidate: scoring one costs a few map lookups. A Matcher is not
// safe for concurrent use.
type Matcher struct {
	skills   []string       // the job's skills, canonical and sorted
	keyAt    map[string]int // skill key → index in skills of the first skill with that key
	keys     []string       // the skill key of each of skills
	level    int            // the job's level; 0 when it names no known level
	city     string         // cityKey of the job's location
	anywhere bool           // the job is remote or has no location
	has      []bool         // scratch: which job skills the candidate has
	// names holds each set of shared skills met, by which of the job's
	// skills they are (a bit each), when the job has at most 64 skills:
	// tens of thousands of matches share a few sets.
	names map[uint64][]string
}

// NewMatcher prepares to score candidates against job.
func NewMatcher(job OfferProfile) *Matcher {
	skills := CanonicalSkills(job.Skills) // a no-op for well-formed profiles
	keys := make([]string, len(skills))
	keyAt := make(map[string]int, len(skills))
	for i, s := range skills {
		keys[i] = skillKey(s)
		if _, ok := keyAt[keys[i]]; !ok {
			keyAt[keys[i]] = i
		}
	}
	level, _ := ParseLevel(job.Level)
	city := cityKey(job.Location)
	return &Matcher{
		skills:   skills,
		keyAt:    keyAt,
		keys:     keys,
		level:    level,
		city:     city,
		anywhere: city == "" || remoteLocations[city],
		has:      make([]bool, len(skills)),
	}
}

// ScoreParsed is MatchScore(job, c) for the Matcher's job.
func (m *Matcher) ScoreParsed(c *ParsedCandidate) (int, []string) {
	clear(m.has)
	shared := 0
	for _, k := range c.Skills {
		if i, ok := m.keyAt[k]; ok && !m.has[i] {
			m.has[i] = true
			shared++
		}
	}
	if shared == 0 {
		return 0, nil
	}
	return matchTotal(len(m.skills), shared, levelPoints(m.level, c.Level), m.placePoints(c.City == m.city, c.Remote)), m.sharedNames(shared)
}

// skillNumbers maps the numbers a store gave skill keys to the job's
// skills: numbers[i] is the number of the key of the job's i-th skill, 0
// when the store has none (no candidate has that skill). For
// scoreProfile.
func (m *Matcher) skillNumbers(numbers []uint32) map[uint32]int {
	at := make(map[uint32]int, len(numbers))
	for i, n := range numbers {
		if n != 0 && m.keyAt[m.keys[i]] == i {
			at[n] = i
		}
	}
	return at
}

// scoreProfile is ScoreParsed for a profile kept by appendProfile, read
// where it lies; at maps its skill numbers to the job's skills (see
// skillNumbers). It returns the rest of b.
func (m *Matcher) scoreProfile(b []byte, at map[uint32]int) (int, []string, []byte, error) {
	if len(b) < 2 {
		return 0, nil, nil, errBadProfile
	}
	level, remote := int(b[0]), b[1] == 1
	n, size := binary.Uvarint(b[2:])
	if size <= 0 || n > uint64(len(b)-2-size) {
		return 0, nil, nil, errBadProfile
	}
	city := b[2+size : 2+size+int(n)]
	b = b[2+size+int(n):]
	count, size := binary.Uvarint(b)
	if size <= 0 {
		return 0, nil, nil, errBadProfile
	}
	b = b[size:]
	clear(m.has)
	shared := 0
	for range count {
		number, size := binary.Uvarint(b)
		if size <= 0 {
			return 0, nil, nil, errBadProfile
		}
		b = b[size:]
		if i, ok := at[uint32(number)]; ok && !m.has[i] {
			m.has[i] = true
			shared++
		}
	}
	if shared == 0 {
		return 0, nil, b, nil
	}
	points := matchTotal(len(m.skills), shared, levelPoints(m.level, level), m.placePoints(string(city) == m.city, remote))
	return points, m.sharedNames(shared), b, nil
}

// matchTotal is MatchScore's sum for a job of n skills, shared of them
// the candidate's, and the level and location points.
func matchTotal(n, shared, level, location int) int {
	// Work in units of 1/n point so that rounding is exact.
	return roundHalfUp(maxSkillPoints*shared+n*(level+location), n)
}

// sharedNames lists the job's skills marked in m.has, in order.
func (m *Matcher) sharedNames(shared int) []string {
	if len(m.has) > 64 {
		return m.listShared(shared)
	}
	var set uint64
	for i, ok := range m.has {
		if ok {
			set |= 1 << i
		}
	}
	names, ok := m.names[set]
	if !ok {
		names = m.listShared(shared)
		if m.names == nil {
			m.names = make(map[uint64][]string)
		}
		m.names[set] = names
	}
	return names
}

func (m *Matcher) listShared(shared int) []string {
	names := make([]string, 0, shared)
	for i, ok := range m.has {
		if ok {
			names = append(names, m.skills[i])
		}
	}
	return names
}

func (m *Matcher) placePoints(sameCity, remote bool) int {
	return placePoints(m.anywhere, sameCity, remote)
}

// placePoints is the location part of MatchScore: anywhere says the job is
// remote or has no location, sameCity that the candidate is in its city,
// remote that the candidate is remote.
func placePoints(anywhere, sameCity, remote bool) int {
	switch {
	case anywhere || sameCity:
		return 10
	case remote:
		return 5
	}
	return 0
}

// levelPoints is the level part of MatchScore, for levels read by
// ParseLevel (0: none known).
func levelPoints(job, candidate int) int {
	switch {
	case job == 0 || candidate == job:
		return 20
	case candidate == 0:
		return 0
	case candidate == job+1:
		return 15
	case candidate == job-1:
		return 10
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

// OfferMatcher is MatchScore for one candidate against many job offers
// (candidate matching). Offers repeat a few skills, levels and places, so
// it reads each distinct one once. An OfferMatcher is not safe for
// concurrent use.
type OfferMatcher struct {
	c      ParsedCandidate
	has    map[string]bool // the candidate's skill keys
	skills map[string]offerSkill
	levels map[string]int    // raw level → ParseLevel
	cities map[string]string // raw location → cityKey
	list   []offerSkill      // scratch: one offer's skills
}

// offerSkill is a spelling of an offer's skill as MatchScore reads it.
type offerSkill struct {
	name  string // CanonicalSkill
	lower string // its lowercase form, which CanonicalSkills sorts and deduplicates by
	key   string // skillKey
}

// NewOfferMatcher prepares to score c against offers.
func NewOfferMatcher(c ParsedCandidate) *OfferMatcher {
	has := make(map[string]bool, len(c.Skills))
	for _, k := range c.Skills {
		has[k] = true
	}
	return &OfferMatcher{c: c, has: has, skills: map[string]offerSkill{}, levels: map[string]int{}, cities: map[string]string{}}
}

// Score is MatchScore(offer, c) for the OfferMatcher's candidate: the
// offer's skills read as CanonicalSkills reads them (canonical, blanks
// dropped, duplicates by lowercase form dropped, sorted as sortFold
// sorts), each of the candidate's skills counting for the first of them
// with its key.
func (o *OfferMatcher) Score(offer OfferProfile) (int, []string) {
	list := o.list[:0]
	for _, raw := range offer.Skills {
		s := o.skill(raw)
		if s.name != "" && !slices.ContainsFunc(list, func(t offerSkill) bool { return t.lower == s.lower }) {
			list = append(list, s)
		}
	}
	slices.SortFunc(list, func(a, b offerSkill) int {
		return cmp.Or(cmp.Compare(a.lower, b.lower), cmp.Compare(a.name, b.name))
	})
	o.list = list
	var names []string
	for i, s := range list {
		first := !slices.ContainsFunc(list[:i], func(t offerSkill) bool { return t.key == s.key })
		if first && o.has[s.key] {
			names = append(names, s.name)
		}
	}
	if names == nil {
		return 0, nil
	}
	city := remember(o.cities, offer.Location, cityKey)
	level := levelPoints(remember(o.levels, offer.Level, parsedLevel), o.c.Level)
	place := placePoints(city == "" || remoteLocations[city], o.c.City == city, o.c.Remote)
	return matchTotal(len(list), len(names), level, place), names
}

func (o *OfferMatcher) skill(raw string) offerSkill {
	s, ok := o.skills[raw]
	if !ok {
		name := CanonicalSkill(raw)
		s = offerSkill{name: name, lower: strings.ToLower(name), key: skillKey(name)}
		o.skills[raw] = s
	}
	return s
}

// parsedLevel is ParseLevel's level, 0 when none is known.
func parsedLevel(s string) int {
	level, _ := ParseLevel(s)
	return level
}

// remember returns seen[raw], reading raw with read the first time.
func remember[T any](seen map[string]T, raw string, read func(string) T) T {
	v, ok := seen[raw]
	if !ok {
		v = read(raw)
		seen[raw] = v
	}
	return v
}
