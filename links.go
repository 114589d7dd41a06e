package main

// Link analysis for moderation: finding the links of a post and the tricks
// they play. Pure parsing: nothing here resolves a name or fetches a URL.

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// LinkFinding is one rule a link breaks: the reason in plain words and its
// weight in the spam score. Any finding flags the post.
type LinkFinding struct {
	Reason string
	Weight int
}

// Weights of the link rules.
const (
	weightBadScheme     = 5
	weightIPHost        = 3
	weightHiddenIPHost  = 5 // decimal, hex or octal: written to hide the address
	weightLookalikeHost = 3
	weightMixedScript   = 5
	weightShortener     = 2
	weightMalformedLink = 2
	weightUserInfo      = 3
	weightEscapedHost   = 3
	weightLongLink      = 2
	weightBlockedDomain = BlockThreshold
)

// Link limits.
const (
	maxLinkLength = 2000 // longer links hide their payload from a reader
	maxQuotedLink = 60   // links quoted in a reason are cut to this many bytes
)

// linkShorteners hide a link's destination.
var linkShorteners = []string{
	"bit.ly", "bitly.com", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd",
	"v.gd", "buff.ly", "rebrand.ly", "cutt.ly", "shorturl.at", "tiny.cc",
	"t.ly", "rb.gy", "bl.ink", "s.id", "lnkd.in", "shorte.st", "adf.ly",
	"tr.im", "qr.ae", "x.co", "urlz.fr", "shorturl.com",
}

// builtinBlockedDomains are always blocked: IP-logging services, whose only
// use in a post is to collect the addresses of whoever clicks.
var builtinBlockedDomains = []string{
	"grabify.link", "iplogger.org", "iplogger.com", "iplogger.ru", "2no.co",
	"blasze.com", "yip.su",
}

// contentLinkPattern finds links written in post text: web addresses, and the
// script, data and file schemes a browser would act on. Those schemes must be
// glued to their payload, so "JavaScript: 3 years" stays prose.
var contentLinkPattern = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"']+|\b(?:javascript|vbscript):[^\s<>"']+|\bdata:[a-z]+/[^\s<>"']+|\bfile:/[^\s<>"']*`)

// PostLink is one distinct link of a post and how many times it appears:
// in the content, or in the links list, whichever is more, so a links list
// that mirrors the content does not count twice.
type PostLink struct {
	URL   string
	Count int
}

// PostLinks returns the links of p.Links and those written in p.Content,
// cleaned and deduplicated, in order of appearance.
func PostLinks(p PostContent) []PostLink {
	found := contentLinkPattern.FindAllString(p.Content, -1)
	inContent, inList := countLinks(found), countLinks(p.Links)
	var out []PostLink
	for _, link := range slices.Concat(p.Links, found) {
		link = cleanLink(link)
		if link == "" || slices.ContainsFunc(out, func(l PostLink) bool { return l.URL == link }) {
			continue
		}
		out = append(out, PostLink{URL: link, Count: max(inContent[link], inList[link])})
	}
	return out
}

// countLinks counts each cleaned link.
func countLinks(links []string) map[string]int {
	counts := make(map[string]int, len(links))
	for _, link := range links {
		counts[cleanLink(link)]++
	}
	return counts
}

// cleanLink removes what a browser would ignore in a link (tabs and newlines
// anywhere, controls and spaces around it) and the punctuation that ends the
// sentence around it.
func cleanLink(link string) string {
	link = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, link)
	link = strings.TrimFunc(link, func(r rune) bool { return r <= ' ' })
	return strings.TrimRight(link, `.,;:!?)]}'"`)
}

// DomainBlocklist returns the built-in blocklist plus the extra domains,
// normalised ("*.Evil.example." → "evil.example").
func DomainBlocklist(extra []string) []string {
	list := slices.Clone(builtinBlockedDomains)
	for _, d := range extra {
		d = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(d)), "*.")
		if d = strings.Trim(d, "."); d != "" {
			list = append(list, d)
		}
	}
	return list
}

