package main

// Pure scoring rules: skill vocabulary, experience levels, candidate/job
// matching and activity points; moderation has its own files (moderation.go,
// normalize.go, links.go). Nothing here performs I/O or changes package state
// after initialisation, so every function is safe for concurrent use.

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ---- Skills ----

// skillAliases is the skill dictionary: canonical name → other spellings,
// written in lowercase. A spelling, canonical names included, belongs to one
// skill only; CanonicalSkill looks them up case-insensitively.
var skillAliases = map[string][]string{
	// Languages
	"Go":          {"golang", "go lang"},
	"Rust":        {"rustlang", "rust lang"},
	"Python":      {"python3", "python 3", "py"},
	"Java":        {"java se", "java ee", "jakarta ee", "j2ee", "core java"},
	"Kotlin":      nil,
	"Scala":       nil,
	"JavaScript":  {"js", "ecmascript", "es6", "vanilla js", "vanillajs"},
	"TypeScript":  {"ts"},
	"C":           {"ansi c", "c language", "langage c"},
	"C++":         {"cpp", "cplusplus", "c plus plus"},
	"C#":          {"csharp", "c sharp"},
	"F#":          {"fsharp"},
	"PHP":         nil,
	"Ruby":        nil,
	"Swift":       nil,
	"Objective-C": {"objective c", "objectivec", "objc", "obj-c"},
	"Dart":        nil,
	"Haskell":     nil,
	"Elixir":      nil,
	"Erlang":      nil,
	"Clojure":     nil,
	"OCaml":       nil,
	"Perl":        nil,
	"R":           {"r language", "langage r", "rstats"},
	"MATLAB":      nil,
	"Lua":         nil,
	"COBOL":       nil,
	"Fortran":     nil,
	"VBA":         {"visual basic for applications"},
	"Solidity":    nil,
	"Bash":        {"bash scripting"},
	"PowerShell":  {"pwsh"},
	"SQL":         nil,
	"WebAssembly": {"wasm"},

	// Web front end
	"HTML":         {"html5"},
	"CSS":          {"css3"},
	"Sass":         {"scss"},
	"Tailwind CSS": {"tailwind", "tailwindcss"},
	"jQuery":       nil,
	"React":        {"reactjs", "react.js"},
	"Angular":      {"angular2"},
	"AngularJS":    {"angular.js", "angular 1"},
	"Vue.js":       {"vue", "vuejs", "vue js"},
	"Svelte":       {"sveltejs", "sveltekit"},
	"Next.js":      {"nextjs", "next js"},
	"Nuxt":         {"nuxtjs", "nuxt.js"},
	"Redux":        {"redux toolkit"},
	"RxJS":         nil,
	"Three.js":     {"threejs"},
	"D3.js":        {"d3", "d3js"},
	"Webpack":      nil,
	"Vite":         {"vitejs", "vite.js"},
	"Storybook":    nil,

	// Back end and architecture
	"Node.js":          {"node", "nodejs", "node js"},
	"Deno":             nil,
	"Express":          {"express.js", "expressjs"},
	"NestJS":           {"nest.js", "nest"},
	".NET":             {"dotnet", "dot net", ".net core", ".net framework", "dotnet core"},
	"ASP.NET":          {"asp.net core", "asp.net mvc", "aspnet", "aspnet core"},
	"Django":           {"django rest framework", "drf"},
	"Flask":            nil,
	"FastAPI":          {"fast api"},
	"Spring":           {"spring boot", "springboot", "spring framework", "spring mvc"},
	"Quarkus":          nil,
	"Micronaut":        nil,
	"Hibernate":        {"hibernate orm"},
	"Rails":            {"ruby on rails", "ror", "rubyonrails"},
	"Laravel":          nil,
	"Symfony":          nil,
	"Prisma":           nil,
	"GraphQL":          nil,
	"REST":             {"restful", "rest api", "rest apis", "restful api", "restful apis"},
	"gRPC":             nil,
	"Protocol Buffers": {"protobuf"},
	"WebSockets":       {"websocket", "web sockets"},
	"OAuth":            {"oauth2", "oauth 2.0"},
	"Microservices":    {"microservice", "micro-services", "micro services"},
	"Serverless":       nil,
	"Electron":         {"electronjs", "electron.js"},

	// Mobile
	"Flutter":              nil,
	"React Native":         {"react-native", "reactnative", "rn"},
	"Kotlin Multiplatform": {"kmp", "kmm", "kotlin multiplatform mobile"},
	"Ionic":                {"ionic framework"},
	"Xamarin":              {"xamarin.forms"},
	"SwiftUI":              {"swift ui"},
	"Jetpack Compose":      nil,
	"Android":              {"android sdk"},
	"iOS":                  {"ios sdk"},

	// Databases and messaging
	"PostgreSQL":      {"postgres", "psql", "pgsql", "postgre"},
	"MySQL":           nil,
	"MariaDB":         nil,
	"SQLite":          {"sqlite3"},
	"SQL Server":      {"mssql", "ms sql", "microsoft sql server", "t-sql", "tsql"},
	"Oracle Database": {"oracle", "oracle db"},
	"MongoDB":         {"mongo", "mongo db"},
	"Redis":           nil,
	"Elasticsearch":   {"elastic search"},
	"OpenSearch":      nil,
	"Cassandra":       {"apache cassandra"},
	"DynamoDB":        {"dynamo db"},
	"Neo4j":           nil,
	"ClickHouse":      nil,
	"BigQuery":        {"google bigquery"},
	"Snowflake":       nil,
	"Redshift":        {"amazon redshift"},
	"NoSQL":           nil,
	"Supabase":        nil,
	"Firebase":        {"firestore"},
	"Kafka":           {"apache kafka"},
	"RabbitMQ":        {"rabbit mq"},

	// Cloud, DevOps and observability
	"Docker":         {"docker compose", "docker-compose"},
	"Kubernetes":     {"k8s"},
	"Helm":           nil,
	"OpenShift":      nil,
	"Istio":          nil,
	"Terraform":      nil,
	"Pulumi":         nil,
	"Ansible":        nil,
	"AWS":            {"amazon web services"},
	"AWS Lambda":     nil,
	"GCP":            {"google cloud", "google cloud platform"},
	"Azure":          {"microsoft azure"},
	"Heroku":         nil,
	"Vercel":         nil,
	"Netlify":        nil,
	"Cloudflare":     nil,
	"Linux":          {"gnu/linux"},
	"Unix":           nil,
	"Git":            nil,
	"GitHub Actions": {"gh actions"},
	"GitLab CI":      {"gitlab-ci", "gitlab ci/cd"},
	"CircleCI":       {"circle ci"},
	"Jenkins":        nil,
	"Argo CD":        {"argocd"},
	"CI/CD":          {"ci-cd", "ci cd", "cicd", "continuous integration", "continuous delivery", "continuous deployment"},
	"DevOps":         nil,
	"Nginx":          nil,
	"Apache":         {"apache http server", "apache httpd", "httpd"},
	"Traefik":        nil,
	"Prometheus":     nil,
	"Grafana":        nil,
	"Kibana":         nil,
	"Datadog":        nil,
	"Sentry":         nil,
	"OpenTelemetry":  {"otel"},

	// Data and machine learning
	"Pandas":           nil,
	"NumPy":            nil,
	"SciPy":            nil,
	"TensorFlow":       nil,
	"Keras":            nil,
	"PyTorch":          {"torch"},
	"scikit-learn":     {"sklearn", "scikit learn", "scikit"},
	"Spark":            {"apache spark", "pyspark"},
	"Hadoop":           {"apache hadoop"},
	"Flink":            {"apache flink"},
	"Airflow":          {"apache airflow"},
	"dbt":              {"data build tool"},
	"Databricks":       nil,
	"Tableau":          nil,
	"Power BI":         {"powerbi"},
	"Jupyter":          {"jupyter notebook", "jupyter notebooks"},
	"MLflow":           nil,
	"Machine Learning": {"ml"},
	"Deep Learning":    {"dl"},
	"NLP":              {"natural language processing"},
	"Computer Vision":  nil,
	"LLM":              {"llms", "large language model", "large language models"},
	"OpenAI":           {"openai api"},
	"LangChain":        nil,
	"Hugging Face":     {"huggingface"},

	// Testing and build
	"Jest":       nil,
	"Vitest":     nil,
	"Cypress":    nil,
	"Selenium":   nil,
	"Playwright": nil,
	"JUnit":      {"junit5", "junit 5"},
	"pytest":     {"py.test"},
	"Postman":    nil,
	"Maven":      {"apache maven"},
	"Gradle":     nil,
	"npm":        nil,

	// Design, content and business platforms
	"Figma":      nil,
	"Jira":       nil,
	"WordPress":  {"wp"},
	"Drupal":     nil,
	"Strapi":     nil,
	"Shopify":    nil,
	"Magento":    nil,
	"Salesforce": {"sfdc"},
	"SAP":        {"sap erp", "sap s/4hana"},

	// Games and blockchain
	"Unity":         {"unity3d", "unity 3d"},
	"Unreal Engine": {"unreal", "ue4", "ue5"},
	"Blockchain":    nil,
	"Web3":          nil,
}

