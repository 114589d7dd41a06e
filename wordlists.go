package main

// The moderation word lists: spam phrases, hate terms and the vocabularies
// of the targeting rules, embedded from wordlists/ and optionally extended
// from MODERATION_WORDLIST_DIR, and the post text as the lists look it up.

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// SpamPhrase is a phrase typical of spam with its weight in the spam score.
type SpamPhrase struct {
	Phrase string // as written in the list, quoted in reasons
	Weight int
	keys   []string
}

// HateTerm is a hateful phrase with its category; reasons name the
// category, never the term.
type HateTerm struct {
	Category string
	keys     []string
}

// WordLists are the phrases moderation looks for.
type WordLists struct {
	Spam []SpamPhrase
	Hate []HateTerm
	// Classes are the words of the targeting and scam rules, by class
	// (textrules.go).
	Classes map[string][]string
}

// hateCategories are the categories a hate list may use; see wordlists/.
var hateCategories = []string{"slur", "supremacy", "dehumanising", "incitement", "target"}

//go:embed wordlists/*.txt
var builtinWordListFiles embed.FS

// BuiltinWordLists returns the English and French lists embedded in the
// binary, parsed once. The embedded files are tested, so a parse error here
// is a build mistake and panics.
var BuiltinWordLists = sync.OnceValue(func() WordLists {
	lists, err := readWordListDir(builtinWordListFiles, "wordlists")
	if err != nil {
		panic(fmt.Sprintf("embedded word lists: %v", err))
	}
	return lists
})

// LoadWordLists returns the built-in lists plus, when dir is not empty,
// those of dir (MODERATION_WORDLIST_DIR): every *.txt file there whose name
// starts with "spam", "hate", "abuse" or "scam", in the format of the
// built-in files.
func LoadWordLists(dir string) (WordLists, error) {
	lists := BuiltinWordLists()
	if dir == "" {
		return lists, nil
	}
	extra, err := readWordListDir(os.DirFS(dir), ".")
	if err != nil {
		return WordLists{}, fmt.Errorf("MODERATION_WORDLIST_DIR %s: %w", dir, err)
	}
	if len(extra.Spam)+len(extra.Hate)+len(extra.Classes) == 0 {
		return WordLists{}, fmt.Errorf("MODERATION_WORDLIST_DIR %s: no spam, hate, abuse or scam *.txt file with a phrase", dir)
	}
	return WordLists{
		Spam:    slices.Concat(lists.Spam, extra.Spam),
		Hate:    slices.Concat(lists.Hate, extra.Hate),
		Classes: mergeClasses(lists.Classes, extra.Classes),
	}, nil
}

// mergeClasses returns the phrases of a and b, class by class.
func mergeClasses(a, b map[string][]string) map[string][]string {
	out := make(map[string][]string, len(a))
	for _, m := range []map[string][]string{a, b} {
		for class, phrases := range m {
			out[class] = slices.Concat(out[class], phrases)
		}
	}
	return out
}

// readWordListDir parses the *.txt lists of dir in fsys, in name order.
func readWordListDir(fsys fs.FS, dir string) (WordLists, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.txt"))
	if err != nil {
		return WordLists{}, fmt.Errorf("list word lists: %w", err)
	}
	var lists WordLists
	for _, name := range names {
		if err := lists.readFile(fsys, name); err != nil {
			return WordLists{}, err
		}
	}
	return lists, nil
}

// readFile adds one list file to lists, by the kind its name starts with.
func (lists *WordLists) readFile(fsys fs.FS, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("open word list: %w", err)
	}
	defer f.Close()
	base := path.Base(name)
	switch {
	case strings.HasPrefix(base, "spam"):
		spam, err := ParseSpamList(f)
		lists.Spam = append(lists.Spam, spam...)
		return wrapListError(base, err)
	case strings.HasPrefix(base, "hate"):
		hate, err := ParseHateList(f)
		lists.Hate = append(lists.Hate, hate...)
		return wrapListError(base, err)
	case strings.HasPrefix(base, "abuse"), strings.HasPrefix(base, "scam"):
		classes, err := ParseClassList(f)
		lists.Classes = mergeClasses(lists.Classes, classes)
		return wrapListError(base, err)
	}
	return fmt.Errorf("%s: a word list's name must start with spam, hate, abuse or scam", base)
}

