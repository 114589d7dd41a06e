package main

import "testing"

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in     string
		want   int
		wantOK bool
	}{
		{"Junior", 1, true},
		{"jr", 1, true},
		{"Entry-level", 1, true},
		{"entry level", 1, true},
		{"Débutant", 1, true},
		{"DEBUTANTE", 1, true},
		{"Junior/Débutant", 1, true},
		{"junior / débutant", 1, true},
		{"Mid", 2, true},
		{"mid-level", 2, true},
		{"Medior", 2, true},
		{"Intermediate", 2, true},
		{"Intermédiaire", 2, true},
		{"Confirmé", 2, true},
		{"Senior", 3, true},
		{"Sr.", 3, true},
		{"Expérimenté", 3, true},
		{"expert", 3, true},
		{"Lead", 4, true},
		{"Tech Lead", 4, true},
		{"tech-lead", 4, true},
		{"Lead Developer", 4, true},
		{"Principal", 4, true},
		{"Staff", 4, true},
		{"Architect", 4, true},
		{"Chef de projet technique", 4, true},
		{"Responsable  technique", 4, true},
		{"Mid/Senior", 0, false},
		{"guru", 0, false},
		{"", 0, false},
		{"   ", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseLevel(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseLevel(%q) = (%d, %v), want (%d, %v)", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestLevelAliasesAreLooseKeys(t *testing.T) {
	for alias := range levelAliases {
		if looseKey(alias) != alias {
			t.Errorf("levelAliases key %q is not in looseKey form %q", alias, looseKey(alias))
		}
	}
}
