package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestCanonicalSkill(t *testing.T) {
	tests := []struct{ in, want string }{
		{"golang", "Go"},
		{"Go", "Go"},
		{"GoLang", "Go"},
		{"ReactJS", "React"},
		{"react.js", "React"},
		{"Postgres", "PostgreSQL"},
		{"postgresql", "PostgreSQL"},
		{"psql", "PostgreSQL"},
		{"node", "Node.js"},
		{"nodejs", "Node.js"},
		{"node.js", "Node.js"},
		{"TS", "TypeScript"},
		{"k8s", "Kubernetes"},
		{"c++", "C++"},
		{"cpp", "C++"},
		{"c#", "C#"},
		{"csharp", "C#"},
		{".net", ".NET"},
		{"dotnet", ".NET"},
		{"js", "JavaScript"},
		{"  spring   boot ", "Spring"},
		{"Ruby on Rails", "Rails"},
		{"sklearn", "scikit-learn"},
		{"JQUERY", "jQuery"},
		{"vue", "Vue.js"},
		{"React-Native", "React Native"},
		{"  Some  New\tFramework ", "Some New Framework"},
		{"COBOLX", "COBOLX"},
		{"", ""},
		{" \t\n", ""},
	}
	for _, tt := range tests {
		if got := CanonicalSkill(tt.in); got != tt.want {
			t.Errorf("CanonicalSkill(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCanonicalSkills(t *testing.T) {
	got := CanonicalSkills([]string{"golang", "  ", "Postgres", "go", "Docker", "jquery", "my  tool", "My Tool", "c#"})
	want := []string{"C#", "Docker", "Go", "jQuery", "my tool", "PostgreSQL"}
	if !slices.Equal(got, want) {
		t.Errorf("CanonicalSkills = %q, want %q", got, want)
	}
	if got := CanonicalSkills(nil); len(got) != 0 {
		t.Errorf("CanonicalSkills(nil) = %q, want empty", got)
	}
}

// TestBuiltinSkillFileParses reports a mistake in skills/skills.txt with
// its line, rather than as the panic of the first lookup. The counts are
// those of the dictionary when it moved to that file: a line lost in an
// edit, or dropped by the parser, brings one below them.
func TestBuiltinSkillFileParses(t *testing.T) {
	d, err := parseSkillDictionary(strings.NewReader(builtinSkillFile))
	if err != nil {
		t.Fatalf("skills/skills.txt: %v", err)
	}
	if len(d.aliases) < 194 || len(d.index) < 389 {
		t.Errorf("dictionary has %d skills and %d spellings, want at least 194 and 389", len(d.aliases), len(d.index))
	}
}

func TestSkillDictionary(t *testing.T) {
	owner := make(map[string]string) // lowercase spelling → canonical name
	for name, aliases := range builtinSkills().aliases {
		for _, spelling := range append([]string{name}, aliases...) {
			key := strings.ToLower(spelling)
			if other, dup := owner[key]; dup {
				t.Errorf("spelling %q claimed by both %q and %q", spelling, other, name)
			}
			owner[key] = name
			if spelling != name && spelling != key {
				t.Errorf("alias %q of %q is not lowercase", spelling, name)
			}
			for _, variant := range []string{spelling, strings.ToUpper(spelling), " " + spelling + " "} {
				if got := CanonicalSkill(variant); got != name {
					t.Errorf("CanonicalSkill(%q) = %q, want %q", variant, got, name)
				}
			}
		}
	}
}

func TestRequiredSkillsPresent(t *testing.T) {
	required := []string{
		"Go", "Rust", "Python", "Java", "Kotlin", "Scala", "JavaScript", "TypeScript", "C", "C++", "C#",
		".NET", "ASP.NET", "PHP", "Ruby", "Rails", "Swift", "Objective-C", "Dart", "Flutter", "React",
		"React Native", "Angular", "Vue.js", "Svelte", "Next.js", "Nuxt", "Node.js", "Express", "NestJS",
		"Django", "Flask", "FastAPI", "Spring", "Laravel", "Symfony", "PostgreSQL", "MySQL", "MariaDB",
		"SQLite", "MongoDB", "Redis", "Elasticsearch", "Cassandra", "DynamoDB", "Kafka", "RabbitMQ",
		"Docker", "Kubernetes", "Terraform", "Ansible", "AWS", "GCP", "Azure", "Linux", "Git", "GraphQL",
		"REST", "gRPC", "HTML", "CSS", "Sass", "Tailwind CSS", "jQuery", "Webpack", "Vite", "Jest",
		"Cypress", "Selenium", "Pandas", "NumPy", "TensorFlow", "PyTorch", "scikit-learn", "Spark",
		"Hadoop", "Airflow", "dbt", "Snowflake", "Tableau", "Power BI", "Figma", "Supabase", "Firebase",
		"Prisma", "Redux", "Bash", "PowerShell", "Jenkins", "GitLab CI", "GitHub Actions", "CircleCI",
		"Prometheus", "Grafana", "Nginx", "Apache", "Haskell", "Elixir", "Erlang", "Clojure", "Perl", "R",
		"MATLAB", "Solidity", "Unity", "Unreal Engine", "SQL", "NoSQL", "Microservices", "CI/CD",
		"Machine Learning", "Deep Learning", "LLM", "OpenAI", "LangChain", "Sentry", "Datadog", "Heroku",
		"Vercel", "Netlify", "Cloudflare", "Storybook", "Playwright", "JUnit", "pytest", "Maven", "Gradle",
		"Hibernate", "Quarkus", "Kotlin Multiplatform", "Ionic", "Xamarin", "SwiftUI", "Jetpack Compose",
		"WordPress", "Shopify", "Salesforce", "SAP",
	}
	for _, name := range required {
		if _, ok := builtinSkills().aliases[name]; !ok {
			t.Errorf("dictionary lacks %q", name)
		}
	}
}

func TestSkillSpellings(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{[]string{"PostgreSQL"}, []string{"pgsql", "postgre", "postgres", "postgresql", "psql"}},
		{[]string{"Go", "golang"}, []string{"go", "go lang", "golang"}},
		{[]string{"TypeScript", "Some Tool", " "}, []string{"some tool", "ts", "typescript"}},
		{nil, nil},
	}
	for _, tt := range tests {
		if got := SkillSpellings(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SkillSpellings(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSkillDictionaryAroundComments checks the whole spellings of the first
// and last skill of every section of skills/skills.txt, where a comment or a
// blank line could make the parser lose or merge a line.
func TestSkillDictionaryAroundComments(t *testing.T) {
	tests := []struct {
		skill string
		want  []string
	}{
		{"Go", []string{"go", "go lang", "golang"}},
		{"WebAssembly", []string{"wasm", "webassembly"}},
		{"HTML", []string{"html", "html5"}},
		{"Storybook", []string{"storybook"}},
		{"Node.js", []string{"node", "node js", "node.js", "nodejs"}},
		{"Electron", []string{"electron", "electron.js", "electronjs"}},
		{"Flutter", []string{"flutter"}},
		{"iOS", []string{"ios", "ios sdk"}},
		{"PostgreSQL", []string{"pgsql", "postgre", "postgres", "postgresql", "psql"}},
		{"RabbitMQ", []string{"rabbit mq", "rabbitmq"}},
		{"Docker", []string{"docker", "docker compose", "docker-compose"}},
		{"OpenTelemetry", []string{"opentelemetry", "otel"}},
		{"Pandas", []string{"pandas"}},
		{"Hugging Face", []string{"hugging face", "huggingface"}},
		{"Jest", []string{"jest"}},
		{"npm", []string{"npm"}},
		{"Figma", []string{"figma"}},
		{"SAP", []string{"sap", "sap erp", "sap s/4hana"}},
		{"Unity", []string{"unity", "unity 3d", "unity3d"}},
		{"Web3", []string{"web3"}},
	}
	for _, tt := range tests {
		if _, ok := builtinSkills().aliases[tt.skill]; !ok {
			t.Errorf("dictionary lacks %q", tt.skill)
		}
		if got := SkillSpellings([]string{tt.skill}); !slices.Equal(got, tt.want) {
			t.Errorf("SkillSpellings(%q) = %q, want %q", tt.skill, got, tt.want)
		}
	}
}

func TestParseSkillDictionary(t *testing.T) {
	d, err := parseSkillDictionary(strings.NewReader("# comment\n\nGo: golang, go lang\n  Kotlin  \nC# :csharp ,  c sharp\nCI/CD: ci-cd\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"Go": {"golang", "go lang"}, "Kotlin": nil, "C#": {"csharp", "c sharp"}, "CI/CD": {"ci-cd"}}
	if len(d.aliases) != len(want) {
		t.Errorf("parsed %q, want %q", d.aliases, want)
	}
	for name, aliases := range want {
		if got, ok := d.aliases[name]; !ok || !slices.Equal(got, aliases) {
			t.Errorf("aliases of %q = %q, want %q", name, got, aliases)
		}
	}
	if got := d.index["c sharp"]; got != "C#" {
		t.Errorf(`index["c sharp"] = %q, want "C#"`, got)
	}
	for name, bad := range map[string]struct {
		text string
		line int
	}{
		"blank name":             {": golang", 3},
		"blank alias":            {"Go: golang,", 3},
		"colon without aliases":  {"Go:", 3},
		"alias not lowercase":    {"Go: Golang", 3},
		"doubled space":          {"Go: go  lang", 3},
		"tab inside a name":      {"Tailwind\tCSS", 3},
		"alias twice":            {"Go: golang, golang", 3},
		"skill twice":            {"Go\nGo", 4},
		"spelling of two skills": {"Go: golang\nGolang", 4},
	} {
		_, err := parseSkillDictionary(strings.NewReader("# first\nRust\n" + bad.text))
		if want := fmt.Sprintf("line %d:", bad.line); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want one starting %q", name, err, want)
		}
	}
}
