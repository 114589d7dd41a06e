package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Config is everything hookd reads from its environment (see
// docs/configuration.md).
// Every field has a default except the webhook secret, which must be set.
type Config struct {
	Secret              string
	SigningKeys         [][]byte // WEBHOOK_SIGNING_SECRET, decoded; nil = signatures off
	Port                int
	DataDir             string
	DatabaseURL         string
	OutboxListenURL     string         // OUTBOX_LISTEN_URL: where to LISTEN for captured events; DATABASE_URL by default
	OutboxPoll          time.Duration  // OUTBOX_POLL_INTERVAL: how often to look at the outbox without a NOTIFY
	Kinds               []Kind         // the kinds of work it runs; Kinds unless a test adds one
	Workers             map[string]int // workers per queue, from each kind's WorkersEnv
	Attempts            int
	Backoff             time.Duration
	Timezone            *time.Location
	TimezoneName        string
	OffPeak             OffPeak
	MinMatchScore       int
	VisionAPIKey        string
	VisionEndpoint      string
	WordlistDir         string // MODERATION_WORDLIST_DIR: extra spam and hate lists
	MaxBodyBytes        int64
	ShutdownTimeout     time.Duration
	BlockedDomains      []string
	Lease               time.Duration
	Retention           time.Duration
	Demo                bool
	LeaderboardDisabled bool             // LEADERBOARD_DISABLED: no redka.db, no leaderboard routes
	Clock               func() time.Time // the leaderboard's clock; nil = time.Now (tests inject one)
	LogLevel            string
	LogFormat           string
	MetricsToken        string // METRICS_TOKEN: /metrics wants it as a Bearer token; "" = open
	DashboardPassword   string // DASHBOARD_PASSWORD: enables /dashboard, behind HTTP Basic; "" = no dashboard
	// TextModeration is TEXT_MODERATION_*: the optional text-moderation
	// service (textmoderation.go).
	TextModeration TextModerationConfig
}

// defaultVisionEndpoint is Google's SafeSearch endpoint.
const defaultVisionEndpoint = "https://vision.googleapis.com/v1/images:annotate"

// LoadConfig reads the configuration from getenv. Errors name the variable
// at fault so a misconfigured deployment says what to fix.
func LoadConfig(getenv func(string) string) (Config, error) { return loadConfig(getenv, Kinds) }

// loadConfig is LoadConfig for a hookd running kinds.
func loadConfig(getenv func(string) string, kinds []Kind) (Config, error) {
	r := envReader{getenv: getenv}
	c := Config{
		Secret:              getenv("SUPABASE_WEBHOOK_SECRET"),
		Port:                r.intIn("PORT", 3001, 1, 65535),
		DataDir:             r.str("DATA_DIR", "./data"),
		DatabaseURL:         getenv("DATABASE_URL"),
		OutboxListenURL:     r.str("OUTBOX_LISTEN_URL", getenv("DATABASE_URL")),
		OutboxPoll:          r.duration("OUTBOX_POLL_INTERVAL", time.Second),
		Kinds:               kinds,
		Workers:             map[string]int{},
		Attempts:            r.intIn("JOB_ATTEMPTS", 3, 1, 100),
		Backoff:             time.Duration(r.intIn("JOB_BACKOFF_MS", 2000, 1, 3_600_000)) * time.Millisecond,
		TimezoneName:        r.str("ACTIVITY_TIMEZONE", "Europe/Paris"),
		MinMatchScore:       r.intIn("MIN_MATCH_SCORE", 40, 0, 100),
		VisionAPIKey:        getenv("GOOGLE_VISION_API_KEY"),
		VisionEndpoint:      r.str("VISION_ENDPOINT", defaultVisionEndpoint),
		MaxBodyBytes:        int64(r.intIn("MAX_BODY_BYTES", 1<<20, 1024, 64<<20)),
		ShutdownTimeout:     r.duration("SHUTDOWN_TIMEOUT", 25*time.Second),
		BlockedDomains:      r.domains("BLOCKED_DOMAINS"),
		WordlistDir:         strings.TrimSpace(getenv("MODERATION_WORDLIST_DIR")),
		Lease:               r.duration("JOB_LEASE", 60*time.Second),
		Retention:           r.duration("COMPLETED_RETENTION", 24*time.Hour),
		Demo:                r.boolean("DEMO_DATA"),
		LeaderboardDisabled: r.boolean("LEADERBOARD_DISABLED"),
		LogLevel:            r.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:           r.oneOf("LOG_FORMAT", "text", "text", "json"),
		MetricsToken:        getenv("METRICS_TOKEN"),
		DashboardPassword:   getenv("DASHBOARD_PASSWORD"),
	}
	for _, k := range c.Kinds {
		c.Workers[k.Queue] = r.intIn(k.WorkersEnv, k.Workers, 1, 1000)
	}
	c.TextModeration = loadTextModerationConfig(&r)
	if c.Secret == "" {
		r.fail("SUPABASE_WEBHOOK_SECRET is not set: hookd refuses to accept unauthenticated webhooks; set it to the secret your Supabase webhooks send in x-webhook-secret")
	}
	if keys, err := ParseSigningSecrets(getenv("WEBHOOK_SIGNING_SECRET")); err != nil {
		r.fail(fmt.Sprintf("WEBHOOK_SIGNING_SECRET: %v", err))
	} else {
		c.SigningKeys = keys
	}
	if loc, err := time.LoadLocation(c.TimezoneName); err != nil {
		r.fail(fmt.Sprintf("ACTIVITY_TIMEZONE=%q: %v", c.TimezoneName, err))
	} else {
		c.Timezone = loc
	}
	if off, err := ParseOffPeak(r.str("OFFPEAK_HOURS", "22-7")); err != nil {
		r.fail(fmt.Sprintf("OFFPEAK_HOURS: %v", err))
	} else {
		c.OffPeak = off
	}
	if u, err := url.Parse(c.VisionEndpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		r.fail(fmt.Sprintf("VISION_ENDPOINT=%q: want an http(s) URL", c.VisionEndpoint))
	}
	if c.Lease < time.Second {
		r.fail("JOB_LEASE must be at least 1s")
	}
	return c, errors.Join(r.errs...)
}

// Embedded reports whether results go to hookd.db (no DATABASE_URL).
func (c Config) Embedded() bool { return c.DatabaseURL == "" }

// StoreName names the results store for logs.
func (c Config) StoreName() string {
	if c.Embedded() {
		return "embedded"
	}
	return "postgres"
}

// StoreIdentity names the results store without a secret in it:
// "embedded", or "postgres:" and a digest of the database's host, port
// and name. Derived data (the leaderboard) records the store it was built
// from, and is rebuilt when it changes.
func (c Config) StoreIdentity() string {
	if c.Embedded() {
		return "embedded"
	}
	where := c.DatabaseURL
	if pc, err := pgconn.ParseConfig(c.DatabaseURL); err == nil {
		where = fmt.Sprintf("%s:%d/%s", pc.Host, pc.Port, pc.Database)
	}
	sum := sha256.Sum256([]byte(where))
	return "postgres:" + hex.EncodeToString(sum[:8])
}

// WorkersOf is how many jobs of kind k run at once.
func (c Config) WorkersOf(k Kind) int {
	if n, ok := c.Workers[k.Queue]; ok {
		return n
	}
	return max(k.Workers, 1)
}

// TotalWorkers is how many jobs of all kinds may run at once.
func (c Config) TotalWorkers() int {
	n := 0
	for _, k := range c.Kinds {
		n += c.WorkersOf(k)
	}
	return n
}

// envReader collects every configuration error instead of stopping at the
// first, so one start attempt reports them all.
type envReader struct {
	getenv func(string) string
	errs   []error
}

func (r *envReader) fail(msg string) { r.errs = append(r.errs, errors.New(msg)) }

func (r *envReader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *envReader) intIn(name string, def, min, max int) int {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		r.fail(fmt.Sprintf("%s=%q: want an integer in %d..%d", name, v, min, max))
		return def
	}
	return n
}