// wrapListError prefixes a list's parse error with the file name.
func wrapListError(name string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// wordListLines calls each with the first field and the rest of every line
// of a word list, skipping blanks and # comments; errors name the line.
func wordListLines(r io.Reader, each func(head, phrase string) error) error {
	return listLines(r, "word list", func(line string) error {
		head, phrase := line, ""
		if i := strings.IndexFunc(line, unicode.IsSpace); i > 0 {
			head, phrase = line[:i], strings.TrimSpace(line[i:])
		}
		if !strings.ContainsFunc(NormalizeText(phrase), isWordRune) {
			return fmt.Errorf("want a weight or category, then a phrase; got %q", line)
		}
		return each(head, phrase)
	})
}

// ParseSpamList reads a spam list: "<weight> <phrase>" per line, the
// weight an integer from 1 to 100; below FlagThreshold the phrase is a hint.
func ParseSpamList(r io.Reader) ([]SpamPhrase, error) {
	var out []SpamPhrase
	err := wordListLines(r, func(head, phrase string) error {
		w, err := strconv.Atoi(head)
		if err != nil || w < 1 || w > 100 {
			return fmt.Errorf("weight %q: want an integer from 1 to 100", head)
		}
		out = append(out, SpamPhrase{Phrase: phrase, Weight: w, keys: phraseKeys(phrase)})
		return nil
	})
	return out, err
}

// ParseHateList reads a hate list: "<category> <phrase>" per line. Each
// incitement is combined with each target of the same list.
func ParseHateList(r io.Reader) ([]HateTerm, error) {
	var out []HateTerm
	var incitements, targets []string
	err := wordListLines(r, func(category, phrase string) error {
		switch category {
		case "incitement":
			incitements = append(incitements, phrase)
		case "target":
			targets = append(targets, phrase)
		default:
			if !slices.Contains(hateCategories, category) {
				return fmt.Errorf("category %q: want one of %s", category, strings.Join(hateCategories, ", "))
			}
			out = append(out, HateTerm{Category: category, keys: phraseKeys(phrase)})
		}
		return nil
	})
	if err == nil && (len(incitements) == 0) != (len(targets) == 0) {
		err = errors.New("incitement and target lines go together: one kind has none")
	}
	for _, inc := range incitements {
		for _, target := range targets {
			out = append(out, HateTerm{Category: "incitement", keys: phraseKeys(inc + " " + target)})
		}
	}
	return out, err
}

// phraseKeys returns the normalised forms a phrase is matched by: the
// phrase, and for several words the words glued together, which is how a
// phrase spelt out letter by letter with single spaces reads once
// normalised ("f r e e m o n e y" → "freemoney").
func phraseKeys(phrase string) []string {
	key := NormalizeText(phrase)
	if glued := strings.ReplaceAll(key, " ", ""); glued != key {
		return []string{key, glued}
	}
	return []string{key}
}

// postText is a post's text in the forms phrases are matched in, with the
// set of its words: a phrase whose first word is not in the set cannot
// occur, which rules most phrases out with one map lookup.
type postText struct {
	forms []string
	words map[string]bool
}

// newPostText normalises content for matching.
func newPostText(content string) postText {
	t := postText{forms: NormalizedForms(content), words: make(map[string]bool)}
	for _, form := range t.forms {
		for _, w := range strings.FieldsFunc(form, func(r rune) bool { return !isWordRune(r) }) {
			t.words[w] = true
		}
	}
	return t
}

// has reports whether one of keys occurs as whole words in one of the forms.
func (t postText) has(keys []string) bool {
	for _, key := range keys {
		if first := leadingWord(key); first != "" && !t.words[first] {
			continue
		}
		if slices.ContainsFunc(t.forms, func(form string) bool { return containsWord(form, key) }) {
			return true
		}
	}
	return false
}

// hasAnyWord reports whether one of ws is a word of the text.
func (t postText) hasAnyWord(ws ...string) bool {
	return slices.ContainsFunc(ws, func(w string) bool { return t.words[w] })
}

// leadingWord returns the run of word characters that starts key, "" when
// key starts with another character. Where containsWord finds key, that run
// is a whole word of the text.
func leadingWord(key string) string {
	end := strings.IndexFunc(key, func(r rune) bool { return !isWordRune(r) })
	if end < 0 {
		return key
	}
	return key[:end]
}
