package main

// Rules over words: who a post targets and how (threats, hate, harassment),
// and the shapes of scams. A rule is a short sequence of word classes ("you
// are", up to three words, an insult); the classes are data (wordlists/
// abuse_*.txt, scam_*.txt), the sequences are code. Words mean nothing
// alone: "kill" is a threat after "I'll" and before "you", and nothing in
// "killer CV tips". Pure; a classIndex is read-only once built, so it is
// safe for concurrent use.

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ---- Word classes ----

// ParseClassList reads a word-class list: "<class> <phrase>" per line, the
// class one the rules use.
func ParseClassList(r io.Reader) (map[string][]string, error) {
	out := map[string][]string{}
	err := wordListLines(r, func(class, phrase string) error {
		if !slices.Contains(ruleClasses(), class) {
			return fmt.Errorf("class %q: no rule uses it", class)
		}
		out[class] = append(out[class], phrase)
		return nil
	})
	return out, err
}

// classIndex finds the classes' phrases in a post's words.
type classIndex struct {
	ids     map[string]int          // name → class id, numbered from 0
	byFirst map[string][]classEntry // first word of a phrase → phrases
	lengths map[int]bool            // lengths of first words, for masked words
}

// classEntry is one phrase of a class, as words.
type classEntry struct {
	class int
	words []string
}

// newClassIndex indexes the phrases of classes, and the hate terms as the
// classes hateClass names. A phrase of several words each of two letters or
// more is also indexed glued ("kill yourself" as "killyourself"), which is
// how it reads once spelt out with single spaces or zero-width characters;
// "t es" is not, as "tes" is another word. Hate terms carry their glued
// form already.
func newClassIndex(classes map[string][]string, hate []HateTerm) *classIndex {
	ix := &classIndex{ids: map[string]int{}, byFirst: map[string][]classEntry{}, lengths: map[int]bool{}}
	for _, name := range ruleClasses() {
		ix.ids[name] = len(ix.ids)
	}
	for _, category := range hateCategories {
		ix.ids[hateClass(category)] = len(ix.ids)
	}
	for _, h := range hate {
		for _, key := range h.keys {
			ix.add(ix.ids[hateClass(h.Category)], phraseWords(key))
		}
	}
	for _, name := range ruleClasses() {
		for _, phrase := range classes[name] {
			words := phraseWords(NormalizeText(phrase))
			ix.add(ix.ids[name], words)
			if len(words) > 1 && !slices.ContainsFunc(words, func(w string) bool { return utf8.RuneCountInString(w) < 2 }) {
				ix.add(ix.ids[name], []string{strings.Join(words, "")})
			}
		}
	}
	return ix
}

// hateClass names the class of the hate terms of a category.
func hateClass(category string) string { return "hate " + category }

func (ix *classIndex) add(class int, words []string) {
	if len(words) == 0 {
		return
	}
	ix.byFirst[words[0]] = append(ix.byFirst[words[0]], classEntry{class, words})
	ix.lengths[utf8.RuneCountInString(words[0])] = true
}

// phraseWords splits a normalised phrase into words as the tokeniser does.
func phraseWords(s string) []string {
	var words []string
	for _, tok := range tokenize(s) {
		words = append(words, tok.word)
	}
	return words
}

// ---- Tokens ----

// token is one word of a normalised text, with the clause and sentence it
// belongs to. Commas, colons and semicolons end a clause; full stops,
// question and exclamation marks, emoji and pictographs end a sentence. A
// dot or comma between two letters or digits ends nothing ("wa.me",
// "4,800").
type token struct {
	word     string
	clause   int
	sentence int
	quoted   bool // inside quotation marks
}

// tokenize splits a normalised text into words: letters and digits, with
// an asterisk inside a word kept as a masked letter ("f*ck"). Apostrophes
// and other marks separate words; "=" is a word of its own, read as "is"
// ("muslims = terrorists").
func tokenize(s string) []token {
	toks := make([]token, 0, len(s)/5)
	var clause, sentence int
	var quote rune // the closing mark of the open quotation, or 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case isWordRune(r) || (r == '*' && isWordRune(runeAt(s, i+size))):
			j := i
			for j < len(s) {
				r, n := utf8.DecodeRuneInString(s[j:])
				if !isWordRune(r) && r != '*' {
					break
				}
				j += n
			}
			toks = append(toks, token{word: strings.TrimRight(s[i:j], "*"), clause: clause, sentence: sentence, quoted: quote != 0})
			i = j
			continue
		case r == '=':
			toks = append(toks, token{word: "is", clause: clause, sentence: sentence, quoted: quote != 0})
		case quote == 0 && isQuoteOpen(s, i, r):
			quote = closingQuote(r)
			clause++
		case quote != 0 && r == quote && (r != '\'' || !isWordRune(runeAt(s, i+size))):
			quote = 0
			clause++
		case (r == '.' || r == ',') && isWordRune(runeBefore(s, i)) && isWordRune(runeAt(s, i+size)):
			// inside a word: "wa.me", "t.me", "4,800"
		case r == ',' || r == ';' || r == ':' || r == '(' || r == ')':
			clause++
		case r == '.' || r == '!' || r == '?' || r == '…' || unicode.Is(unicode.So, r) || r == '\n':
			clause++
			sentence++
		}
		i += size
	}
	return toks
}