// everydayWords are dictionary spellings, written here as they appear in a
// technical text, that are also ordinary English or French words ("rest",
// "spring", "vite", "tableau", "vue", "go"). ExtractSkills counts them only
// when written exactly so and not opening a sentence; the unambiguous
// spellings of the same skills ("Spring Boot", "golang", "Vue.js") match
// freely. Single letters ("C", "R") must moreover stand between spaces or list
// punctuation, which rules out "R&D", "C-level" and "C'est".
var everydayWords = []string{
	"Go", "C", "R", "REST", "Express", "Spring", "Spark", "Rails", "Bash",
	"Helm", "Unity", "SAP", "Node",
	"Vite",    // French "vite", quickly
	"Tableau", // French "tableau", table
	"Vue",     // French "vue", view
}

// wordContext lists the words that, right before or after a spelling in free
// text, show that it means something else.
type wordContext struct{ before, after []string }

// misleadingContexts holds the wordContext of dictionary spellings, as written
// there: "Let's Go", "Go to" and "go-to" are no language, "Apache Kafka" is
// Kafka rather than the web server, "React Native" is not React.
var misleadingContexts = map[string]wordContext{
	"Go":     {before: []string{"let's ", "let’s ", "lets "}, after: []string{" to", " ahead", "-to"}},
	"Apache": {after: []string{" kafka", " spark", " airflow", " cassandra", " hadoop", " flink", " maven"}},
	"React":  {after: []string{" native"}},
}

