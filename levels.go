package main

// Experience levels: the English and French names of the four seniority
// levels a job or a candidate states, read loosely. Pure and safe for
// concurrent use.

import "strings"

// Experience levels, in increasing order of seniority.
const (
	levelJunior = 1 + iota
	levelMid
	levelSenior
	levelLead
)

// levelAliases maps English and French level names, in looseKey form, to levels.
var levelAliases = map[string]int{
	"junior":         levelJunior,
	"jr":             levelJunior,
	"jr.":            levelJunior,
	"entry":          levelJunior,
	"entry level":    levelJunior,
	"beginner":       levelJunior,
	"graduate":       levelJunior,
	"debutant":       levelJunior,
	"debutante":      levelJunior,
	"jeune diplome":  levelJunior,
	"jeune diplomee": levelJunior,

	"mid":           levelMid,
	"mid level":     levelMid,
	"middle":        levelMid,
	"medior":        levelMid,
	"intermediate":  levelMid,
	"intermediaire": levelMid,
	"confirme":      levelMid,
	"confirmee":     levelMid,

	"senior":       levelSenior,
	"sr":           levelSenior,
	"sr.":          levelSenior,
	"experienced":  levelSenior,
	"experimente":  levelSenior,
	"experimentee": levelSenior,
	"expert":       levelSenior,
	"experte":      levelSenior,

	"lead":                     levelLead,
	"tech lead":                levelLead,
	"technical lead":           levelLead,
	"team lead":                levelLead,
	"lead developer":           levelLead,
	"lead dev":                 levelLead,
	"lead engineer":            levelLead,
	"principal":                levelLead,
	"principal engineer":       levelLead,
	"staff":                    levelLead,
	"staff engineer":           levelLead,
	"architect":                levelLead,
	"software architect":       levelLead,
	"architecte":               levelLead,
	"architecte logiciel":      levelLead,
	"chef de projet technique": levelLead,
	"responsable technique":    levelLead,
	"lead technique":           levelLead,
	"referent technique":       levelLead,
}

// ParseLevel maps an experience level to Junior 1, Mid 2, Senior 3 or Lead 4,
// ignoring case, accents and hyphens, from English and French names
// ("Entry-level", "Confirmé", "Expérimenté", "Chef de projet technique"). A
// combined label such as "Junior/Débutant" counts when every part names the
// same level. Unknown, ambiguous ("Mid/Senior") or blank → (0, false).
func ParseLevel(s string) (int, bool) {
	key := looseKey(s)
	if level, ok := levelAliases[key]; ok {
		return level, true
	}
	return combinedLevel(key)
}

// combinedLevel reads a "/"-separated label whose parts all name one level.
func combinedLevel(key string) (int, bool) {
	parts := strings.Split(key, "/")
	if len(parts) < 2 {
		return 0, false
	}
	level := 0
	for _, part := range parts {
		l, ok := levelAliases[strings.TrimSpace(part)]
		if !ok || (level != 0 && l != level) {
			return 0, false
		}
		level = l
	}
	return level, true
}
