package main

// An optional text-moderation service for post text, used the way Vision is
// used for images: with TEXT_MODERATION_API_KEY set, each post's text also
// goes to an OpenAI-compatible moderation endpoint, whose verdict adds to
// the rules'; a failure is retried through the queue, and after the last
// attempt the post is decided on the rules alone. The only data that leaves
// the machine: the post's text (never its links, images, author or ids),
// sent to TEXT_MODERATION_ENDPOINT with the key in a header.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults of the text-moderation variables: OpenAI's moderation endpoint
// and model, multilingual and free to use.
const (
	defaultTextModerationEndpoint = "https://api.openai.com/v1/moderations"
	defaultTextModerationModel    = "omni-moderation-latest"
)

// Text-moderation request limits.
const (
	textModerationTimeout  = 15 * time.Second
	textModerationMaxReply = 1 << 20 // bytes of response read at most
	// textModerationMaxInput is the most of a post's text sent, in bytes:
	// the rules read all of it, the service its first 32 KiB.
	textModerationMaxInput = 32 << 10
)

// TextModerationConfig is the text-moderation part of Config.
type TextModerationConfig struct {
	APIKey   string // TEXT_MODERATION_API_KEY; empty: no service
	Endpoint string // TEXT_MODERATION_ENDPOINT
	Model    string // TEXT_MODERATION_MODEL
}

// loadTextModerationConfig reads the TEXT_MODERATION_* variables.
func loadTextModerationConfig(r *envReader) TextModerationConfig {
	c := TextModerationConfig{
		APIKey:   strings.TrimSpace(r.getenv("TEXT_MODERATION_API_KEY")),
		Endpoint: r.str("TEXT_MODERATION_ENDPOINT", defaultTextModerationEndpoint),
		Model:    r.str("TEXT_MODERATION_MODEL", defaultTextModerationModel),
	}
	switch u, err := url.Parse(c.Endpoint); {
	case err == nil && u.User != nil:
		r.fail("TEXT_MODERATION_ENDPOINT: user info in the URL is refused (it would be sent in clear); the key goes in TEXT_MODERATION_API_KEY")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		r.fail(fmt.Sprintf("TEXT_MODERATION_ENDPOINT=%q: want an http(s) URL", c.Endpoint))
	}
	return c
}

// Client returns the client the configuration asks for, nil without a key.
func (c TextModerationConfig) Client() *TextModerationClient {
	if c.APIKey == "" {
		return nil
	}
	return NewTextModerationClient(c.Endpoint, c.APIKey, c.Model)
}

// TextModerationClient calls an OpenAI-compatible /v1/moderations endpoint.
type TextModerationClient struct {
	Endpoint string
	APIKey   string
	Model    string
	HTTP     *http.Client
}

// NewTextModerationClient returns a client for endpoint whose connections
// can only go to endpoint's host and port: the operator chose that address,
// so it may be a private one (a self-hosted model), and no other address,
// private or public, is ever dialled. Redirects are not followed, so an
// answer cannot send the post's text elsewhere.
func NewTextModerationClient(endpoint, apiKey, model string) *TextModerationClient {
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &TextModerationClient{
		Endpoint: endpoint,
		APIKey:   apiKey,
		Model:    model,
		HTTP:     newOutboundClient(pinnedDialer(endpoint), noRedirect, textModerationTimeout),
	}
}

// pinnedDialer dials endpoint's host and port only.
func pinnedDialer(endpoint string) func(context.Context, string, string) (net.Conn, error) {
	want := ""
	if u, err := url.Parse(endpoint); err == nil {
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		want = net.JoinHostPort(u.Hostname(), port)
	}
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if want == "" || addr != want {
			return nil, fmt.Errorf("outbound connection to %s: not the text-moderation endpoint: %w", addr, ErrForbiddenAddress)
		}
		return dialer.DialContext(ctx, network, addr)
	}
}

// The moderation request and response, as OpenAI documents them.
type (
	textModerationRequest struct {
		Model string `json:"model"`
		Input string `json:"input"`
	}
	textModerationResponse struct {
		Results []struct {
			Flagged        *bool              `json:"flagged"`
			Categories     map[string]bool    `json:"categories"`
			CategoryScores map[string]float64 `json:"category_scores"`
		} `json:"results"`
	}
)

// Moderate asks the service about text. Any failure (network, timeout, an
// answer other than 200, a reply that is not one result) is an error, to be
// retried; errors never hold the API key.
func (c *TextModerationClient) Moderate(ctx context.Context, text string) (TextVerdict, error) {
	if len(text) > textModerationMaxInput {
		text = strings.ToValidUTF8(text[:textModerationMaxInput], "")
	}
	v, err := c.moderate(ctx, text)
	if err != nil {
		return TextVerdict{}, redactKey(fmt.Errorf("text moderation: %w", err), c.APIKey)
	}
	return v, nil
}