// rulesOut reports whether the words around s[start:end] are misleading.
func (c wordContext) rulesOut(s string, start, end int) bool {
	return slices.ContainsFunc(c.before, func(w string) bool { return wordPrecedes(s, start, w) }) ||
		slices.ContainsFunc(c.after, func(w string) bool { return wordFollows(s, end, w) })
}

// listOnlyAliases are spellings accepted in skill lists but too ambiguous to
// look for in free text ("a nest of…", "py", "dl").
var listOnlyAliases = map[string]bool{
	"nest":   true,
	"py":     true,
	"rn":     true,
	"wp":     true,
	"dl":     true,
	"torch":  true,
	"unreal": true,
}

// skillIndex maps every lowercase spelling, canonical names included, to its
// canonical name.
var skillIndex = buildSkillIndex()

func buildSkillIndex() map[string]string {
	index := make(map[string]string)
	for name, aliases := range skillAliases {
		index[strings.ToLower(name)] = name
		for _, alias := range aliases {
			index[strings.ToLower(alias)] = name
		}
	}
	return index
}

// CanonicalSkill maps a spelling to the dictionary's canonical name,
// case-insensitively, after trimming and collapsing inner whitespace:
// "golang" → "Go", "react.js" → "React", "psql" → "PostgreSQL". An unknown
// skill is returned trimmed with whitespace collapsed, its case kept; a blank
// one becomes "".
func CanonicalSkill(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if name, ok := skillIndex[strings.ToLower(s)]; ok {
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
		for _, alias := range skillAliases[name] {
			out = append(out, strings.ToLower(alias))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ExtractSkills returns the canonical dictionary skills mentioned in free text
// such as a job title or description, sorted case-insensitively.
//
// Spellings match case-insensitively on word boundaries, where a dot glued to
// a letter counts as part of the word: "Java" is not found in "JavaScript",
// "js" not in "Node.js", and ".NET" not in "ASP.NET" — "ASP.NET Core" yields
// ASP.NET alone. Spellings that are everyday words follow the stricter rules
// of everydayWords and misleadingContexts: "C" is not found in "C++", and "Go"
// is the language in "We use Go" but not in "Let's go", "Go to our site" or
// "a go-to tool". A title that opens with "Go" ("Go developer") is not counted
// either, while "golang" always is.
func ExtractSkills(text string) []string {
	lower := strings.ToLower(text)
	found := make(map[string]bool)
	for _, m := range textMatchers {
		haystack := lower
		if m.exactCase {
			haystack = text
		}
		if !found[m.skill] && m.foundIn(haystack) {
			found[m.skill] = true
		}
	}
	names := slices.Collect(maps.Keys(found))
	sortFold(names)
	return names
}

// textMatcher looks for one spelling of a skill in free text.
type textMatcher struct {
	skill     string
	spelling  string      // lowercase, unless exactCase
	exactCase bool        // an everyday word: see everydayWords
	context   wordContext // see misleadingContexts
}

// textMatchers holds a matcher per spelling that may appear in free text.
var textMatchers = buildTextMatchers()

func buildTextMatchers() []textMatcher {
	var matchers []textMatcher
	for name, aliases := range skillAliases {
		for _, spelling := range append([]string{name}, aliases...) {
			if !listOnlyAliases[spelling] {
				matchers = append(matchers, newTextMatcher(name, spelling))
			}
		}
	}
	return matchers
}

// newTextMatcher returns the matcher for one dictionary spelling of skill.
func newTextMatcher(skill, spelling string) textMatcher {
	m := textMatcher{skill: skill, spelling: strings.ToLower(spelling), context: misleadingContexts[spelling]}
	if i := slices.IndexFunc(everydayWords, func(w string) bool { return strings.EqualFold(w, spelling) }); i >= 0 {
		m.spelling, m.exactCase = everydayWords[i], true
	}
	return m
}

// foundIn reports whether the spelling occurs in s as a skill mention.
func (m textMatcher) foundIn(s string) bool {
	for start := range occurrences(s, m.spelling) {
		if m.mentionAt(s, start, start+len(m.spelling)) {
			return true
		}
	}
	return false
}

// mentionAt reports whether the occurrence s[start:end] names the skill.
func (m textMatcher) mentionAt(s string, start, end int) bool {
	if !skillBoundaryBefore(s, start) || !skillBoundaryAfter(s, end) || m.context.rulesOut(s, start, end) {
		return false
	}
	if !m.exactCase {
		return true
	}
	if len(m.spelling) == 1 && !(standsAlone(runeBefore(s, start)) && standsAlone(runeAt(s, end))) {
		return false
	}
	return !opensSentence(s, start)
}

// skillBoundaryBefore reports whether a skill name may start at s[i]: no word
// character before it, nor a dot glued to one ("js" in "node.js").
func skillBoundaryBefore(s string, i int) bool {
	r := runeBefore(s, i)
	if r == '.' {
		r = runeBefore(s, i-1)
	}
	return !isWordRune(r)
}

// skillBoundaryAfter reports whether a skill name may end at s[i]: no word
// character after it, nor a dot glued to one ("vue" in "vue.js").
func skillBoundaryAfter(s string, i int) bool {
	r := runeAt(s, i)
	if r == '.' {
		r = runeAt(s, i+1)
	}
	return !isWordRune(r)
}

// wordPrecedes reports whether word w ends right at s[i], case-insensitively,
// rather than closing a longer word ("lets " vs "outlets ").
func wordPrecedes(s string, i int, w string) bool {
	start := i - len(w)
	return start >= 0 && strings.EqualFold(s[start:i], w) && !isWordRune(runeBefore(s, start))
}

// wordFollows reports whether s continues at i with word w, case-insensitively,
// and w ends there rather than opening a longer word (" to" vs " today").
func wordFollows(s string, i int, w string) bool {
	end := i + len(w)
	return end <= len(s) && strings.EqualFold(s[i:end], w) && !isWordRune(runeAt(s, end))
}

// standsAlone reports whether r may border a single-letter skill name: text
// edge, space or list punctuation.
func standsAlone(r rune) bool {
	return r == noRune || unicode.IsSpace(r) || strings.ContainsRune(",;/().", r)
}

// opensSentence reports whether s[i] is the first word of the text or of a
// sentence.
func opensSentence(s string, i int) bool {
	before := strings.TrimRightFunc(s[:i], unicode.IsSpace)
	last, _ := utf8.DecodeLastRuneInString(before)
	return before == "" || strings.ContainsRune(".!?", last)
}

// sortFold sorts names case-insensitively, which keeps "jQuery" among the J's.
func sortFold(names []string) {
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a), strings.ToLower(b)), cmp.Compare(a, b))
	})
}

