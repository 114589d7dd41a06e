package main

// Post moderation: the text heuristics, and the decision that combines
// text, links, image verdicts and the text-moderation service's verdict
// into one status. The word lists are read in wordlists.go. Pure: the Vision and text-moderation calls happen
// in the processor, which hands their verdicts in. The rules that read who a
// post targets are in textrules.go. A Moderator is read-only once built, so
// it is safe for concurrent use.

import (
	"fmt"
	"regexp"
	"slices"
	"sync"
	"unicode"
)

// PostContent is a newsfeed post as submitted.
type PostContent struct {
	Content string
	Images  []string
	Links   []string
}

// Moderation statuses.
const (
	StatusApproved = "approved"
	StatusFlagged  = "flagged"
	StatusBlocked  = "blocked"
)

// Spam score thresholds: a post scoring FlagThreshold or more is flagged for
// review, BlockThreshold or more is blocked. A spam phrase weighing
// FlagThreshold or more flags a post on its own; a lighter one is a hint,
// which flags only with other signals.
const (
	FlagThreshold  = 3
	BlockThreshold = 8
)

// Moderation is the verdict on a post.
type Moderation struct {
	Status  string   // approved | flagged | blocked
	Score   int      // spam score, sum of signal weights (the style signals' only with another)
	Reasons []string // plain words, one per signal that fired
}

// Flagged reports whether the post needs attention, i.e. is not approved.
func (m Moderation) Flagged() bool { return m.Status != StatusApproved }

// Weights of the text signals other than spam phrases. The style signals
// (shouting, repeated letters and punctuation, emoji floods) weigh only in a
// post that another spam signal already marks: alone they are enthusiasm.
const (
	weightShouting       = 2
	weightRepeatedChars  = 2
	weightRepeatedPunct  = 2
	weightEmojiFlood     = 3
	weightTooManyLinks   = 3
	weightRepeatedLink   = 3
	weightContactMoney   = 3
	weightScamDemand     = 5 // a fee, ID papers or gift cards asked for: two of them block
	weightSpamShape      = 3
	weightEngagementBait = 2
	weightPromisedReturn = 4
)

// Limits of the text and link signals.
const (
	shoutingMinLetters = 20 // shorter texts may be an acronym or a heading
	shoutingPercent    = 70 // more capitals than this, in percent of letters, is shouting
	repeatedRun        = 5  // a letter this many times in a row: "soooooo"
	repeatedPunctRun   = 3  // "!!!", "?!?"
	emojiFloodTotal    = 10 // this many emoji in a post
	emojiFloodRun      = 8  // or this many in a row
	maxLinks           = 5
	repeatedLinkCount  = 3 // the same link this many times
)

// Moderator holds the word lists, the rules built on them and the domain
// blocklist moderation uses.
type Moderator struct {
	lists     WordLists
	classes   *classIndex
	abuse     []textRule
	demands   []textRule
	scams     []textRule
	blocklist []string
}

// NewModerator returns a Moderator with lists and the built-in domain
// blocklist plus blockedDomains (BLOCKED_DOMAINS).
func NewModerator(lists WordLists, blockedDomains []string) *Moderator {
	ix := newClassIndex(lists.Classes, lists.Hate)
	return &Moderator{
		lists:     lists,
		classes:   ix,
		abuse:     compileRules(ix, abuseRules),
		demands:   compileRules(ix, scamDemandRules),
		scams:     compileRules(ix, scamRules),
		blocklist: DomainBlocklist(blockedDomains),
	}
}