// isQuoteOpen reports whether r, at byte i of s, opens a quotation: « “ "
// always, an apostrophe when no letter precedes it and one follows ("'kill
// yourself'", not "you're"). An apostrophe closes one when no letter
// follows it.
func isQuoteOpen(s string, i int, r rune) bool {
	switch r {
	case '«', '“', '"':
		return true
	case '\'':
		return !isWordRune(runeBefore(s, i)) && isWordRune(runeAt(s, i+1))
	}
	return false
}

// closingQuote returns the mark that closes a quotation opened by r.
func closingQuote(r rune) rune {
	switch r {
	case '«':
		return '»'
	case '“':
		return '”'
	}
	return r
}

// ---- A post's words, with their classes ----

// hit is a phrase of a class found at a word, covering it and the words
// up to end, excluded.
type hit struct {
	class int
	end   int
}

// wordText is a text's words and the classes found at each.
type wordText struct {
	ix      *classIndex
	toks    []token
	hits    [][]hit // hits[i]: the phrases starting at word i
	present []bool  // present[class]: the class occurs somewhere
}

// newWordText finds the classes of ix in a normalised text. When the words
// outside quotation marks say that the post reports or quotes someone
// ("reported", "signalé", "said"), the quoted words are left out: the post
// of a victim quoting "go back to your country" is no attack.
func newWordText(ix *classIndex, normalized string) wordText {
	t := wordText{ix: ix, toks: tokenize(normalized)}
	t.findHits()
	if quotedReport(t) {
		t.toks = slices.DeleteFunc(t.toks, func(tok token) bool { return tok.quoted })
		t.findHits()
	}
	return t
}

// quotedReport reports whether t quotes words and, outside the quotes, says
// it reports them.
func quotedReport(t wordText) bool {
	if !slices.ContainsFunc(t.toks, func(tok token) bool { return tok.quoted }) {
		return false
	}
	reporting := t.ix.ids["reporting"]
	for i, hs := range t.hits {
		if !t.toks[i].quoted && slices.ContainsFunc(hs, func(h hit) bool { return h.class == reporting }) {
			return true
		}
	}
	return false
}

// findHits fills t.hits. A phrase of several words must lie in one clause;
// a word of digits (with a "k" for thousands) is a "number".
func (t *wordText) findHits() {
	t.hits = make([][]hit, len(t.toks))
	t.present = make([]bool, len(t.ix.ids))
	number := t.ix.ids["number"]
	for i, tok := range t.toks {
		if isNumberWord(tok.word) {
			t.hits[i] = append(t.hits[i], hit{number, i + 1})
			t.present[number] = true
		}
		for _, e := range t.ix.byFirst[tok.word] {
			t.addHit(i, e)
		}
		if hasStretchedLetter(tok.word) {
			for _, key := range stretchedKeys(tok.word) {
				for _, e := range t.ix.byFirst[key] {
					t.addHit(i, e)
				}
			}
		}
		if strings.ContainsRune(tok.word, '*') && t.ix.lengths[utf8.RuneCountInString(tok.word)] {
			for first, entries := range t.ix.byFirst {
				if maskedEqual(tok.word, first) {
					for _, e := range entries {
						t.addHit(i, e)
					}
				}
			}
		}
	}
}

// addHit records e at word i when all its words follow there.
func (t *wordText) addHit(i int, e classEntry) {
	end := i + len(e.words)
	if end > len(t.toks) || t.toks[end-1].clause != t.toks[i].clause {
		return
	}
	for k, w := range e.words[1:] {
		if !wordMatches(t.toks[i+1+k].word, w) {
			return
		}
	}
	if !slices.Contains(t.hits[i], hit{e.class, end}) {
		t.hits[i] = append(t.hits[i], hit{e.class, end})
		t.present[e.class] = true
	}
}

// isNumberWord reports whether w is digits, maybe followed by "k".
func isNumberWord(w string) bool {
	digits := strings.TrimSuffix(w, "k")
	return digits != "" && strings.Trim(digits, "0123456789") == ""
}