// ---- Levels ----

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

// ---- Matching ----

// JobProfile is what MatchScore needs to know about a job offer.
type JobProfile struct {
	Skills   []string // canonical, deduplicated (output of CanonicalSkills)
	Level    string   // raw experience level, may be blank
	Location string   // raw, e.g. "Paris, France", "Remote", ""
}

// CandidateProfile is what MatchScore needs to know about a candidate.
type CandidateProfile struct {
	Skills   []string // raw, any spelling
	Level    string
	Location string
}

// maxSkillPoints is the skill part of a score when the candidate has every
// skill of the job.
const maxSkillPoints = 70

// remoteLocations are the location names, in looseKey form, meaning remote work.
var remoteLocations = map[string]bool{
	"remote":              true,
	"full remote":         true,
	"fully remote":        true,
	"100% remote":         true,
	"remote only":         true,
	"anywhere":            true,
	"teletravail":         true,
	"full teletravail":    true,
	"100% teletravail":    true,
	"teletravail complet": true,
	"en teletravail":      true,
	"a distance":          true,
}

// MatchScore scores a candidate against a job out of 100 and returns the
// job's skills the candidate has (canonical names, sorted). A candidate
// sharing no skill gets (0, nil).
//
// The score is the sum, rounded half up, of three parts:
//   - skills: 70 × shared skills / job skills, the candidate's skills being
//     canonicalised first;
//   - level: 20 if the job names no known level or the candidate's level is
//     the same, 15 if it is one above, 10 one below, otherwise 0;
//   - location: 10 if the job is remote, has no location or is in the
//     candidate's city (the first comma-separated part, ignoring case and
//     accents), 5 if only the candidate is remote, otherwise 0.
func MatchScore(job JobProfile, c CandidateProfile) (int, []string) {
	return NewMatcher(job).Score(c)
}