// Moderate decides on a post from its text, its links and what the
// processor learnt from the outside services.
//
// The post is blocked on a threat, a hate term or frame, a blocking kind of
// harassment (doxxing, stalking, "go back to your country"), an image Vision
// finds VERY_LIKELY adult or violent, a blocking verdict of the
// text-moderation service, or a score of BlockThreshold; flagged on a
// directed insult or another flagging frame, a score of FlagThreshold, any
// link rule, an image LIKELY or more adult, violent or racy, an image URL
// refused for Vision, or a flagging verdict of the service; approved
// otherwise. Notes that decide nothing (images or text not checked, Vision
// errors) still appear in the reasons. Reasons come in a stable order
// without duplicates and never quote the whole content.
func (m *Moderator) Moderate(p PostContent, c Checks) Moderation {
	var v verdict
	v.checkText(p.Content, m)
	v.checkLinks(PostLinks(p), m.blocklist)
	v.checkImages(p.Images, c.Images)
	v.checkTextService(c.Text)
	return v.moderation()
}

// Checks is what the processor learnt about a post from the outside
// services, for the decision in Moderate. The zero value: no service.
type Checks struct {
	Images ImageReport
	Text   TextReport
}

// ImageReport is what the processor learnt about a post's images, for the
// decision in Moderate.
type ImageReport struct {
	Enabled    bool           // Vision is configured; without it images are not analysed
	Verdicts   []ImageVerdict // one per image sent to Vision
	NotChecked string         // why no image could be checked (Vision kept failing), or ""
}

// ImageVerdict is Vision's SafeSearch answer for one image: likelihood names
// (VERY_UNLIKELY … VERY_LIKELY), or the error Vision gave for that image.
type ImageVerdict struct {
	URL      string
	Adult    string
	Violence string
	Racy     string
	Error    string
}

// likelihoods are Vision's likelihood names, least likely first.
var likelihoods = []string{"UNKNOWN", "VERY_UNLIKELY", "UNLIKELY", "POSSIBLE", "LIKELY", "VERY_LIKELY"}

// likelihoodRank orders likelihood names; an unknown name ranks lowest.
func likelihoodRank(s string) int { return slices.Index(likelihoods, s) }

// checkImages records the image signals. Without Vision there are none.
// Images are not spam: they flag or block without weighing in the score.
func (v *verdict) checkImages(urls []string, r ImageReport) {
	if !r.Enabled {
		return
	}
	for _, u := range urls {
		if problem := ImageURLProblem(u); problem != "" {
			v.decide("image not sent to Vision: "+problem, false)
		}
	}
	if r.NotChecked != "" {
		v.add("images not checked: "+r.NotChecked, 0)
	}
	for _, img := range r.Verdicts {
		v.checkImage(img)
	}
}

// checkImage records one image's SafeSearch verdict: LIKELY or more adult,
// violent or racy flags, VERY_LIKELY adult or violent blocks.
func (v *verdict) checkImage(img ImageVerdict) {
	if img.Error != "" {
		v.add("image not checked: "+img.Error, 0)
		return
	}
	for _, c := range []struct {
		name, likelihood string
		blocks           bool
	}{{"adult", img.Adult, true}, {"violence", img.Violence, true}, {"racy", img.Racy, false}} {
		rank := likelihoodRank(c.likelihood)
		if rank < likelihoodRank("LIKELY") {
			continue
		}
		v.decide("image "+c.name+": "+c.likelihood, c.blocks && rank >= likelihoodRank("VERY_LIKELY"))
	}
}

// verdict accumulates the signals that fire while moderating one post.
type verdict struct {
	score   int
	style   int // weight of the style signals, counted only with another spam signal
	reasons []string
	block   bool // a signal that blocks whatever the score
	flag    bool // a signal that flags whatever the score
}

// add records a signal weighing in the spam score.
func (v *verdict) add(reason string, weight int) { v.addTo(&v.score, reason, weight) }

// addTo records a signal and adds its weight to sum: the spam score, or
// the style signals' weight, which waits for another signal. A signal
// already recorded neither repeats nor adds weight.
func (v *verdict) addTo(sum *int, reason string, weight int) {
	if slices.Contains(v.reasons, reason) {
		return
	}
	v.reasons = append(v.reasons, reason)
	*sum += weight
}

// decide records a signal that flags or blocks the post whatever its score.
func (v *verdict) decide(reason string, block bool) {
	v.block = v.block || block
	v.flag = true
	v.add(reason, 0)
}

