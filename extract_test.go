package main

import (
	"slices"
	"strings"
	"testing"
)

func TestSkillMatchingTablesReferToDictionary(t *testing.T) {
	for _, w := range everydayWords {
		if _, ok := builtinSkills().index[strings.ToLower(w)]; !ok {
			t.Errorf("everydayWords: %q is not a dictionary spelling", w)
		}
	}
	for spelling := range misleadingContexts {
		if name, ok := builtinSkills().index[strings.ToLower(spelling)]; !ok || (spelling != name && !slices.Contains(builtinSkills().aliases[name], spelling)) {
			t.Errorf("misleadingContexts: %q is not a dictionary spelling as written there", spelling)
		}
	}
	for name := range builtinSkills().aliases {
		if len([]rune(name)) == 1 && !slices.Contains(everydayWords, name) {
			t.Errorf("single-letter skill %q must be in everydayWords", name)
		}
	}
	for alias := range listOnlyAliases {
		if name, ok := builtinSkills().index[alias]; !ok || !slices.Contains(builtinSkills().aliases[name], alias) {
			t.Errorf("listOnlyAliases: %q is not an alias", alias)
		}
	}
}

func TestExtractSkills(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"C++ and C# on .NET", []string{".NET", "C#", "C++"}},
		{"Node.js backend", []string{"Node.js"}},
		{"We use Go and PostgreSQL", []string{"Go", "PostgreSQL"}},
		{"Let's go to the office", nil},
		{"Go to our website", nil},
		{"Visit us. Go to our website", nil},
		{"You can Go ahead and apply", nil},
		{"Ready? Let's Go! Let’s Go. Lets Go", nil},
		{"Outlets Go fast", []string{"Go"}},
		{"We need a go-to person, always on the go", nil},
		{"Our Go-to solution", nil},
		{"JavaScript", []string{"JavaScript"}},
		{"Java and JavaScript", []string{"Java", "JavaScript"}},
		{"golang developer", []string{"Go"}},
		{"Golang developer", []string{"Go"}},
		{"Senior Go developer, Go-based services", []string{"Go"}},
		{"We use Go today", []string{"Go"}},
		{"ASP.NET Core", []string{"ASP.NET"}},
		{"Vue.js and Next.js front, Express.js API", []string{"Express", "Next.js", "Vue.js"}},
		{"Python, R, SQL", []string{"Python", "R", "SQL"}},
		{"Strong R&D team, C-level sponsors", nil},
		{"C'est un poste en CDI.", nil},
		{"Embedded C/C++ and Objective-C", []string{"C", "C++", "Objective-C"}},
		{"Apache Kafka and Apache Spark pipelines", []string{"Kafka", "Spark"}},
		{"Nginx or Apache in front", []string{"Apache", "Nginx"}},
		{"React Native mobile app", []string{"React Native"}},
		{"React and React Native", []string{"React", "React Native"}},
		{"Spring Boot microservices", []string{"Microservices", "Spring"}},
		{"Design REST APIs. The rest of the team uses Spring.", []string{"REST", "Spring"}},
		{"Rejoignez-nous vite ! Tableau de bord en Vue", []string{"Vue.js"}},
		{"Reporting with Tableau and Power BI", []string{"Power BI", "Tableau"}},
		{"#golang #hiring", []string{"Go"}},
		{"Kubernetes node pools", []string{"Kubernetes"}},
		{"A nest of options, dl the py file", nil},
		{"JS and TS, Swift or Rust", []string{"JavaScript", "Rust", "Swift", "TypeScript"}},
		{"Experience with k8s, CI/CD and GitHub", []string{"CI/CD", "Kubernetes"}},
		{"Développeur Go confirmé (H/F)", []string{"Go"}},
		{"De notre point de vue, en vue de la croissance", nil},
		{"Stack: Vue and Nuxt, Node and React", []string{"Node.js", "Nuxt", "React", "Vue.js"}},
		{"Un poste en CDI", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got := ExtractSkills(tt.text)
		if !slices.Equal(got, tt.want) {
			t.Errorf("ExtractSkills(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// BenchmarkExtractSkills times skill extraction from a typical job
// description.
func BenchmarkExtractSkills(b *testing.B) {
	text := "Senior Go developer (H/F) - Paris. We build REST APIs in Go and Python on PostgreSQL and Redis, " +
		"deployed with Docker and Kubernetes on AWS through GitHub Actions. Our front end is React with TypeScript. " +
		"Let's go: you know CI/CD, Terraform and Kafka; Spark or Airflow is a plus. Nous recherchons un développeur " +
		"confirmé, à l'aise avec Linux et Git, pour rejoindre l'équipe. Télétravail partiel possible."
	for b.Loop() {
		ExtractSkills(text)
	}
}