// Matcher is MatchScore for many candidates of one job. It remembers the
// reading of every distinct skill spelling, level and location it meets:
// candidates repeat the same few, so scoring tens of thousands of them
// costs little more than a few map lookups each. A Matcher is not safe for
// concurrent use.
type Matcher struct {
	job       JobProfile
	skills    []string       // the job's skills, canonical and sorted
	skillAt   map[string]int // raw spelling → index in skills, -1 if not a job skill
	levels    map[string]int // raw level → level points
	locations map[string]int // raw location → location points
	has       []bool         // scratch: which job skills the candidate has
}

// NewMatcher prepares to score candidates against job.
func NewMatcher(job JobProfile) *Matcher {
	skills := CanonicalSkills(job.Skills) // a no-op for well-formed profiles
	return &Matcher{
		job:       job,
		skills:    skills,
		skillAt:   make(map[string]int),
		levels:    make(map[string]int),
		locations: make(map[string]int),
		has:       make([]bool, len(skills)),
	}
}

// Score is MatchScore(job, c) for the Matcher's job.
func (m *Matcher) Score(c CandidateProfile) (int, []string) {
	clear(m.has)
	shared := 0
	for _, raw := range c.Skills {
		if i := m.skillIndex(raw); i >= 0 && !m.has[i] {
			m.has[i] = true
			shared++
		}
	}
	if shared == 0 {
		return 0, nil
	}
	names := make([]string, 0, shared)
	for i, ok := range m.has {
		if ok {
			names = append(names, m.skills[i])
		}
	}
	// Work in units of 1/len(skills) point so that rounding is exact.
	n := len(m.skills)
	total := maxSkillPoints*shared + n*(m.levelPoints(c.Level)+m.locationPoints(c.Location))
	return roundHalfUp(total, n), names
}

func (m *Matcher) skillIndex(raw string) int {
	if i, ok := m.skillAt[raw]; ok {
		return i
	}
	i := slices.IndexFunc(m.skills, func(s string) bool { return strings.EqualFold(s, CanonicalSkill(raw)) })
	m.skillAt[raw] = i
	return i
}

