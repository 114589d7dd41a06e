package main

// The skill dictionary: every skill hookd knows by its canonical name, with
// the other spellings people write it in. The dictionary itself is data,
// skills/skills.txt, embedded in the binary so that it can be read and
// extended without touching code; this file parses it and answers the
// lookups job analysis needs (CanonicalSkill(s), SkillSpellings). Pure and
// safe for concurrent use.

import (
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// skillDictionary is the parsed skill dictionary.
type skillDictionary struct {
	aliases map[string][]string // canonical name → other spellings, lowercase
	index   map[string]string   // every lowercase spelling, canonical names included → canonical name
}

//go:embed skills/skills.txt
var builtinSkillFile string

// builtinSkills returns the embedded dictionary, parsed once. The embedded
// file is tested, so a parse error here is a build mistake and panics.
var builtinSkills = sync.OnceValue(func() skillDictionary {
	d, err := parseSkillDictionary(strings.NewReader(builtinSkillFile))
	if err != nil {
		panic(fmt.Sprintf("embedded skill dictionary skills/skills.txt: %v", err))
	}
	return d
})

// parseSkillDictionary reads a dictionary written "Name: alias, alias" per
// line (see skills/skills.txt). Errors name the line: a blank name or alias,
// an alias not in lowercase, whitespace not collapsed, or a spelling given
// to two skills.
func parseSkillDictionary(r io.Reader) (skillDictionary, error) {
	d := skillDictionary{aliases: make(map[string][]string), index: make(map[string]string)}
	err := listLines(r, "skill dictionary", func(line string) error {
		name, list, hasAliases := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if err := d.add(name, name); err != nil {
			return err
		}
		if !hasAliases {
			return nil
		}
		for alias := range strings.SplitSeq(list, ",") {
			alias = strings.TrimSpace(alias)
			if alias != strings.ToLower(alias) {
				return fmt.Errorf("alias %q of %q: want lowercase", alias, name)
			}
			if err := d.add(name, alias); err != nil {
				return err
			}
			d.aliases[name] = append(d.aliases[name], alias)
		}
		return nil
	})
	return d, err
}

// add records spelling, the canonical name itself or an alias, as skill's.
func (d skillDictionary) add(skill, spelling string) error {
	switch key := strings.ToLower(spelling); {
	case spelling == "":
		return errors.New("want a skill name, then optionally a colon and aliases separated by commas; got a blank name or alias")
	case spelling != strings.Join(strings.Fields(spelling), " "):
		return fmt.Errorf("%q: want single spaces between words", spelling)
	case d.index[key] != "" && skill == spelling:
		return fmt.Errorf("skill %q: already a spelling of %q", skill, d.index[key])
	case d.index[key] != "":
		return fmt.Errorf("alias %q of %q: already a spelling of %q", spelling, skill, d.index[key])
	default:
		d.index[key] = skill
		if skill == spelling {
			d.aliases[skill] = nil
		}
		return nil
	}
}

// CanonicalSkill maps a spelling to the dictionary's canonical name,
// case-insensitively, after trimming and collapsing inner whitespace:
// "golang" → "Go", "react.js" → "React", "psql" → "PostgreSQL". An unknown
// skill is returned trimmed with whitespace collapsed, its case kept; a blank
// one becomes "".
func CanonicalSkill(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if name, ok := builtinSkills().index[strings.ToLower(s)]; ok {
		return name
	}
	return s
}

// CanonicalSkills canonicalises a list, drops blanks, removes duplicates
// case-insensitively and sorts the result case-insensitively.
func CanonicalSkills(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for _, raw := range list {
		skill := CanonicalSkill(raw)
		key := strings.ToLower(skill)
		if skill == "" || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, skill)
	}
	sortFold(out)
	return out
}

// SkillSpellings returns every lowercase spelling that CanonicalSkill maps to
// one of the given skills: the canonical name and all its aliases, or just the
// lowercase form of a skill the dictionary does not know. The result is sorted
// and deduplicated, ready for a SQL lookup on lower(raw skill).
func SkillSpellings(canonical []string) []string {
	var out []string
	for _, s := range canonical {
		name := CanonicalSkill(s)
		if name == "" {
			continue
		}
		out = append(out, strings.ToLower(name))
		out = append(out, builtinSkills().aliases[name]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sortFold sorts names case-insensitively, which keeps "jQuery" among the J's.
func sortFold(names []string) {
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a), strings.ToLower(b)), cmp.Compare(a, b))
	})
}
