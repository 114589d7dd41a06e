package main

// Text normalisation for moderation: the forms spam and hate terms are
// matched in, so that evasions written to slip past a word list ("FR€€
// M0NEY", "f r e e  m o n e y", "ｆｒｅｅ", "fr\u200bee", "frée") read as the
// plain phrase. Pure functions, safe for concurrent use.

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// leetLetters maps the characters that stand in for letters in leetspeak.
// '1' is read as 'i' here; NormalizedForms also tries 'l'.
var leetLetters = map[rune]rune{
	'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's',
}

// confusables maps Cyrillic and Greek letters that look like Latin ones
// (after case folding) to those Latin letters: "frее" with Cyrillic е's
// reads "free".
var confusables = map[rune]rune{
	'а': 'a', 'е': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'х': 'x', 'у': 'y',
	'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'һ': 'h', 'ӏ': 'l', 'ԛ': 'q', 'ԝ': 'w',
	'α': 'a', 'ε': 'e', 'ο': 'o', 'ρ': 'p', 'ι': 'i', 'κ': 'k', 'ν': 'v',
	'τ': 't', 'υ': 'u', 'χ': 'x',
}

// spacedSeparators may stand between the letters of a word spelt out one
// at a time: "f r e e", "m.o.n.e.y", "c-l-i-c-k".
const spacedSeparators = " .-_*·•|/"

// minSpacedRun is the fewest letters spelt out that count as a run; "a b"
// is ordinary text.
const minSpacedRun = 3

// NormalizeText returns the form of s that moderation phrases are matched
// in: NFKC, case folded, accents and other combining marks removed, zero-width
// and bidi controls (every Unicode format character) stripped, Cyrillic and
// Greek lookalikes read as Latin, letters spelt out with separators joined,
// leetspeak read as letters inside words that hold a letter (so "fr33" is
// "free" but "100%" and "3000" stay numbers), hyphens and underscores read as
// spaces, typographic apostrophes as plain ones, whitespace collapsed.
func NormalizeText(s string) string {
	return normalizeWith(s, 'i')
}

// NormalizedForms returns the forms of s to match phrases in: NormalizeText's
// and, when s holds a '1' inside a word, the one reading that '1' as 'l'
// ("c1ick" is "click", "f1ee" is "flee" as well as "fiee").
func NormalizedForms(s string) []string {
	first := normalizeWith(s, 'i')
	if !strings.ContainsRune(s, '1') {
		return []string{first}
	}
	if second := normalizeWith(s, 'l'); second != first {
		return []string{first, second}
	}
	return []string{first}
}

// normalizeWith normalises s reading a leetspeak '1' as one.
func normalizeWith(s string, one rune) string {
	s = strings.Map(foldRune, foldAccents(unicodeFold(s)))
	s = joinSpacedRuns(s)
	s = readLeetspeak(s, one)
	return strings.Join(strings.Fields(strings.Map(separatorAsSpace, s)), " ")
}

// unicodeFold applies NFKC and case folding; invalid UTF-8 reads as
// U+FFFD. A fresh caser is made per call: casers are not safe to share
// between goroutines.
func unicodeFold(s string) string {
	return cases.Fold().String(norm.NFKC.String(strings.ToValidUTF8(s, "\uFFFD")))
}

// foldRune reads typographic apostrophes as plain ones and lookalike
// letters as Latin.
func foldRune(r rune) rune {
	r = foldApostrophe(r)
	if latin, ok := confusables[r]; ok {
		return latin
	}
	return r
}

// joinSpacedRuns removes the separators of letters spelt out one at a time
// ("f r e e" → "free"). Each letter (or leetspeak digit or symbol) must
// stand alone with one separator before the next, so two separators in a
// row end a run ("f r e e  m o n e y" → "free money") and "ab c d" is left
// as it is; a run needs a letter, so "1 2 3" stays too. Three letters make
// a run, or two each followed by a dot ("v.a." → "va").
func joinSpacedRuns(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i := 0; i < len(rs); {
		end := spacedRunEnd(rs, i)
		if end == i {
			b.WriteRune(rs[i])
			i++
			continue
		}
		for k := i; k < end; k += 2 {
			b.WriteRune(rs[k])
		}
		i = end
	}
	return b.String()
}