func (r *envReader) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(fmt.Sprintf("%s=%q: want a positive duration such as 25s", name, v))
		return def
	}
	return d
}

func (r *envReader) boolean(name string) bool {
	switch strings.ToLower(strings.TrimSpace(r.getenv(name))) {
	case "", "0", "false", "no", "off":
		return false
	case "1", "true", "yes", "on":
		return true
	default:
		r.fail(fmt.Sprintf("%s=%q: want 1 or 0", name, r.getenv(name)))
		return false
	}
}

// oneOf reads one of the allowed values, in any case.
func (r *envReader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(r.str(name, def))
	if !slices.Contains(allowed, v) {
		r.fail(fmt.Sprintf("%s=%q: want one of %s", name, r.getenv(name), strings.Join(allowed, ", ")))
		return def
	}
	return v
}

// domains reads a comma-separated list of domain names, lowercased. A
// leading "*." is dropped: a domain blocks its subdomains anyway.
func (r *envReader) domains(name string) []string {
	var out []string
	for _, part := range strings.Split(r.getenv(name), ",") {
		part = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(part)), "*.")
		switch {
		case part == "":
		case !isDomainName(part):
			r.fail(fmt.Sprintf("%s: %q is not a domain name such as spam.example", name, part))
		default:
			out = append(out, part)
		}
	}
	return out
}

// isDomainName accepts dot-separated labels of letters, digits and
// hyphens (punycode included), two labels at least.
func isDomainName(s string) bool {
	labels := strings.Split(s, ".")
	if len(s) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' ||
			strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return false
		}
	}
	return true
}