// stretchedKeys returns the other forms a word with stretched letters
// ("diiiie", "crevvvver") is looked up by: each run of three or more cut
// to one and to two letters.
func stretchedKeys(w string) []string {
	return []string{squeezeRuns(w, 1), squeezeRuns(w, 2)}
}

// wordMatches reports whether the text word w reads as the phrase word p.
func wordMatches(w, p string) bool {
	return w == p ||
		(hasStretchedLetter(w) && slices.Contains(stretchedKeys(w), p)) ||
		(strings.ContainsRune(w, '*') && maskedEqual(w, p))
}

// has reports whether class occurs anywhere in t.
func (t wordText) has(class string) bool { return t.present[t.ix.ids[class]] }

// mayMatch reports whether every class element of p has one of its classes
// somewhere in t: a cheap test that rules most patterns out.
func (t wordText) mayMatch(p pattern) bool {
	for _, e := range p.elems {
		if e.classes != nil && !slices.ContainsFunc(e.classes, func(c int) bool { return t.present[c] }) {
			return false
		}
	}
	return true
}

// ---- Patterns ----

// scope is how far a pattern's words may lie apart.
type scope int

const (
	inClause scope = iota
	inSentence
	inPost
)

// element is one step of a pattern.
type element struct {
	classes []int // the word(s) here are a phrase of one of these classes
	gap     int   // or: up to gap words of anything but a negation
	start   bool  // or: here a clause starts ("^")
	end     bool  // or: here a clause ends ("$")
}

// pattern is a sequence of elements, compiled from its notation: class
// names separated by spaces, "a|b" for either class, "~N" for up to N
// words, "^" and "$" for the start and the end of a clause.
type pattern struct {
	elems []element
	scope scope
}

// compilePattern compiles p for ix; an unknown class is a programming
// error, caught by the tests, and panics.
func compilePattern(ix *classIndex, p string, sc scope) pattern {
	out := pattern{scope: sc}
	for _, f := range strings.Fields(p) {
		var e element
		switch {
		case f == "^":
			e.start = true
		case f == "$":
			e.end = true
		case strings.HasPrefix(f, "~"):
			n, err := strconv.Atoi(f[1:])
			if err != nil {
				panic(fmt.Sprintf("pattern %q: bad gap %q", p, f))
			}
			e.gap = n
		default:
			for _, name := range strings.Split(f, "|") {
				id, ok := ix.ids[name]
				if !ok {
					panic(fmt.Sprintf("pattern %q: unknown class %q", p, name))
				}
				e.classes = append(e.classes, id)
			}
		}
		out.elems = append(out.elems, e)
	}
	return out
}

// matchFrom reports whether p.elems[k:] match from word pos, the match
// having started at word first.
func (t wordText) matchFrom(p pattern, k, pos, first int) bool {
	if k == len(p.elems) {
		return true
	}
	e := p.elems[k]
	switch {
	case e.start:
		return (pos == 0 || (pos < len(t.toks) && t.toks[pos-1].clause != t.toks[pos].clause)) && t.matchFrom(p, k+1, pos, first)
	case e.end:
		return pos > 0 && (pos == len(t.toks) || t.toks[pos].clause != t.toks[pos-1].clause) && t.matchFrom(p, k+1, pos, first)
	case e.classes == nil:
		for n := 0; n <= e.gap; n++ {
			if t.matchFrom(p, k+1, pos+n, first) {
				return true
			}
			if pos+n >= len(t.toks) || !t.inScope(p.scope, first, pos+n) || t.isNegation(pos+n) {
				return false
			}
		}
		return false
	}
	if pos >= len(t.toks) || !t.inScope(p.scope, first, pos) {
		return false
	}
	for _, h := range t.hits[pos] {
		if slices.Contains(e.classes, h.class) && t.inScope(p.scope, first, h.end-1) && t.matchFrom(p, k+1, h.end, first) {
			return true
		}
	}
	return false
}

// inScope reports whether word i lies in the same clause, sentence or
// post as word first.
func (t wordText) inScope(sc scope, first, i int) bool {
	switch sc {
	case inClause:
		return t.toks[i].clause == t.toks[first].clause
	case inSentence:
		return t.toks[i].sentence == t.toks[first].sentence
	}
	return true
}

// isNegation reports whether word i starts a negation, which no gap of a
// pattern crosses: "you're not an idiot" is no insult.
func (t wordText) isNegation(i int) bool {
	id := t.ix.ids["negation"]
	return slices.ContainsFunc(t.hits[i], func(h hit) bool { return h.class == id })
}