// apply records the rules that fire in any of the text's forms, each as
// its effect says.
func (v *verdict) apply(rules []textRule, words []wordText) {
	for _, r := range rules {
		if !slices.ContainsFunc(words, r.fires) {
			continue
		}
		switch r.effect {
		case flags:
			v.decide(r.reason, false)
		case blocks:
			v.decide(r.reason, true)
		case weighs:
			v.add(r.reason, r.weight)
		}
	}
}

// moderation turns the signals into the final verdict.
func (v *verdict) moderation() Moderation {
	score := v.score
	if score > 0 {
		score += v.style
	}
	status := StatusApproved
	switch {
	case v.block || score >= BlockThreshold:
		status = StatusBlocked
	case v.flag || score >= FlagThreshold:
		status = StatusFlagged
	}
	return Moderation{Status: status, Score: score, Reasons: v.reasons}
}

// hateTermReasons name the categories of the hate lists for moderators.
var hateTermReasons = []struct{ category, reason string }{
	{"slur", "hate: slur"},
	{"supremacy", "hate: supremacist slogan"},
	{"dehumanising", "hate: dehumanising term"},
	{"incitement", "hate: incitement against a group"},
}

// checkText records the signals of the post's text. Threats, hate and
// harassment are not spam: they flag or block the post without weighing in
// the spam score.
func (v *verdict) checkText(content string, m *Moderator) {
	text := newPostText(content)
	words := make([]wordText, len(text.forms))
	for i, form := range text.forms {
		words[i] = newWordText(m.classes, form)
	}
	v.checkAbuse(words, content, m)
	for _, sp := range m.lists.Spam {
		if text.has(sp.keys) {
			v.add(fmt.Sprintf("spam phrase: '%s'", sp.Phrase), sp.Weight)
		}
	}
	v.checkScams(words, text, content, m)
	v.checkStyle(content)
	v.checkContacts(content, words[0])
}

// checkAbuse records the hate terms of the lists, then the threat, hate and
// harassment rules, in any of the text's forms.
func (v *verdict) checkAbuse(words []wordText, content string, m *Moderator) {
	for _, h := range hateTermReasons {
		if slices.ContainsFunc(words, func(t wordText) bool { return t.has(hateClass(h.category)) }) {
			v.decide(h.reason, true)
		}
	}
	v.apply(m.abuse, words)
	if slices.ContainsFunc(words, func(t wordText) bool { return t.has("private_info") }) && hasContactDetails(content) {
		v.decide("harassment: doxxing", true)
	}
}

// checkStyle records shouting, repeated letters and punctuation, and
// emoji floods.
func (v *verdict) checkStyle(content string) {
	if percent, ok := capitalsPercent(content); ok {
		v.addTo(&v.style, fmt.Sprintf("shouting: %d%% capitals", percent), weightShouting)
	}
	if longestRun(content, unicode.IsLetter, false) >= repeatedRun {
		v.addTo(&v.style, "repeated characters", weightRepeatedChars)
	}
	if longestRun(content, isShoutPunct, true) >= repeatedPunctRun {
		v.addTo(&v.style, "repeated punctuation", weightRepeatedPunct)
	}
	if total, run := emojiCounts(content); total >= emojiFloodTotal || run >= emojiFloodRun {
		v.addTo(&v.style, fmt.Sprintf("emoji flood: %d emoji", total), weightEmojiFlood)
	}
}

// capitalsPercent returns the share of capitals among the letters of s, in
// whole percent, when s has enough letters and enough capitals to shout.
func capitalsPercent(s string) (int, bool) {
	var upper, letters int
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			upper++
			letters++
		case unicode.IsLower(r):
			letters++
		}
	}
	if letters < shoutingMinLetters || upper*100 <= letters*shoutingPercent {
		return 0, false
	}
	return upper * 100 / letters, true
}

