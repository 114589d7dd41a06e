package main

import (
	"fmt"
	"slices"
	"testing"
)

func TestMatchScore(t *testing.T) {
	seniorParis := OfferProfile{
		Skills:   []string{"Docker", "Go", "Kubernetes", "PostgreSQL"},
		Level:    "Senior",
		Location: "Paris, France",
	}
	tests := []struct {
		name       string
		job        OfferProfile
		candidate  CandidateProfile
		want       int
		wantShared []string
	}{
		{
			"all skills, same level, same city",
			seniorParis,
			CandidateProfile{[]string{"golang", "Postgres", "Docker", "Kubernetes"}, "Senior", "Paris"},
			100, []string{"Docker", "Go", "Kubernetes", "PostgreSQL"},
		},
		{
			"half the skills, one level below, other city",
			seniorParis,
			CandidateProfile{[]string{"Go", "PostgreSQL"}, "Mid", "Lyon"},
			45, []string{"Go", "PostgreSQL"},
		},
		{
			"one skill, one level above, remote: 17.5+15+5 rounds up",
			seniorParis,
			CandidateProfile{[]string{"Go"}, "Lead", "Remote"},
			38, []string{"Go"},
		},
		{
			"no shared skill",
			seniorParis,
			CandidateProfile{[]string{"Java"}, "Senior", "Paris"},
			0, nil,
		},
		{
			"two levels apart and candidate level unknown give no level points",
			OfferProfile{[]string{"Go"}, "Junior", "Paris"},
			CandidateProfile{[]string{"Go"}, "Senior", "Paris"},
			80, []string{"Go"},
		},
		{
			"candidate level unknown",
			OfferProfile{[]string{"Go"}, "Junior", "Paris"},
			CandidateProfile{[]string{"Go"}, "", "Paris"},
			80, []string{"Go"},
		},
		{
			"job without level gives 20",
			OfferProfile{[]string{"Go", "Rust"}, "", "Paris"},
			CandidateProfile{[]string{"rust"}, "Junior", "Lyon"},
			55, []string{"Rust"},
		},
		{
			"job location Remote gives 10",
			OfferProfile{[]string{"Go", "Rust"}, "Senior", "Remote"},
			CandidateProfile{[]string{"Go"}, "Senior", "Lyon"},
			65, []string{"Go"},
		},
		{
			"job without location gives 10",
			OfferProfile{[]string{"Go"}, "Senior", ""},
			CandidateProfile{[]string{"Go"}, "Senior", ""},
			100, []string{"Go"},
		},
		{
			"city compared without accents or case",
			OfferProfile{[]string{"Go"}, "Mid", "Montréal, QC"},
			CandidateProfile{[]string{"Go"}, "Confirmé", "montreal"},
			100, []string{"Go"},
		},
		{
			"PARIS, FR equals paris",
			OfferProfile{[]string{"Go"}, "Mid", "PARIS, FR"},
			CandidateProfile{[]string{"Go"}, "Mid", "paris"},
			100, []string{"Go"},
		},
		{
			"remote candidate, office job elsewhere: 5",
			OfferProfile{[]string{"Go"}, "Mid", "Paris"},
			CandidateProfile{[]string{"Go"}, "Mid", "Télétravail"},
			95, []string{"Go"},
		},
		{
			"duplicate candidate skills counted once",
			OfferProfile{[]string{"Go", "Rust"}, "", ""},
			CandidateProfile{[]string{"go", "golang", "Go", "GO"}, "", ""},
			65, []string{"Go"},
		},
		{
			"one third of skills rounds down",
			OfferProfile{[]string{"Go", "Python", "Rust"}, "Senior", "Paris"},
			CandidateProfile{[]string{"Python"}, "Senior", "Lyon"},
			43, []string{"Python"},
		},
		{
			"job without skills",
			OfferProfile{nil, "", ""},
			CandidateProfile{[]string{"Go"}, "", ""},
			0, nil,
		},
	}
	for _, tt := range tests {
		got, shared := MatchScore(tt.job, tt.candidate)
		if got != tt.want || !slices.Equal(shared, tt.wantShared) || (tt.wantShared == nil) != (shared == nil) {
			t.Errorf("%s: MatchScore = (%d, %q), want (%d, %q)", tt.name, got, shared, tt.want, tt.wantShared)
		}
	}
}

func TestRemoteLocationsAreLooseKeys(t *testing.T) {
	for loc := range remoteLocations {
		if looseKey(loc) != loc {
			t.Errorf("remoteLocations key %q is not in looseKey form %q", loc, looseKey(loc))
		}
	}
}

// BenchmarkMatchCandidates times one job scored against 500 candidates read
// by ParseCandidate, as the stores hand them over: the cost of a job
// analysis without the store.
func BenchmarkMatchCandidates(b *testing.B) {
	job := OfferProfile{Skills: CanonicalSkills([]string{"golang", "Postgres", "Docker", "k8s", "React"}), Level: "Senior", Location: "Paris, France"}
	spellings := []string{"Go", "golang", "PostgreSQL", "psql", "docker", "Kubernetes", "ReactJS", "Java", "Rust", "Vue.js", "Some Tool"}
	levels := []string{"Junior", "Confirmé", "Senior", "Expérimenté", "Lead", "Mid/Senior", "", "Débutant/Junior"}
	locations := []string{"Paris", "Lyon, France", "Télétravail", "Remote", "Montréal, QC", "Saint-Étienne", "", "Marseille"}
	candidates := make([]ParsedCandidate, 500)
	for i := range candidates {
		candidates[i] = ParseCandidate(fmt.Sprint(i), CandidateProfile{
			Skills:   []string{spellings[i%len(spellings)], spellings[(i*7)%len(spellings)], fmt.Sprintf("Tool %d", i%50)},
			Level:    levels[i%len(levels)],
			Location: locations[(i*3)%len(locations)],
		})
	}
	for b.Loop() {
		m := NewMatcher(job)
		for i := range candidates {
			m.ScoreParsed(&candidates[i])
		}
	}
}
