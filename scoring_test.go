package main

import (
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
	"unicode"
)

// ---- Skills ----

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

func TestSkillDictionary(t *testing.T) {
	if n := len(skillAliases); n < 120 {
		t.Errorf("dictionary has %d canonical skills, want at least 120", n)
	}
	owner := make(map[string]string) // lowercase spelling → canonical name
	for name, aliases := range skillAliases {
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
		if _, ok := skillAliases[name]; !ok {
			t.Errorf("dictionary lacks %q", name)
		}
	}
}

func TestSkillMatchingTablesReferToDictionary(t *testing.T) {
	for _, w := range everydayWords {
		if _, ok := skillIndex[strings.ToLower(w)]; !ok {
			t.Errorf("everydayWords: %q is not a dictionary spelling", w)
		}
	}
	for spelling := range misleadingContexts {
		if name, ok := skillIndex[strings.ToLower(spelling)]; !ok || (spelling != name && !slices.Contains(skillAliases[name], spelling)) {
			t.Errorf("misleadingContexts: %q is not a dictionary spelling as written there", spelling)
		}
	}
	for name := range skillAliases {
		if len([]rune(name)) == 1 && !slices.Contains(everydayWords, name) {
			t.Errorf("single-letter skill %q must be in everydayWords", name)
		}
	}
	for alias := range listOnlyAliases {
		if name, ok := skillIndex[alias]; !ok || !slices.Contains(skillAliases[name], alias) {
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

// ---- Levels ----

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
	for loc := range remoteLocations {
		if looseKey(loc) != loc {
			t.Errorf("remoteLocations key %q is not in looseKey form %q", loc, looseKey(loc))
		}
	}
}

// ---- Matching ----

func TestMatchScore(t *testing.T) {
	seniorParis := JobProfile{
		Skills:   []string{"Docker", "Go", "Kubernetes", "PostgreSQL"},
		Level:    "Senior",
		Location: "Paris, France",
	}
	tests := []struct {
		name       string
		job        JobProfile
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
			JobProfile{[]string{"Go"}, "Junior", "Paris"},
			CandidateProfile{[]string{"Go"}, "Senior", "Paris"},
			80, []string{"Go"},
		},
		{
			"candidate level unknown",
			JobProfile{[]string{"Go"}, "Junior", "Paris"},
			CandidateProfile{[]string{"Go"}, "", "Paris"},
			80, []string{"Go"},
		},
		{
			"job without level gives 20",
			JobProfile{[]string{"Go", "Rust"}, "", "Paris"},
			CandidateProfile{[]string{"rust"}, "Junior", "Lyon"},
			55, []string{"Rust"},
		},
		{
			"job location Remote gives 10",
			JobProfile{[]string{"Go", "Rust"}, "Senior", "Remote"},
			CandidateProfile{[]string{"Go"}, "Senior", "Lyon"},
			65, []string{"Go"},
		},
		{
			"job without location gives 10",
			JobProfile{[]string{"Go"}, "Senior", ""},
			CandidateProfile{[]string{"Go"}, "Senior", ""},
			100, []string{"Go"},
		},
		{
			"city compared without accents or case",
			JobProfile{[]string{"Go"}, "Mid", "Montréal, QC"},
			CandidateProfile{[]string{"Go"}, "Confirmé", "montreal"},
			100, []string{"Go"},
		},
		{
			"PARIS, FR equals paris",
			JobProfile{[]string{"Go"}, "Mid", "PARIS, FR"},
			CandidateProfile{[]string{"Go"}, "Mid", "paris"},
			100, []string{"Go"},
		},
		{
			"remote candidate, office job elsewhere: 5",
			JobProfile{[]string{"Go"}, "Mid", "Paris"},
			CandidateProfile{[]string{"Go"}, "Mid", "Télétravail"},
			95, []string{"Go"},
		},
		{
			"duplicate candidate skills counted once",
			JobProfile{[]string{"Go", "Rust"}, "", ""},
			CandidateProfile{[]string{"go", "golang", "Go", "GO"}, "", ""},
			65, []string{"Go"},
		},
		{
			"one third of skills rounds down",
			JobProfile{[]string{"Go", "Python", "Rust"}, "Senior", "Paris"},
			CandidateProfile{[]string{"Python"}, "Senior", "Lyon"},
			43, []string{"Python"},
		},
		{
			"job without skills",
			JobProfile{nil, "", ""},
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

func TestFoldAccents(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Été à Montréal", "Ete a Montreal"},
		{"garçon, hôtel, où, naïf, ÇA", "garcon, hotel, ou, naif, CA"},
		{"Œuvre, cœur, straße, Łódź", "OEuvre, coeur, strasse, Lodz"},
		{"plain ASCII", "plain ASCII"},
		{"日本", "日本"},
	}
	for _, tt := range tests {
		if got := foldAccents(tt.in); got != tt.want {
			t.Errorf("foldAccents(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Every letter of Latin-1 Supplement and Latin Extended-A folds to ASCII.
	for r := rune(0xC0); r <= 0x17F; r++ {
		if !unicode.IsLetter(r) {
			continue
		}
		if got := foldAccents(string(r)); !isASCII(got) {
			t.Errorf("foldAccents(%q) = %q, not ASCII", r, got)
		}
	}
}

// ---- Activity ----

func TestParseOffPeak(t *testing.T) {
	valid := []struct {
		in   string
		want OffPeak
	}{
		{"22-7", OffPeak{22, 7}},
		{"0-6", OffPeak{0, 6}},
		{" 23 - 0 ", OffPeak{23, 0}},
	}
	for _, tt := range valid {
		got, err := ParseOffPeak(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseOffPeak(%q) = (%v, %v), want %v", tt.in, got, err, tt.want)
		}
	}
	invalid := []struct{ in, wantInError string }{
		{"", "START-END"},
		{"22", "START-END"},
		{"24-7", `start "24"`},
		{"x-7", `start "x"`},
		{"-7", `start ""`},
		{"22-", `end ""`},
		{"22-7-1", `end "7-1"`},
		{"22--1", `end "-1"`},
		{"5-5", "both 5"},
	}
	for _, tt := range invalid {
		_, err := ParseOffPeak(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.wantInError) {
			t.Errorf("ParseOffPeak(%q) error = %v, want one mentioning %q", tt.in, err, tt.wantInError)
		}
	}
}

func TestOffPeakContains(t *testing.T) {
	paris := mustLoadLocation(t, "Europe/Paris")
	at := func(h, m int) time.Time { return time.Date(2024, 3, 5, h, m, 0, 0, paris) }
	tests := []struct {
		window OffPeak
		t      time.Time
		want   bool
	}{
		{OffPeak{22, 7}, at(22, 0), true},
		{OffPeak{22, 7}, at(23, 59), true},
		{OffPeak{22, 7}, at(0, 0), true},
		{OffPeak{22, 7}, at(6, 59), true},
		{OffPeak{22, 7}, at(7, 0), false},
		{OffPeak{22, 7}, at(21, 59), false},
		{OffPeak{1, 5}, at(1, 0), true},
		{OffPeak{1, 5}, at(5, 0), false},
		{OffPeak{}, at(0, 30), false},
	}
	for _, tt := range tests {
		if got := tt.window.Contains(tt.t.UTC(), paris); got != tt.want {
			t.Errorf("%v.Contains(%v) = %v, want %v", tt.window, tt.t, got, tt.want)
		}
	}
	if !(OffPeak{22, 7}).Contains(at(23, 0), nil) {
		t.Error("Contains with nil location should use the time's own location")
	}
}

func TestActivityPoints(t *testing.T) {
	paris := mustLoadLocation(t, "Europe/Paris")
	off := OffPeak{22, 7}
	at := func(h, m int) time.Time { return time.Date(2024, 7, 14, h, m, 0, 0, paris).UTC() }
	tests := []struct {
		action string
		t      time.Time
		want   int
		wantOK bool
	}{
		{"like", at(23, 30), 8, true}, // 7.5 rounds up
		{"comment", at(12, 0), 10, true},
		{"view", at(3, 0), 2, true},   // 1.5 rounds up
		{"share", at(2, 0), 23, true}, // 22.5 rounds up
		{"apply", at(1, 0), 30, true},
		{"comment", at(22, 0), 15, true},
		{"comment", at(7, 0), 10, true},
		{"view", at(12, 0), 1, true},
		{"unknown", at(12, 0), 0, false},
		{"Like", at(12, 0), 0, false},
		{"", at(23, 0), 0, false},
	}
	for _, tt := range tests {
		got, ok := ActivityPoints(tt.action, tt.t, paris, off)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ActivityPoints(%q, %v) = (%d, %v), want (%d, %v)", tt.action, tt.t.In(paris), got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestActionsMatchActionPoints(t *testing.T) {
	if len(Actions) != len(ActionPoints) {
		t.Fatalf("Actions %q and ActionPoints %v disagree", Actions, ActionPoints)
	}
	for _, a := range Actions {
		if _, ok := ActionPoints[a]; !ok {
			t.Errorf("action %q has no points", a)
		}
	}
}

func mustLoadLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