// longestRun returns the longest run of runes satisfying in: the same rune
// repeated (ignoring case), or with mixed any mix of them ("?!?!").
func longestRun(s string, in func(rune) bool, mixed bool) int {
	best, run, prev := 0, 0, noRune
	for _, r := range s {
		r = unicode.ToLower(r)
		switch {
		case !in(r):
			run = 0
		case mixed || r == prev:
			run++
		default:
			run = 1
		}
		prev = r
		best = max(best, run)
	}
	return best
}

// isShoutPunct reports whether r is an exclamation or question mark.
func isShoutPunct(r rune) bool { return r == '!' || r == '?' || r == '¡' || r == '¿' }

// emojiCounts returns how many emoji s holds and the longest run of them,
// skipping the joiners and variation selectors inside emoji sequences.
func emojiCounts(s string) (total, longest int) {
	run := 0
	for _, r := range s {
		switch {
		case isEmoji(r):
			total++
			run++
			longest = max(longest, run)
		case r == '\u200d' || r == '\ufe0f' || unicode.IsSpace(r):
		default:
			run = 0
		}
	}
	return total, longest
}

// isEmoji reports whether r is a pictographic emoji.
func isEmoji(r rune) bool {
	return (r >= 0x1F300 && r <= 0x1FAFF) || (r >= 0x2600 && r <= 0x27BF) || (r >= 0x1F000 && r <= 0x1F2FF)
}

// Contact and payment patterns that, next to money words, make a post a
// scam: phone numbers (international, or French 0X XX XX XX XX) and crypto
// wallet addresses (Bitcoin, Ethereum, Tron).
var (
	phonePattern  = regexp.MustCompile(`(?:\+|00)[1-9]\d{0,2}[\s.\-]?\(?\d{1,4}\)?(?:[\s.\-]?\d{2,4}){2,5}|\b0[1-9](?:[\s.\-]?\d{2}){4}\b`)
	walletPattern = regexp.MustCompile(`\b(?:bc1[a-zA-HJ-NP-Z0-9]{25,62}|[13][a-km-zA-HJ-NP-Z1-9]{25,34}|0x[a-fA-F0-9]{40}|T[1-9A-HJ-NP-Za-km-z]{33})\b`)
)

// checkContacts records a phone number or a wallet address in a post that
// also talks money (the "money" words of scam_*.txt): the shape of
// advance-fee and crypto scams. A recruiter's phone number next to a salary
// does not fire: "salary" is no money word. A phone number must stand apart
// from letters and digits, so the digits inside a wallet address or a hash
// are none.
func (v *verdict) checkContacts(content string, words wordText) {
	if !words.has("money") {
		return
	}
	if walletPattern.MatchString(content) {
		v.add("crypto wallet address with money talk", weightContactMoney)
	}
	if slices.ContainsFunc(phonePattern.FindAllStringIndex(content, -1), func(m []int) bool {
		return !isWordRune(runeBefore(content, m[0])) && !isWordRune(runeAt(content, m[1]))
	}) {
		v.add("phone number with money talk", weightContactMoney)
	}
}

// Money talk, read in the loosely folded text (lower case, no accents) so
// that digits stay digits: an amount ("$4,800", "3 000 €", "5OOO$", "5k"),
// an amount per period ("150€/jour", "$12k weekly"), and the sentences of
// scams built on them.
const (
	amountExpr = `(?:[$€£]\s?\d[\do]*(?:[.,\s]\d{3})*(?:[.,]\d+)?\s?k?|\d[\do]*(?:[.,\s]\d{3})*(?:[.,]\d+)?\s?(?:k\s?)?(?:[$€£]|eur\b|euros?\b|usd\b|dollars?\b)|\d+k\b)`
	periodExpr = `(?:\s*(?:/|per\b|an?\b|par\b|each\b|every\b|chaque\b)?\s*(?:h|hr|hour|day|week|month|j|jour|semaine|mois)\b|\s*(?:weekly|daily|monthly|last week|la semaine derniere)\b)`
)