// spacedRunEnd returns the end of the spelt-out run starting at rs[i], or
// i when none starts there.
func spacedRunEnd(rs []rune, i int) int {
	if !isSpacedElement(rs, i) || (i > 0 && isSpacedRune(rs[i-1])) {
		return i
	}
	end, letters, hasLetter := i+1, 1, unicode.IsLetter(rs[i])
	for end+1 < len(rs) && strings.ContainsRune(spacedSeparators, rs[end]) && isSpacedElement(rs, end+1) {
		hasLetter = hasLetter || unicode.IsLetter(rs[end+1])
		end += 2
		letters++
	}
	switch {
	case !hasLetter:
		return i
	case letters < minSpacedRun && isDottedPair(rs, i, end, letters):
		return end + 1
	case letters < minSpacedRun:
		return i
	}
	return end
}

// isDottedPair reports whether the two letters rs[i:end] are written with a
// dot after each, "v.a." as in "v.a. t.e. p.e.n.d.r.e": joined with their
// dots, as no phrase is lost by reading "e.g." as "eg".
func isDottedPair(rs []rune, i, end, letters int) bool {
	return letters == 2 && rs[i+1] == '.' && end < len(rs) && rs[end] == '.' &&
		(end+1 == len(rs) || !isSpacedRune(rs[end+1]))
}

// isSpacedElement reports whether rs[i] is a letter, digit or leetspeak
// symbol standing alone: the next rune is not one.
func isSpacedElement(rs []rune, i int) bool {
	return i < len(rs) && isSpacedRune(rs[i]) && (i+1 == len(rs) || !isSpacedRune(rs[i+1]))
}

// isSpacedRune reports whether r can be spelt out: a letter, a digit, '@' or '$'.
func isSpacedRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '@' || r == '$'
}

// readLeetspeak replaces leetspeak characters by letters in every word that
// holds at least one letter. A word is a run of letters, digits and the
// leetspeak symbols.
func readLeetspeak(s string, one rune) string {
	words := strings.FieldsFunc(s, func(r rune) bool { return !isLeetWordRune(r) })
	if len(words) == 0 {
		return s
	}
	var b strings.Builder
	rest := s
	for _, w := range words {
		i := strings.Index(rest, w)
		b.WriteString(rest[:i])
		b.WriteString(leetWord(w, one))
		rest = rest[i+len(w):]
	}
	b.WriteString(rest)
	return b.String()
}

// isLeetWordRune reports whether r can be part of a leetspeak word.
func isLeetWordRune(r rune) bool {
	_, leet := leetLetters[r]
	return leet || isWordRune(r)
}

// leetWord reads w's leetspeak characters as letters when w holds a letter.
func leetWord(w string, one rune) string {
	if !strings.ContainsFunc(w, unicode.IsLetter) {
		return w
	}
	return strings.Map(func(r rune) rune {
		if r == '1' {
			return one
		}
		if l, ok := leetLetters[r]; ok {
			return l
		}
		return r
	}, w)
}

// squeezeRuns cuts every run of three or more of the same letter in w to
// keep letters: a word stretched for emphasis or to slip past a list
// ("diiiiie", "crevvvvver") reads as the word with keep 1, and a stretched
// double letter ("freeee") with keep 2.
func squeezeRuns(w string, keep int) string {
	rs := []rune(w)
	out := rs[:0:0]
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j] == rs[i] {
			j++
		}
		n := j - i
		if n >= 3 && unicode.IsLetter(rs[i]) {
			n = keep
		}
		for range n {
			out = append(out, rs[i])
		}
		i = j
	}
	return string(out)
}

// hasStretchedLetter reports whether the normalised word w holds a letter
// three times in a row: a run squeezeRuns cuts.
func hasStretchedLetter(w string) bool { return longestRun(w, unicode.IsLetter, false) >= 3 }

// maskedEqual reports whether the masked word w ("f*ck", "m*rder") reads as
// word: as many letters, each asterisk standing for any one letter, the
// others equal, and at least one letter not masked.
func maskedEqual(w, word string) bool {
	wr, pr := []rune(w), []rune(word)
	if len(wr) != len(pr) || strings.Count(w, "*") == len(wr) {
		return false
	}
	for i, r := range wr {
		if r != '*' && r != pr[i] {
			return false
		}
	}
	return true
}