// startsAfter reports whether the word before word i is of class.
func (t wordText) startsAfter(i int, class string) bool {
	if i == 0 || t.toks[i-1].clause != t.toks[i].clause {
		return false
	}
	id := t.ix.ids[class]
	return slices.ContainsFunc(t.hits[i-1], func(h hit) bool { return h.class == id && h.end == i })
}

// ---- The rules ----

// ruleSpec is a rule as written: what it means for the post, and the
// patterns (any of them) that find it.
type ruleSpec struct {
	reason   string // in words a moderator understands, the category first
	effect   effect
	weight   int // spam score weight, for effect weighs
	scope    scope
	patterns []string
	notAfter string // a class that must not stand just before the match
}

// effect is what a rule does to the verdict.
type effect int

const (
	flags  effect = iota // needs review
	blocks               // must not be shown
	weighs               // adds its weight to the spam score
)

// groupKinds are what the group classes name people by; "{group}" in a
// hate rule stands for each kind's class.
var groupKinds = []string{"origin", "religion", "gender", "sexuality", "disability"}

// abuseRules are the threat, hate and harassment rules, in the order their
// reasons are given.
var abuseRules = slices.Concat([]ruleSpec{
	{reason: "threat: incitement to self-harm", effect: blocks, patterns: []string{"selfharm"}},
	{reason: "threat: death wish", effect: blocks, scope: inSentence, patterns: []string{
		"wish ~4 you_any ~5 harm",
		"you_subj ~1 deserve ~3 harm",
		"death_wish",
		"^ die_now ~1 voc_lead|insult",
	}},
	{reason: "threat: violence", effect: blocks, scope: inSentence, patterns: []string{
		"i_will ~2 violence ~1 you_obj",
		"i_will ~6 you_obj violence",
		"i_will ~2 break_verb your ~1 body",
		"i_will ~2 arson",
		"i_will ~1 burn ~4 down",
	}},
	{reason: "threat: intimidation", effect: blocks, scope: inSentence, patterns: []string{
		"intimidation",
		"know_where you_subj ~1 lives",
	}},
	{reason: "threat: call to violence", effect: blocks, scope: inSentence, patterns: []string{"call ~8 violence_call"}},
	{reason: "harassment: exclusion by origin", effect: blocks, patterns: []string{"go_back ~2 origin_place"}},
	{reason: "harassment: stalking", effect: blocks, scope: inSentence, patterns: []string{"found_you ~1 your ~1 address_word|private_info"}},
	{reason: "harassment: dehumanisation", effect: blocks, scope: inSentence, patterns: []string{"group_people ~3 copula ~3 dehumanising|criminal"}},
},
	hateRules(),
	[]ruleSpec{
		{reason: "harassment: directed insult", effect: flags, patterns: []string{
			"you_are ~3 insult|insult_pred",
			"insult|insult_pred ~4 you_are $",
			"insult_phrase",
			"^ shut_up $",
			"^ shut_up_start",
			"shut_up ~1 insult|you_obj|voc_lead",
			"^ insult $",
			"^ voc_lead ~2 insult $",
			"dirty ~1 insult",
		}},
		{reason: "harassment: insult", effect: flags, patterns: []string{"is_a ~1 insult"}, notAfter: "not_person"},
		{reason: "harassment: 'your kind'", effect: flags, patterns: []string{"your_kind"}},
		{reason: "harassment: mocking origin", effect: flags, scope: inPost, patterns: []string{"accent_ref ~40 derision", "derision ~40 accent_ref"}},
		{reason: "harassment: belittling", effect: flags, scope: inPost, patterns: []string{"belittle ~30 you_any", "you_any ~30 belittle"}},
		{reason: "harassment: shaming", effect: flags, patterns: []string{"shaming"}},
	})