func (m *Matcher) levelPoints(raw string) int {
	p, ok := m.levels[raw]
	if !ok {
		p = levelPoints(m.job.Level, raw)
		m.levels[raw] = p
	}
	return p
}

func (m *Matcher) locationPoints(raw string) int {
	p, ok := m.locations[raw]
	if !ok {
		p = locationPoints(m.job.Location, raw)
		m.locations[raw] = p
	}
	return p
}

// levelPoints is the level part of MatchScore.
func levelPoints(jobLevel, candidateLevel string) int {
	job, ok := ParseLevel(jobLevel)
	if !ok {
		return 20
	}
	candidate, ok := ParseLevel(candidateLevel)
	switch {
	case !ok:
		return 0
	case candidate == job:
		return 20
	case candidate == job+1:
		return 15
	case candidate == job-1:
		return 10
	}
	return 0
}

// locationPoints is the location part of MatchScore.
func locationPoints(jobLocation, candidateLocation string) int {
	job, candidate := cityKey(jobLocation), cityKey(candidateLocation)
	switch {
	case job == "" || remoteLocations[job] || job == candidate:
		return 10
	case remoteLocations[candidate]:
		return 5
	}
	return 0
}

// cityKey returns the comparable city of a location: its first
// comma-separated part in looseKey form ("Paris, France" → "paris").
func cityKey(location string) string {
	city, _, _ := strings.Cut(location, ",")
	return looseKey(city)
}

// roundHalfUp returns num/den rounded half up, for non-negative num and
// positive den.
func roundHalfUp(num, den int) int {
	return (2*num + den) / (2 * den)
}

// ---- Text normalisation ----

// accentFolds lists accented Latin-1 and Latin Extended-A letters by their
// plain form.
var accentFolds = []struct{ plain, accented string }{
	{"a", "àáâãäåāăą"}, {"A", "ÀÁÂÃÄÅĀĂĄ"},
	{"ae", "æ"}, {"AE", "Æ"},
	{"c", "çćĉċč"}, {"C", "ÇĆĈĊČ"},
	{"d", "ďđð"}, {"D", "ĎĐÐ"},
	{"e", "èéêëēĕėęě"}, {"E", "ÈÉÊËĒĔĖĘĚ"},
	{"g", "ĝğġģ"}, {"G", "ĜĞĠĢ"},
	{"h", "ĥħ"}, {"H", "ĤĦ"},
	{"i", "ìíîïĩīĭįı"}, {"I", "ÌÍÎÏĨĪĬĮİ"},
	{"ij", "ĳ"}, {"IJ", "Ĳ"},
	{"j", "ĵ"}, {"J", "Ĵ"},
	{"k", "ķĸ"}, {"K", "Ķ"},
	{"l", "ĺļľŀł"}, {"L", "ĹĻĽĿŁ"},
	{"n", "ñńņňŉŋ"}, {"N", "ÑŃŅŇŊ"},
	{"o", "òóôõöøōŏő"}, {"O", "ÒÓÔÕÖØŌŎŐ"},
	{"oe", "œ"}, {"OE", "Œ"},
	{"r", "ŕŗř"}, {"R", "ŔŖŘ"},
	{"s", "śŝşšſ"}, {"S", "ŚŜŞŠ"},
	{"ss", "ß"},
	{"t", "ţťŧ"}, {"T", "ŢŤŦ"},
	{"th", "þ"}, {"TH", "Þ"},
	{"u", "ùúûüũūŭůűų"}, {"U", "ÙÚÛÜŨŪŬŮŰŲ"},
	{"w", "ŵ"}, {"W", "Ŵ"},
	{"y", "ýÿŷ"}, {"Y", "ÝŶŸ"},
	{"z", "źżž"}, {"Z", "ŹŻŽ"},
}

// accentReplacer applies accentFolds.
var accentReplacer = buildAccentReplacer()

func buildAccentReplacer() *strings.Replacer {
	var pairs []string
	for _, f := range accentFolds {
		for _, r := range f.accented {
			pairs = append(pairs, string(r), f.plain)
		}
	}
	return strings.NewReplacer(pairs...)
}

// foldAccents replaces accented Latin letters by their plain forms, keeping
// case: "Été à Montréal" → "Ete a Montreal", "Œuvre" → "OEuvre".
func foldAccents(s string) string {
	return accentReplacer.Replace(s)
}

