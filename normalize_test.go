package main

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestNormalizeText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"case folding", "FREE Money", "free money"},
		{"accents removed", "Réclamez votre PRIX, garçon", "reclamez votre prix, garcon"},
		{"letters without a decomposition", "Łódź Øresund Straße Œuvre", "lodz oresund strasse oeuvre"},
		{"NFKC full-width", "ｆｒｅｅ　ｍｏｎｅｙ", "free money"},
		{"NFKC mathematical bold", "𝐟𝐫𝐞𝐞 𝐦𝐨𝐧𝐞𝐲", "free money"},
		{"NFKC ligature", "ﬁnancial freedom", "financial freedom"},
		{"zero-width space, joiner and non-joiner", "fr\u200bee mo\u200dn\u200cey", "free money"},
		{"bidi controls", "\u202efree\u202c \u2066money\u2069", "free money"},
		{"soft hyphen and byte order mark", "\ufefffr\u00adee", "free"},
		{"combining accents", "fre\u0301e\u0327", "free"},
		{"Cyrillic lookalikes", "frее mоnеy", "free money"},
		{"leetspeak", "fr33 m0n3y", "free money"},
		{"leetspeak symbols", "c@$h", "cash"},
		{"leetspeak 4 and 5", "4ct n0w, 5ale", "act now, sale"},
		{"numbers stay numbers", "100% garanti, 3000 €, 2024", "100% garanti, 3000 €, 2024"},
		{"spaced with spaces", "f r e e  m o n e y", "free money"},
		{"spaced with dots", "m.o.n.e.y", "money"},
		{"spaced with hyphens and leetspeak", "f-r-3-3", "free"},
		{"spaced with single spaces glues the words", "f r e e m o n e y", "freemoney"},
		{"two letters are no run", "a b test", "a b test"},
		{"letters glued to a word are no run", "a.b.cde and fgh.i.j", "a.b.cde and fgh.i.j"},
		{"digits alone are no run", "1 2 3", "1 2 3"},
		{"two letters each with a dot", "v.a. t.e. p.e.n.d.r.e", "va te pendre"},
		{"hyphens and underscores as spaces", "multi-level_marketing", "multi level marketing"},
		{"typographic apostrophe", "l’argent", "l'argent"},
		{"whitespace collapsed", "  free \n\t money  ", "free money"},
		{"invalid UTF-8", "free\xffmoney", "free\ufffdmoney"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		if got := NormalizeText(tt.in); got != tt.want {
			t.Errorf("%s: NormalizeText(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestNormalizedFormsReadOneAsIOrL(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"cl1ck", []string{"click", "cllck"}},
		{"1ncome", []string{"income", "lncome"}},
		{"free", []string{"free"}},
		{"100 jobs", []string{"100 jobs"}},
	}
	for _, tt := range tests {
		if got := NormalizedForms(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("NormalizedForms(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStretchedAndMaskedWords(t *testing.T) {
	for _, tt := range []struct {
		in        string
		keep      int
		want      string
		stretched bool
	}{
		{"diiiiie", 1, "die", true},
		{"freeee", 2, "free", true},
		{"crevvvvvvver", 1, "crever", true},
		{"free", 1, "free", false},
		{"1000", 1, "1000", false},
	} {
		if got := squeezeRuns(tt.in, tt.keep); got != tt.want || hasStretchedLetter(tt.in) != tt.stretched {
			t.Errorf("squeezeRuns(%q, %d) = %q, stretched %v; want %q, %v", tt.in, tt.keep, got, hasStretchedLetter(tt.in), tt.want, tt.stretched)
		}
	}
	for _, tt := range []struct {
		masked, word string
		want         bool
	}{
		{"m*rder", "murder", true},
		{"f***ing", "fucking", true},
		{"f*ck", "fork", false},
		{"f*ck", "fucks", false},
		{"****", "kill", false},
	} {
		if got := maskedEqual(tt.masked, tt.word); got != tt.want {
			t.Errorf("maskedEqual(%q, %q) = %v", tt.masked, tt.word, got)
		}
	}
}

// FuzzNormalizeText: the normaliser never panics, and its output is valid
// UTF-8 with no format characters (zero-width, bidi), no combining marks, no
// ASCII capitals, no hyphens, and no leading, trailing or doubled spaces.
func FuzzNormalizeText(f *testing.F) {
	for _, seed := range []string{
		"FR33 M0N3Y!!!", "f r e e  m o n e y", "c.l.i.c.k", "fr\u200bee", "\u202eevil", "ｆｒｅｅ",
		"Gagnez de l’argent", "ǅ ﬀ ẞ İ", "a\u0301\u0301\u0301", "\xff\xfe", "$$$ @@@ 1 1 1",
		"e.g. i.e. U.S.A.", strings.Repeat("a ", 50),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, form := range NormalizedForms(s) {
			checkNormalized(t, s, form)
		}
	})
}

// checkNormalized fails t when form breaks one of NormalizeText's promises.
func checkNormalized(t *testing.T, in, form string) {
	t.Helper()
	if !utf8.ValidString(form) {
		t.Fatalf("normalised %q to invalid UTF-8 %q", in, form)
	}
	if form != strings.Join(strings.Fields(form), " ") {
		t.Fatalf("normalised %q to %q: whitespace not collapsed", in, form)
	}
	for _, r := range form {
		if unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Mn, r) || ('A' <= r && r <= 'Z') || r == '-' {
			t.Fatalf("normalised %q to %q, which holds %U", in, form, r)
		}
	}
}