func (c *TextModerationClient) moderate(ctx context.Context, text string) (TextVerdict, error) {
	body, err := json.Marshal(textModerationRequest{Model: c.Model, Input: text})
	if err != nil {
		return TextVerdict{}, fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint, bytes.NewReader(body))
	if err != nil {
		return TextVerdict{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return TextVerdict{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, textModerationMaxReply))
	if err != nil {
		return TextVerdict{}, fmt.Errorf("read reply: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "":
		return TextVerdict{}, fmt.Errorf("rate limited (HTTP 429, Retry-After %q)", shorten(resp.Header.Get("Retry-After")))
	case resp.StatusCode == http.StatusTooManyRequests:
		return TextVerdict{}, errors.New("rate limited (HTTP 429)")
	case resp.StatusCode != http.StatusOK:
		return TextVerdict{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, shorten(string(raw)))
	}
	return decodeTextModerationReply(raw)
}

// decodeTextModerationReply reads a 200 reply: exactly one result, with its
// flag and scores.
func decodeTextModerationReply(raw []byte) (TextVerdict, error) {
	var reply textModerationResponse
	if err := json.Unmarshal(raw, &reply); err != nil {
		return TextVerdict{}, fmt.Errorf("decode reply: %w", err)
	}
	if len(reply.Results) != 1 {
		return TextVerdict{}, fmt.Errorf("%d results for one input", len(reply.Results))
	}
	r := reply.Results[0]
	if r.Flagged == nil || r.CategoryScores == nil {
		return TextVerdict{}, errors.New("decode reply: result without flagged or category_scores")
	}
	for name, score := range r.CategoryScores {
		if math.IsNaN(score) || score < 0 || score > 1 {
			return TextVerdict{}, fmt.Errorf("decode reply: score %v for %q is not in 0..1", score, shorten(name))
		}
	}
	return TextVerdict{Flagged: *r.Flagged, Categories: r.Categories, Scores: r.CategoryScores}, nil
}

// ---- The service's verdict in the decision ----

// TextReport is what the processor learnt from the text-moderation
// service, for the decision in Moderate.
type TextReport struct {
	Enabled    bool         // the service is configured
	Verdict    *TextVerdict // its answer, or nil
	NotChecked string       // why it gave none (it kept failing), or ""
}

// TextVerdict is the service's answer on one text.
type TextVerdict struct {
	Flagged    bool
	Categories map[string]bool    // category → the service flags it
	Scores     map[string]float64 // category → score, 0 to 1
}

// Score thresholds of the service's categories. A category flags the post
// when the service marks it or its score reaches serviceFlagScore; the
// categories that block do so from their blockAt score.
const (
	serviceFlagScore  = 0.5
	serviceBlockScore = 0.8
	// Sexual content involving minors is never given the benefit of the
	// doubt: it blocks from this score.
	serviceMinorsScore = 0.2
)

// serviceCategory is how one of the service's categories weighs: the
// words moderators read, and the score from which it blocks (0: it never
// blocks, it only flags).
type serviceCategory struct {
	name, reason string
	blockAt      float64
}

// serviceCategories are the categories of OpenAI's moderation models.
var serviceCategories = []serviceCategory{
	{"harassment/threatening", "threat", serviceFlagScore},
	{"hate/threatening", "threat", serviceFlagScore},
	{"violence", "violence", serviceBlockScore},
	{"violence/graphic", "graphic violence", serviceBlockScore},
	{"self-harm/instructions", "self-harm: instructions", serviceFlagScore},
	{"self-harm/intent", "self-harm: intent", 0},
	{"self-harm", "self-harm", 0},
	{"hate", "hate", serviceBlockScore},
	{"harassment", "harassment", 0},
	{"sexual/minors", "sexual content involving minors", serviceMinorsScore},
	{"sexual", "sexual content", serviceBlockScore},
	{"illicit/violent", "illicit: violent", serviceBlockScore},
	{"illicit", "illicit", 0},
}

// checkTextService records the service's verdict: each category the service
// marks or scores serviceFlagScore or more flags the post, and blocks it
// from its blockAt score; a category hookd does not know flags it alike, and
// so does a post the service flags without any such category. Without an
// answer, the reasons say that the post was decided on the rules alone.
func (v *verdict) checkTextService(r TextReport) {
	switch {
	case !r.Enabled:
		return
	case r.Verdict == nil:
		if r.NotChecked != "" {
			v.add("moderation service not reached: "+r.NotChecked+"; decided on the rules alone", 0)
		}
		return
	}
	fired := false
	for _, c := range serviceCategories {
		fired = v.checkServiceCategory(r.Verdict, c) || fired
	}
	var unknown []string
	for name := range r.Verdict.Scores {
		if !slices.ContainsFunc(serviceCategories, func(c serviceCategory) bool { return c.name == name }) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		fired = v.checkServiceCategory(r.Verdict, serviceCategory{name: name, reason: "other"}) || fired
	}
	if r.Verdict.Flagged && !fired {
		v.decide("flagged by the moderation service", false)
	}
}

// checkServiceCategory records one category of the service's verdict, and
// reports whether it fired.
func (v *verdict) checkServiceCategory(tv *TextVerdict, c serviceCategory) bool {
	score := tv.Scores[c.name]
	blocks := c.blockAt > 0 && score >= c.blockAt
	if !tv.Categories[c.name] && score < serviceFlagScore && !blocks {
		return false
	}
	v.decide(fmt.Sprintf("%s (moderation service: %s %.2f)", c.reason, truncate(c.name, 40), score), blocks)
	return true
}
