package main

// Candidate profiles: a candidate read once by the matching rules. Scoring
// reads a candidate's skills through the dictionary, its level through
// levels.go and its location through cityKey; a ParsedCandidate holds the
// outcome, so that scoring it against a job (Matcher.ScoreParsed) costs a
// few map lookups, and so that a store can keep it and hand it back
// without the raw text (see profilestore.go). Pure and safe for
// concurrent use.

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParsedCandidate is a candidate as the matching rules read it: the parts
// of MatchScore that depend on the candidate alone.
type ParsedCandidate struct {
	ID     string
	Skills []string // the skill keys of its canonical skills, sorted, without duplicates
	Level  int      // ParseLevel of its experience level; 0 when unknown
	City   string   // cityKey of its location
	Remote bool     // City names remote work
}

// ParseCandidate reads a candidate with the matching rules.
func ParseCandidate(id string, c CandidateProfile) ParsedCandidate {
	return parseCandidateWith(id, c, readSkillKey, parsedLevel, cityKey)
}

// CandidateReader is ParseCandidate for many candidates: they repeat a
// few spellings, levels and places, so it reads each distinct one once.
// Not safe for concurrent use.
type CandidateReader struct {
	keys   map[string]string // raw spelling → skill key, "" for a blank one
	levels map[string]int
	cities map[string]string
}

// Read is ParseCandidate(id, c).
func (r *CandidateReader) Read(id string, c CandidateProfile) ParsedCandidate {
	if r.keys == nil {
		r.keys, r.levels, r.cities = map[string]string{}, map[string]int{}, map[string]string{}
	}
	return parseCandidateWith(id, c,
		func(raw string) string { return remember(r.keys, raw, readSkillKey) },
		func(raw string) int { return remember(r.levels, raw, parsedLevel) },
		func(raw string) string { return remember(r.cities, raw, cityKey) })
}

func parseCandidateWith(id string, c CandidateProfile, key func(string) string, level func(string) int, city func(string) string) ParsedCandidate {
	keys := make([]string, 0, len(c.Skills))
	for _, raw := range c.Skills {
		if k := key(raw); k != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	place := city(c.Location)
	return ParsedCandidate{ID: id, Skills: slices.Compact(keys), Level: level(c.Level), City: place, Remote: remoteLocations[place]}
}

// readSkillKey is the skill key of a raw spelling, "" for a blank one.
func readSkillKey(raw string) string {
	if skill := CanonicalSkill(raw); skill != "" {
		return skillKey(skill)
	}
	return ""
}

// skillKey is what MatchScore compares canonical skills by. Two skills are
// the same skill when strings.EqualFold says so: rune by rune, each in the
// other's case-folding orbit ('k', 'K' and the Kelvin sign; 's', 'S' and
// 'ſ'). So the key replaces every rune by the smallest of its orbit, and
// two skills have the same key exactly when EqualFold holds. Invalid UTF-8
// reads as U+FFFD, as EqualFold reads it.
func skillKey(skill string) string {
	var b strings.Builder
	b.Grow(len(skill))
	for _, r := range skill {
		b.WriteRune(smallestFold(r))
	}
	return b.String()
}

// smallestFold is the smallest rune of r's case-folding orbit.
func smallestFold(r rune) rune {
	if r < 0x80 { // ASCII: the orbit is the letter's two cases at most
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}

// skillMask is a 64-bit summary of a candidate's or a job's skills, given
// by the numbers a store gave their keys: bit (number % 64) of each. A
// candidate can share a skill with a job only if their masks share a bit,
// so the mask filters candidates in the database before the exact
// comparison; while a store has numbered at most 64 skills, it is exact.
func skillMask(numbers []uint32) int64 {
	var m uint64
	for _, n := range numbers {
		m |= 1 << (n % 64)
	}
	return int64(m)
}

// A profile is kept as bytes: the level and the remote flag (one byte
// each); the city, preceded by its length as a uvarint; the number of
// skills as a uvarint, then the number the store gave each skill key, a
// uvarint each. The candidate's id is kept beside it, so that a profile
// holds only what the rules read. Matcher.scoreProfile reads it.

// appendProfile appends c's profile, without its id, to dst; numbers[i]
// is the number of c.Skills[i].
func appendProfile(dst []byte, c ParsedCandidate, numbers []uint32) []byte {
	remote := byte(0)
	if c.Remote {
		remote = 1
	}
	dst = append(dst, byte(c.Level), remote)
	dst = binary.AppendUvarint(dst, uint64(len(c.City)))
	dst = append(dst, c.City...)
	dst = binary.AppendUvarint(dst, uint64(len(numbers)))
	for _, n := range numbers {
		dst = binary.AppendUvarint(dst, uint64(n))
	}
	return dst
}

var errBadProfile = errors.New("malformed candidate profile")

// matchRules fingerprints the rules a profile is read by, and the form it
// is kept in, so that a profile kept by a hookd whose rules differ
// (another skill dictionary, another reading of levels or places, another
// layout of the bytes) is read again rather than trusted. It covers the
// rules' data (the dictionary, the level names, the remote place names)
// and, for the code, its answers on probes: the profiles, as kept, of
// every spelling the data holds in three casings and of text that
// exercises case folding, accents and spacing.
var matchRules = func() int64 {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", builtinSkillFile)
	var probes []string
	for name, aliases := range builtinSkills().aliases {
		probes = append(probes, name)
		probes = append(probes, aliases...)
	}
	for level := range levelAliases {
		probes = append(probes, level)
	}
	for place := range remoteLocations {
		probes = append(probes, place)
	}
	probes = append(probes, "  Go  Lang ", "Kubernetes", "ſpark", "Σ", "Expérimenté", "Confirmée", "Jeune-Diplômé",
		"Mid/Senior", "Junior/Débutant", "Télétravail complet", "À distance", "Paris, France", " paris ", "Saint-Étienne, France")
	slices.Sort(probes)
	for _, p := range probes {
		for _, s := range []string{p, strings.ToUpper(p), capitalise(p)} {
			c := ParseCandidate("", CandidateProfile{Skills: []string{s, "Go", "Rust"}, Level: s, Location: s})
			numbers := make([]uint32, len(c.Skills))
			for i := range numbers {
				numbers[i] = uint32(200 + i)
			}
			fmt.Fprintf(h, "%q %q %x\n", s, c.Skills, appendProfile(nil, c, numbers))
		}
	}
	return int64(binary.BigEndian.Uint64(h.Sum(nil)))
}()

// capitalise writes each word of s with a capital initial.
func capitalise(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		r, size := utf8.DecodeRuneInString(w)
		words[i] = string(unicode.ToUpper(r)) + w[size:]
	}
	return strings.Join(words, " ")
}
