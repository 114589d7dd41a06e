package main

// Text helpers shared by the pure rules: skill extraction, levels and
// locations (scoring) and moderation all compare words that people type in
// many ways, so accent, apostrophe and separator folding, word boundaries,
// truncation for messages and the reading of the commented list files live
// here once. Pure functions, safe for concurrent use.

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ---- Folding ----

// accentFolds lists the Latin letters that canonical decomposition leaves
// whole, by their plain form; foldAccents removes the accents of the others.
var accentFolds = []struct{ plain, letters string }{
	{"ae", "æ"}, {"AE", "Æ"},
	{"d", "ðđ"}, {"D", "ÐĐ"},
	{"h", "ħ"}, {"H", "Ħ"},
	{"i", "ı"},
	{"ij", "ĳ"}, {"IJ", "Ĳ"},
	{"k", "ĸ"},
	{"l", "ŀł"}, {"L", "ĿŁ"},
	{"n", "ŉŋ"}, {"N", "Ŋ"},
	{"o", "ø"}, {"O", "Ø"},
	{"oe", "œ"}, {"OE", "Œ"},
	{"s", "ſ"},
	{"ss", "ß"},
	{"t", "ŧ"}, {"T", "Ŧ"},
	{"th", "þ"}, {"TH", "Þ"},
}

// accentReplacer applies accentFolds.
var accentReplacer = buildAccentReplacer()

func buildAccentReplacer() *strings.Replacer {
	var pairs []string
	for _, f := range accentFolds {
		for _, r := range f.letters {
			pairs = append(pairs, string(r), f.plain)
		}
	}
	return strings.NewReplacer(pairs...)
}

// foldAccents removes accents, keeping case: "Été à Montréal" → "Ete a
// Montreal", "Œuvre" → "OEuvre", "Łódź" → "Lodz". Combining marks go after
// canonical decomposition, which covers precomposed letters of every
// script and marks typed separately ("e\u0301"); the Latin letters that do
// not decompose are spelt out by accentFolds. Format characters (zero-width
// spaces and joiners, bidi controls, soft hyphens, byte order marks) go
// too: they are invisible and can hide inside a word.
func foldAccents(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, norm.NFD.String(s))
	return accentReplacer.Replace(norm.NFC.String(s))
}

// foldApostrophe reads the typographic apostrophes and the accents typed
// for one (’ ‘ ʼ ` ´) as a plain apostrophe.
func foldApostrophe(r rune) rune {
	switch r {
	case '’', 'ʼ', '‘', '`', '´':
		return '\''
	}
	return r
}

// separatorAsSpace reads hyphens and underscores as spaces.
func separatorAsSpace(r rune) rune {
	if r == '-' || r == '_' {
		return ' '
	}
	return r
}

// looseKey folds case and accents, reads hyphens and underscores as spaces
// and typographic apostrophes as plain ones, and collapses whitespace, so that
// "Saint-Étienne" equals "saint etienne" and "l’argent" equals "l'argent".
func looseKey(s string) string {
	s = strings.Map(func(r rune) rune { return separatorAsSpace(foldApostrophe(r)) }, foldAccents(s))
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// ---- Words ----

// occurrences yields the byte offset of every occurrence of sub in s,
// overlapping ones included.
func occurrences(s, sub string) iter.Seq[int] {
	return func(yield func(int) bool) {
		if sub == "" {
			return
		}
		for i := 0; ; {
			k := strings.Index(s[i:], sub)
			if k < 0 || !yield(i+k) {
				return
			}
			i += k + 1
		}
	}
}

// containsWord reports whether phrase occurs in text with no letter or digit
// glued to either end.
func containsWord(text, phrase string) bool {
	for i := range occurrences(text, phrase) {
		if !isWordRune(runeBefore(text, i)) && !isWordRune(runeAt(text, i+len(phrase))) {
			return true
		}
	}
	return false
}

// noRune stands for the missing neighbour at either edge of a text.
const noRune rune = -1

// runeBefore returns the rune ending at byte offset i of s, or noRune at the start.
func runeBefore(s string, i int) rune {
	if i <= 0 {
		return noRune
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return r
}

// runeAt returns the rune starting at byte offset i of s, or noRune at the end.
func runeAt(s string, i int) rune {
	if i >= len(s) {
		return noRune
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

// isWordRune reports whether r can be part of a word.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// ---- Messages and list files ----

// truncate cuts s to at most n bytes, backing off to the start of the rune
// the cut falls in, and marks the cut with "…"; s fits whole when it can.
// Replies and reasons quote outside input with it, so that a long value
// neither bloats them nor ends in half a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// listLines calls each with every line of a list file (word lists, the
// skill dictionary), trimmed, skipping blank lines and # comments. An error
// from each is prefixed with the line's number; one from reading names what
// was read.
func listLines(r io.Reader, what string, each func(line string) error) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := each(line); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}