var (
	amountPattern = regexp.MustCompile(amountExpr + `|\${2,}|€{2,}`)
	// I earn / je gagne / Earn (as an order) an amount per period.
	incomeClaimPattern = regexp.MustCompile(`(?:\b(?:i|we|je|j')\s*(?:now\s+)?(?:made|make|earn|earned|gagne|touche|ai gagne|ai touche|fais)|(?:^|[.!?:;,]\s*)(?:earn|gagnez|gagne|make|touchez))\s+(?:over\s+|more than\s+|up to\s+|plus de\s+|jusqu'a\s+)?` + amountExpr + periodExpr)
	// Invest an amount, receive a bigger one.
	promisedReturnPattern = regexp.MustCompile(`\b(?:invest|investissez|investis|placez|deposit)\s+` + amountExpr + `.{0,40}?\b(?:receive|recevez|get|gagnez|earn|touchez)\s+` + amountExpr)
	// Pay an amount for the job (training, permit, slot): said to the
	// reader, not by an employer ("we pay €14/hour for nights").
	payToWorkPattern = regexp.MustCompile(`(?:(?:^|[.!?:;,]\s*|\b(?:you|must|need to|have to|just|only|simply|please|to)\s+)(?:pay|send)\s+(?:only\s+|just\s+|the\s+|a\s+)?` + amountExpr + `.{0,40}?\b(?:for|to secure|to activate|to reserve|to book|to start)\b|\b(?:payez|reglez|versez|envoyez)\s+` + amountExpr + `.{0,30}?\b(?:pour|de frais|de caution)\b)`)
	// Contact details that can reach a person: a phone number, seven digits
	// or more, or an email address.
	contactPattern = regexp.MustCompile(`\d(?:[\s.\-]?\d){6,}|[\w.+\-]+@[\w\-]+\.\w`)
)

// checkScams records the scam and spam shapes of textrules.go and those
// built on money talk. Each weighs in the spam score. The money patterns
// run only on a post holding one of the words they start with.
func (v *verdict) checkScams(words []wordText, text postText, content string, m *Moderator) {
	loose := sync.OnceValue(func() string { return looseKey(content) })
	if !words[0].has("scam_warning") {
		v.apply(m.demands, words)
		if text.hasAnyWord("pay", "send", "payez", "reglez", "versez", "envoyez") && payToWorkPattern.MatchString(loose()) {
			v.add("scam: job offer charging a fee", weightScamDemand)
		}
	}
	v.apply(m.scams, words)
	if text.hasAnyWord("invest", "investissez", "investis", "placez", "deposit") && promisedReturnPattern.MatchString(loose()) {
		v.add("spam: promised return on an investment", weightPromisedReturn)
	}
	if text.hasAnyWord("made", "make", "earn", "earned", "gagne", "gagnez", "touche", "touchez", "fais") && incomeClaimPattern.MatchString(loose()) {
		v.add("spam: income claim", weightSpamShape)
	}
	if words[0].has("messaging") && (words[0].has("money") || words[0].has("sales_talk") || amountPattern.MatchString(loose())) {
		v.add("spam: messaging app contact with money talk", weightContactMoney)
	}
}

// hasContactDetails reports whether content holds a way to reach someone.
func hasContactDetails(content string) bool {
	return contactPattern.MatchString(content)
}

// checkLinks records the signals of the post's links. Any link rule flags.
func (v *verdict) checkLinks(links []PostLink, blocklist []string) {
	if len(links) > maxLinks {
		v.add(fmt.Sprintf("too many links: %d", len(links)), weightTooManyLinks)
	}
	for _, link := range links {
		if link.Count >= repeatedLinkCount {
			v.add(fmt.Sprintf("same link repeated %d times: %s", link.Count, truncate(link.URL, maxQuotedLink)), weightRepeatedLink)
		}
		for _, f := range AnalyzeLink(link.URL, blocklist) {
			v.flag = true
			v.add(f.Reason, f.Weight)
		}
	}
}
