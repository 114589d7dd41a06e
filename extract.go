package main

// Skill extraction from free text such as a job's title and description:
// finding the dictionary's spellings (skills.go) on word boundaries, with
// stricter rules for spellings that are everyday words. Pure and safe for
// concurrent use.

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// everydayWords are dictionary spellings, written here as they appear in a
// technical text, that are also ordinary English or French words ("rest",
// "spring", "vite", "tableau", "vue", "go"). ExtractSkills counts them only
// when written exactly so and not opening a sentence; the unambiguous
// spellings of the same skills ("Spring Boot", "golang", "Vue.js") match
// freely. Single letters ("C", "R") must moreover stand between spaces or list
// punctuation, which rules out "R&D", "C-level" and "C'est".
var everydayWords = []string{
	"Go", "C", "R", "REST", "Express", "Spring", "Spark", "Rails", "Bash",
	"Helm", "Unity", "SAP", "Node",
	"Vite",    // French "vite", quickly
	"Tableau", // French "tableau", table
	"Vue",     // French "vue", view
}

// wordContext lists the words that, right before or after a spelling in free
// text, show that it means something else.
type wordContext struct{ before, after []string }

// misleadingContexts holds the wordContext of dictionary spellings, as written
// there: "Let's Go", "Go to" and "go-to" are no language, "Apache Kafka" is
// Kafka rather than the web server, "React Native" is not React.
var misleadingContexts = map[string]wordContext{
	"Go":     {before: []string{"let's ", "let’s ", "lets "}, after: []string{" to", " ahead", "-to"}},
	"Apache": {after: []string{" kafka", " spark", " airflow", " cassandra", " hadoop", " flink", " maven"}},
	"React":  {after: []string{" native"}},
}

// rulesOut reports whether the words around s[start:end] are misleading.
func (c wordContext) rulesOut(s string, start, end int) bool {
	return slices.ContainsFunc(c.before, func(w string) bool { return wordPrecedes(s, start, w) }) ||
		slices.ContainsFunc(c.after, func(w string) bool { return wordFollows(s, end, w) })
}

// listOnlyAliases are spellings accepted in skill lists but too ambiguous to
// look for in free text ("a nest of…", "py", "dl").
var listOnlyAliases = map[string]bool{
	"nest":   true,
	"py":     true,
	"rn":     true,
	"wp":     true,
	"dl":     true,
	"torch":  true,
	"unreal": true,
}

// ExtractSkills returns the canonical dictionary skills mentioned in free text
// such as a job title or description, sorted case-insensitively.
//
// Spellings match case-insensitively on word boundaries, where a dot glued to
// a letter counts as part of the word: "Java" is not found in "JavaScript",
// "js" not in "Node.js", and ".NET" not in "ASP.NET" — "ASP.NET Core" yields
// ASP.NET alone. Spellings that are everyday words follow the stricter rules
// of everydayWords and misleadingContexts: "C" is not found in "C++", and "Go"
// is the language in "We use Go" but not in "Let's go", "Go to our site" or
// "a go-to tool". A title that opens with "Go" ("Go developer") is not counted
// either, while "golang" always is.
func ExtractSkills(text string) []string {
	lower := strings.ToLower(text)
	found := make(map[string]bool)
	for _, m := range textMatchers() {
		haystack := lower
		if m.exactCase {
			haystack = text
		}
		if !found[m.skill] && m.foundIn(haystack) {
			found[m.skill] = true
		}
	}
	names := slices.Collect(maps.Keys(found))
	sortFold(names)
	return names
}

// textMatcher looks for one spelling of a skill in free text.
type textMatcher struct {
	skill     string
	spelling  string      // lowercase, unless exactCase
	exactCase bool        // an everyday word: see everydayWords
	context   wordContext // see misleadingContexts
}

// textMatchers returns a matcher per dictionary spelling that may appear in
// free text, built once.
var textMatchers = sync.OnceValue(func() []textMatcher {
	var matchers []textMatcher
	for name, aliases := range builtinSkills().aliases {
		for _, spelling := range append([]string{name}, aliases...) {
			if !listOnlyAliases[spelling] {
				matchers = append(matchers, newTextMatcher(name, spelling))
			}
		}
	}
	return matchers
})

// newTextMatcher returns the matcher for one dictionary spelling of skill.
func newTextMatcher(skill, spelling string) textMatcher {
	m := textMatcher{skill: skill, spelling: strings.ToLower(spelling), context: misleadingContexts[spelling]}
	if i := slices.IndexFunc(everydayWords, func(w string) bool { return strings.EqualFold(w, spelling) }); i >= 0 {
		m.spelling, m.exactCase = everydayWords[i], true
	}
	return m
}

// foundIn reports whether the spelling occurs in s as a skill mention.
func (m textMatcher) foundIn(s string) bool {
	for start := range occurrences(s, m.spelling) {
		if m.mentionAt(s, start, start+len(m.spelling)) {
			return true
		}
	}
	return false
}

// mentionAt reports whether the occurrence s[start:end] names the skill.
func (m textMatcher) mentionAt(s string, start, end int) bool {
	if !skillBoundaryBefore(s, start) || !skillBoundaryAfter(s, end) || m.context.rulesOut(s, start, end) {
		return false
	}
	if !m.exactCase {
		return true
	}
	if len(m.spelling) == 1 && !(standsAlone(runeBefore(s, start)) && standsAlone(runeAt(s, end))) {
		return false
	}
	return !opensSentence(s, start)
}

// skillBoundaryBefore reports whether a skill name may start at s[i]: no word
// character before it, nor a dot glued to one ("js" in "node.js").
func skillBoundaryBefore(s string, i int) bool {
	r := runeBefore(s, i)
	if r == '.' {
		r = runeBefore(s, i-1)
	}
	return !isWordRune(r)
}

// skillBoundaryAfter reports whether a skill name may end at s[i]: no word
// character after it, nor a dot glued to one ("vue" in "vue.js").
func skillBoundaryAfter(s string, i int) bool {
	r := runeAt(s, i)
	if r == '.' {
		r = runeAt(s, i+1)
	}
	return !isWordRune(r)
}

// wordPrecedes reports whether word w ends right at s[i], case-insensitively,
// rather than closing a longer word ("lets " vs "outlets ").
func wordPrecedes(s string, i int, w string) bool {
	start := i - len(w)
	return start >= 0 && strings.EqualFold(s[start:i], w) && !isWordRune(runeBefore(s, start))
}

// wordFollows reports whether s continues at i with word w, case-insensitively,
// and w ends there rather than opening a longer word (" to" vs " today").
func wordFollows(s string, i int, w string) bool {
	end := i + len(w)
	return end <= len(s) && strings.EqualFold(s[i:end], w) && !isWordRune(runeAt(s, end))
}

// standsAlone reports whether r may border a single-letter skill name: text
// edge, space or list punctuation.
func standsAlone(r rune) bool {
	return r == noRune || unicode.IsSpace(r) || strings.ContainsRune(",;/().", r)
}

// opensSentence reports whether s[i] is the first word of the text or of a
// sentence.
func opensSentence(s string, i int) bool {
	before := strings.TrimRightFunc(s[:i], unicode.IsSpace)
	last, _ := utf8.DecodeLastRuneInString(before)
	return before == "" || strings.ContainsRune(".!?", last)
}