// looseKey folds case and accents, reads hyphens and underscores as spaces
// and typographic apostrophes as plain ones, and collapses whitespace, so that
// "Saint-Étienne" equals "saint etienne" and "l’argent" equals "l'argent".
func looseKey(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '-', '_':
			return ' '
		case '’', 'ʼ':
			return '\''
		}
		return r
	}, foldAccents(s))
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// occurrences yields the byte offset of every occurrence of sub in s,
// overlapping ones included.
func occurrences(s, sub string) iter.Seq[int] {
	return func(yield func(int) bool) {
		if sub == "" {
			return
		}
		for i := 0; ; {
			k := strings.Index(s[i:], sub)
			if k < 0 || !yield(i+k) {
				return
			}
			i += k + 1
		}
	}
}

// containsWord reports whether phrase occurs in text with no letter or digit
// glued to either end.
func containsWord(text, phrase string) bool {
	for i := range occurrences(text, phrase) {
		if !isWordRune(runeBefore(text, i)) && !isWordRune(runeAt(text, i+len(phrase))) {
			return true
		}
	}
	return false
}

// noRune stands for the missing neighbour at either edge of a text.
const noRune rune = -1

// runeBefore returns the rune ending at byte offset i of s, or noRune at the start.
func runeBefore(s string, i int) rune {
	if i <= 0 {
		return noRune
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return r
}

// runeAt returns the rune starting at byte offset i of s, or noRune at the end.
func runeAt(s string, i int) rune {
	if i >= len(s) {
		return noRune
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

// isWordRune reports whether r can be part of a word.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// ---- Activity ----

// ActionPoints are the base points per action.
var ActionPoints = map[string]int{"view": 1, "like": 5, "comment": 10, "share": 15, "apply": 20}

// Actions lists the allowed actions in a stable order, for error messages.
var Actions = []string{"view", "like", "comment", "share", "apply"}

// OffPeak is a window of local hours, Start inclusive, End exclusive; it may
// wrap midnight (22-7). A window whose Start equals its End, such as the zero
// OffPeak, is empty.
type OffPeak struct{ Start, End int }

// ParseOffPeak parses a window written "START-END" in whole hours 0..23, such
// as "22-7". Start and end must differ; errors name the bad part.
func ParseOffPeak(s string) (OffPeak, error) {
	startText, endText, ok := strings.Cut(s, "-")
	if !ok {
		return OffPeak{}, fmt.Errorf("off-peak window %q: want START-END in hours, e.g. 22-7", s)
	}
	start, err := parseHour(startText)
	if err != nil {
		return OffPeak{}, fmt.Errorf("off-peak window %q: start %w", s, err)
	}
	end, err := parseHour(endText)
	if err != nil {
		return OffPeak{}, fmt.Errorf("off-peak window %q: end %w", s, err)
	}
	if start == end {
		return OffPeak{}, fmt.Errorf("off-peak window %q: start and end are both %d, the window would be empty", s, start)
	}
	return OffPeak{Start: start, End: end}, nil
}

// parseHour parses a whole hour of the day, 0..23.
func parseHour(s string) (int, error) {
	s = strings.TrimSpace(s)
	h, err := strconv.Atoi(s)
	if err != nil || h < 0 || h > 23 {
		return 0, fmt.Errorf("%q is not an hour 0-23", s)
	}
	return h, nil
}

// Contains reports whether t, seen in loc (t's own location when loc is nil),
// falls in the window.
func (o OffPeak) Contains(t time.Time, loc *time.Location) bool {
	if loc != nil {
		t = t.In(loc)
	}
	h := t.Hour()
	if o.Start <= o.End {
		return o.Start <= h && h < o.End
	}
	return h >= o.Start || h < o.End
}

// ActivityPoints returns the points for action at time t: its base points,
// times 1.5 rounded half up when t falls in the off-peak window seen in loc.
// An unknown action gets (0, false).
func ActivityPoints(action string, t time.Time, loc *time.Location, off OffPeak) (int, bool) {
	base, ok := ActionPoints[action]
	if !ok {
		return 0, false
	}
	if off.Contains(t, loc) {
		return roundHalfUp(3*base, 2), true
	}
	return base, true
}