// hateRules are the frames put on a group named by what its people are:
// dehumanising or criminalising it, conspiracy theories and calls to expel
// it block; excluding it from work or places, and blaming it, flag.
func hateRules() []ruleSpec {
	var out []ruleSpec
	for _, kind := range groupKinds {
		g := func(ps ...string) []string {
			for i, p := range ps {
				ps[i] = strings.ReplaceAll(p, "{group}", "group_"+kind)
			}
			return ps
		}
		out = append(out,
			ruleSpec{reason: "hate: dehumanisation by " + kind, effect: blocks, scope: inSentence, patterns: g("{group} ~3 copula ~3 dehumanising")},
			ruleSpec{reason: "hate: criminalisation by " + kind, effect: blocks, scope: inSentence, patterns: g("{group} ~3 copula ~3 criminal", "{group} ~2 crime_verb")},
			ruleSpec{reason: "hate: criminalisation by " + kind, effect: blocks, scope: inPost, patterns: g("{group} ~10 terror", "terror ~10 {group}")},
			ruleSpec{reason: "hate: conspiracy theory by " + kind, effect: blocks, scope: inSentence, patterns: g("{group} ~1 control_verb ~2 institution")},
			ruleSpec{reason: "hate: call to expel by " + kind, effect: blocks, patterns: g("{group} expel", "expel_pre ~1 {group}")},
			ruleSpec{reason: "hate: call to expel by " + kind, effect: blocks, scope: inPost, patterns: g("{group} ~15 deport")},
			ruleSpec{reason: "hate: exclusion by " + kind, effect: flags, scope: inSentence, patterns: g("{group} ~4 exclusion", "{group} ~2 should_not ~2 role")},
			ruleSpec{reason: "hate: exclusion by " + kind, effect: flags, scope: inPost, patterns: g("{group} ~12 dont_hire")},
			ruleSpec{reason: "hate: stereotyping by " + kind, effect: flags, scope: inSentence, patterns: g("{group} ~2 ruin", "{group} ~2 copula ~2 trait")},
		)
	}
	return append(out, ruleSpec{reason: "hate: exclusion by gender", effect: flags, scope: inSentence, patterns: []string{
		"group_gender ~5 kitchen_verb ~4 kitchen",
		"kitchen_verb ~3 group_gender ~5 kitchen",
	}})
}

// scamDemandRules are what scams ask for: a fee, ID papers, gift cards.
// Each weighs in the spam score, unless the post warns against scams
// ("never pay a registration fee").
var scamDemandRules = []ruleSpec{
	{reason: "scam: job offer charging a fee", effect: weighs, weight: weightScamDemand, patterns: []string{"fee"}, notAfter: "fee_negation"},
	{reason: "scam: asks for ID or bank details", effect: weighs, weight: weightScamDemand, scope: inSentence, patterns: []string{"send_verb ~12 id_doc"}},
	{reason: "scam: payment in gift cards or coupons", effect: weighs, weight: weightScamDemand, patterns: []string{"gift_pay"}},
}

// scamRules are the shapes of spam that word lists miss; each weighs in the
// spam score.
var scamRules = []ruleSpec{
	{reason: "spam: followers for sale", effect: weighs, weight: weightSpamShape, patterns: []string{"buy ~3 social_metric", "get number ~1 social_metric"}},
	{reason: "spam: fund recovery", effect: weighs, weight: weightSpamShape, scope: inSentence, patterns: []string{"recover ~4 funds", "funds_back"}},
	{reason: "spam: engagement bait", effect: weighs, weight: weightEngagementBait, patterns: []string{"bait_verb ~1 bait_word"}},
}

// extraClasses are the classes the code reads besides those the rules'
// patterns and notAfter name; "number" is found by shape (a word of
// digits), not listed.
var extraClasses = []string{"negation", "reporting", "money", "sales_talk", "messaging", "private_info", "scam_warning", "number"}

// ruleClasses returns every class a rule uses, in a stable order.
var ruleClasses = sync.OnceValue(func() []string {
	names := slices.Clone(extraClasses)
	for _, r := range slices.Concat(abuseRules, scamDemandRules, scamRules) {
		for _, p := range r.patterns {
			for _, f := range strings.Fields(p) {
				for _, name := range strings.Split(f, "|") {
					if name != "^" && name != "$" && !strings.HasPrefix(name, "~") && !slices.Contains(names, name) {
						names = append(names, name)
					}
				}
			}
		}
		if r.notAfter != "" && !slices.Contains(names, r.notAfter) {
			names = append(names, r.notAfter)
		}
	}
	return names
})

// textRule is a compiled ruleSpec.
type textRule struct {
	ruleSpec
	compiled []pattern
}

// compileRules compiles specs for ix.
func compileRules(ix *classIndex, specs []ruleSpec) []textRule {
	out := make([]textRule, len(specs))
	for i, s := range specs {
		out[i].ruleSpec = s
		for _, p := range s.patterns {
			out[i].compiled = append(out[i].compiled, compilePattern(ix, p, s.scope))
		}
	}
	return out
}

// fires reports whether one of r's patterns occurs in t.
func (r textRule) fires(t wordText) bool {
	for _, p := range r.compiled {
		if !t.mayMatch(p) {
			continue
		}
		for i := range t.toks {
			if (r.notAfter == "" || !t.startsAfter(i, r.notAfter)) && t.matchFrom(p, 0, i, i) {
				return true
			}
		}
	}
	return false
}
