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
	"hash/fnv"
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
	keys := make([]string, 0, len(c.Skills))
	for _, raw := range c.Skills {
		if skill := CanonicalSkill(raw); skill != "" {
			keys = append(keys, skillKey(skill))
		}
	}
	slices.Sort(keys)
	level, _ := ParseLevel(c.Level)
	city := cityKey(c.Location)
	return ParsedCandidate{ID: id, Skills: slices.Compact(keys), Level: level, City: city, Remote: remoteLocations[city]}
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

// keyHash is a skill key's 32-bit FNV-1a hash: kept with each key of a
// profile, so that scoring finds the job's skills among a candidate's by
// number, and compares the text only when the numbers agree.
func keyHash(key string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32()
}

// skillMask is a 64-bit summary of skill keys: one bit per key, chosen by
// its hash. A candidate can share a skill with a job only if their masks
// share a bit, so the mask filters candidates in the database before the
// exact comparison.
func skillMask(keys []string) int64 {
	var m uint64
	for _, k := range keys {
		m |= 1 << (keyHash(k) % 64)
	}
	return int64(m)
}

// A profile is kept as bytes: the level and the remote flag (one byte
// each); the city, preceded by its length as a uvarint; the number of
// skill keys as a uvarint, then each key as its keyHash (4 bytes, little
// endian), its length (uvarint) and its text. The candidate's id is kept
// beside it, so that a profile holds only what the rules read.
// Matcher.scoreProfile reads it.

// appendProfile appends c's profile, without its id, to dst.
func appendProfile(dst []byte, c ParsedCandidate) []byte {
	remote := byte(0)
	if c.Remote {
		remote = 1
	}
	dst = append(dst, byte(c.Level), remote)
	dst = appendString(dst, c.City)
	dst = binary.AppendUvarint(dst, uint64(len(c.Skills)))
	for _, k := range c.Skills {
		dst = binary.LittleEndian.AppendUint32(dst, keyHash(k))
		dst = appendString(dst, k)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

var errBadProfile = errors.New("malformed candidate profile")

// nextString splits a string appended by appendString off the start of b.
func nextString(b []byte) (s, rest []byte, err error) {
	n, size := binary.Uvarint(b)
	if size <= 0 || n > uint64(len(b)-size) {
		return nil, nil, errBadProfile
	}
	end := size + int(n)
	return b[size:end], b[end:], nil
}

// matchRules fingerprints the rules a profile is read by, so that a
// profile kept by a hookd whose rules differ (another skill dictionary,
// another reading of levels or places) is read again rather than trusted.
// It covers the rules' data (the dictionary, the level names, the remote
// place names) and, for the code that reads them, its answers on probes:
// every spelling the data holds, in three casings, and text that exercises
// case folding, accents and spacing.
var matchRules = func() int64 {
	h := sha256.New()
	fmt.Fprintf(h, "profile format 1\n%s\n", builtinSkillFile)
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
			c := ParseCandidate("", CandidateProfile{Skills: []string{s}, Level: s, Location: s})
			fmt.Fprintf(h, "%q %q %d %q %v\n", s, c.Skills, c.Level, c.City, c.Remote)
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