// AnalyzeLink returns the rules one link breaks, in a stable order. A link
// without a scheme ("www.example.com") is read as http, and backslashes as
// slashes, as browsers do. Rules: a scheme other than http(s), a malformed
// link, a link over maxLinkLength, a percent-encoded host, user info before
// the host ("https://paypal.com@evil.example/"), an IP address host in any
// notation browsers accept (dotted, IPv6, or decimal, hex and octal forms
// such as http://0x7f000001/), punycode, non-ASCII or mixed-script hosts,
// URL shorteners, and hosts in blocklist, subdomains included.
func AnalyzeLink(link string, blocklist []string) []LinkFinding {
	link = cleanLink(link)
	var out []LinkFinding
	if n := utf8.RuneCountInString(link); n > maxLinkLength {
		out = append(out, LinkFinding{fmt.Sprintf("over-long link: %d characters", n), weightLongLink})
	}
	link = strings.ReplaceAll(link, `\`, "/")
	scheme := linkScheme(link)
	if scheme == "" {
		link, scheme = "http://"+link, "http"
	}
	if scheme != "http" && scheme != "https" {
		return append(out, LinkFinding{"link scheme not allowed: " + scheme + ":", weightBadScheme})
	}
	u, escaped, err := parseLink(link)
	host := ""
	if err == nil {
		host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	}
	if host == "" {
		return append(out, LinkFinding{"malformed link: " + truncate(link, maxQuotedLink), weightMalformedLink})
	}
	if escaped {
		out = append(out, LinkFinding{"percent-encoded host: " + host, weightEscapedHost})
	}
	if u.User != nil {
		out = append(out, LinkFinding{"link hides its host behind user info: " + host, weightUserInfo})
	}
	return append(out, hostFindings(host, blocklist)...)
}

// parseLink parses an http(s) link. Browsers decode percent escapes in
// the host ("https://%62it.ly" is bit.ly) where url.Parse refuses them, so
// on failure the authority is decoded and the link parsed again; escaped
// reports that this was needed.
func parseLink(link string) (u *url.URL, escaped bool, err error) {
	u, err = url.Parse(link)
	if err == nil {
		return u, false, nil
	}
	scheme, rest, _ := strings.Cut(link, "://")
	authority, path, _ := strings.Cut(rest, "/")
	decoded, uerr := url.PathUnescape(authority)
	if uerr != nil || decoded == authority {
		return nil, false, fmt.Errorf("parse link: %w", err)
	}
	u, err = url.Parse(scheme + "://" + decoded + "/" + path)
	if err != nil {
		return nil, false, fmt.Errorf("parse link: %w", err)
	}
	return u, true, nil
}

// hostFindings returns the rules a link's host breaks.
func hostFindings(host string, blocklist []string) []LinkFinding {
	var out []LinkFinding
	if ip, ok := ParseHostIP(host); ok {
		if ip.String() == strings.Trim(host, "[]") {
			out = append(out, LinkFinding{"IP address link: " + host, weightIPHost})
		} else {
			out = append(out, LinkFinding{fmt.Sprintf("IP address link: %s (written %s)", ip, host), weightHiddenIPHost})
		}
	}
	if slices.ContainsFunc(strings.Split(host, "."), func(label string) bool { return strings.HasPrefix(label, "xn--") }) {
		out = append(out, LinkFinding{"punycode domain: " + host, weightLookalikeHost})
	}
	if !isASCII(host) {
		if hostMixesScripts(host) {
			out = append(out, LinkFinding{"mixed-script domain: " + host, weightMixedScript})
		} else {
			out = append(out, LinkFinding{"non-ASCII domain: " + host, weightLookalikeHost})
		}
	}
	if d, ok := matchDomain(host, linkShorteners); ok {
		out = append(out, LinkFinding{"link shortener: " + d, weightShortener})
	}
	if d, ok := matchDomain(host, blocklist); ok {
		out = append(out, LinkFinding{"blocked domain: " + d, weightBlockedDomain})
	}
	return out
}

// ParseHostIP reads a URL host as an IP address the way browsers do: IPv6
// (bracketed or not), dotted IPv4, and the inet_aton forms — one to four
// parts, each decimal, 0x hex or 0-prefixed octal, the last filling the
// remaining bytes — so "2130706433", "0x7f000001", "0177.0.0.1" and "127.1"
// are all 127.0.0.1. A host of digits and dots that overflows is no address.
func ParseHostIP(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap(), true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var value uint64
	for i, part := range parts {
		n, ok := parseIPPart(part)
		last := i == len(parts)-1
		if !ok || (!last && n > 0xff) || (last && n >= 1<<(8*(5-len(parts)))) {
			return netip.Addr{}, false
		}
		if last {
			value = value<<(8*(5-len(parts))) | n
		} else {
			value = value<<8 | n
		}
	}
	var b [4]byte
	for i := range b {
		b[i] = byte(value >> (8 * (3 - i)))
	}
	return netip.AddrFrom4(b), true
}

// parseIPPart reads one part of an inet_aton address: 0x hex, 0-prefixed
// octal or decimal.
func parseIPPart(s string) (uint64, bool) {
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" || strings.ContainsAny(s, "+-_") {
		return 0, false
	}
	n, err := strconv.ParseUint(s, base, 32)
	return n, err == nil
}

// hostMixesScripts reports whether one label of host mixes letters of
// different scripts, as homoglyph domains do ("pаypal" with a Cyrillic а).
func hostMixesScripts(host string) bool {
	for _, label := range strings.Split(host, ".") {
		seen := ""
		for _, r := range label {
			script := letterScript(r)
			if script == "" {
				continue
			}
			if seen != "" && script != seen {
				return true
			}
			seen = script
		}
	}
	return false
}

// scriptTables are the scripts homoglyph domains mix, Latin first.
var scriptTables = []struct {
	name  string
	table *unicode.RangeTable
}{
	{"Latin", unicode.Latin}, {"Cyrillic", unicode.Cyrillic}, {"Greek", unicode.Greek},
	{"Armenian", unicode.Armenian}, {"Cherokee", unicode.Cherokee}, {"Han", unicode.Han},
	{"Arabic", unicode.Arabic}, {"Hebrew", unicode.Hebrew},
}

// letterScript names the script of a letter, "Other" for a letter of
// another script, "" for anything that is not a letter.
func letterScript(r rune) string {
	if !unicode.IsLetter(r) {
		return ""
	}
	for _, s := range scriptTables {
		if unicode.Is(s.table, r) {
			return s.name
		}
	}
	return "Other"
}

// linkScheme returns a link's scheme in lowercase, or "" when it has none. A
// colon followed by a digit starts a port, not a payload: "example.com:8080".
func linkScheme(link string) string {
	name, rest, ok := strings.Cut(link, ":")
	if !ok || !isSchemeName(name) || (rest != "" && '0' <= rest[0] && rest[0] <= '9') {
		return ""
	}
	return strings.ToLower(name)
}

// isSchemeName reports whether s is a URL scheme name: a letter, then
// letters, digits, "+", "-" or ".".
func isSchemeName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		other := '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
		if !letter && (i == 0 || !other) {
			return false
		}
	}
	return s != ""
}

// matchDomain returns the first of domains that host is or is a subdomain of.
func matchDomain(host string, domains []string) (string, bool) {
	for _, d := range domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return d, true
		}
	}
	return "", false
}

// isASCII reports whether s holds ASCII characters only.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ImageURLProblem says why an image URL must not be sent to Vision, or ""
// when it may: only https URLs with a named, public-looking host go out, so
// that hookd never hands an internal address (loopback, private, link-local,
// any IP literal, localhost, single-label names) to anyone.
func ImageURLProblem(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil || u.Hostname() == "":
		return "not a valid URL"
	case !strings.EqualFold(u.Scheme, "https"):
		return "not https"
	case u.User != nil:
		return "user info in URL"
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if _, ok := ParseHostIP(host); ok {
		return "IP address host"
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || !strings.Contains(host, ".") ||
		strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal") {
		return "internal host name"
	}
	return ""
}
