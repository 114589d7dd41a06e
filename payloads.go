package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// The tasks below are what a webhook becomes once validated: handlers
// produce them, the queue stores them as JSON, workers consume them.

// JobTask asks for a job offer to be analysed and matched (SPEC §3).
type JobTask struct {
	JobID           string   `json:"jobId"`
	Title           string   `json:"title"`
	Description     string   `json:"description,omitempty"`
	CompanyID       string   `json:"company_id,omitempty"`
	Location        string   `json:"location,omitempty"`
	RequiredSkills  []string `json:"requiredSkills,omitempty"`
	ExperienceLevel string   `json:"experienceLevel,omitempty"`
}

// PostTask asks for a newsfeed post to be moderated.
type PostTask struct {
	PostID  string   `json:"postId"`
	Content string   `json:"content,omitempty"`
	Images  []string `json:"images,omitempty"`
	Links   []string `json:"links,omitempty"`
	UserID  string   `json:"userId,omitempty"`
}

// ActivityTask asks for a user action to be scored. OccurredAt is always
// set once accepted: the sender's occurredAt, else the time hookd received
// the webhook — never the processing time, so points do not depend on how
// long the job waited in the queue.
type ActivityTask struct {
	UserID     string    `json:"userId"`
	Action     string    `json:"action"`
	TargetID   string    `json:"targetId,omitempty"`
	TargetType string    `json:"targetType,omitempty"`
	OccurredAt time.Time `json:"occurredAt"`
}

// Input limits. A body within MAX_BODY_BYTES can still be refused field by
// field, so that no single value grows a row or a log line without bound.
const (
	maxIDLen         = 255
	maxTitleLen      = 500
	maxShortTextLen  = 255
	maxTypeLen       = 50
	maxSkills        = 100
	maxSkillLen      = 100
	maxURLs          = 50
	maxURLLen        = 8192
	maxFutureSkew    = time.Hour
	maxPastOccurence = 10 * 365 * 24 * time.Hour
)

// RequestError is a client mistake: it carries the HTTP status to answer
// and a message naming the offending field. Nothing is queued for it.
type RequestError struct {
	Status  int
	Message string
	Details any
}

func (e *RequestError) Error() string { return e.Message }

func badRequest(format string, args ...any) *RequestError {
	return &RequestError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// DecodeJob validates a POST /api/jobs/analyze body.
func DecodeJob(body []byte) (JobTask, error) {
	var t JobTask
	if err := decodeObject(body, &t); err != nil {
		return t, err
	}
	t.Title = strings.TrimSpace(t.Title)
	return t, firstError(
		checkID("jobId", t.JobID, true),
		checkText("title", t.Title, maxTitleLen, true),
		checkText("description", t.Description, 0, false),
		checkText("company_id", t.CompanyID, maxShortTextLen, false),
		checkText("location", t.Location, maxShortTextLen, false),
		checkText("experienceLevel", t.ExperienceLevel, maxTypeLen, false),
		checkList("requiredSkills", t.RequiredSkills, maxSkills, maxSkillLen),
	)
}

// DecodePost validates a POST /api/posts/moderate body.
func DecodePost(body []byte) (PostTask, error) {
	var t PostTask
	if err := decodeObject(body, &t); err != nil {
		return t, err
	}
	err := firstError(
		checkID("postId", t.PostID, true),
		checkID("userId", t.UserID, false),
		checkText("content", t.Content, 0, false),
		checkList("images", t.Images, maxURLs, maxURLLen),
		checkList("links", t.Links, maxURLs, maxURLLen),
	)
	if err == nil && strings.TrimSpace(t.Content) == "" && len(t.Images) == 0 && len(t.Links) == 0 {
		err = badRequest("content: at least one of content, images or links is required")
	}
	return t, err
}

// activityBody is the wire form: occurredAt is optional and validated here.
type activityBody struct {
	UserID     string  `json:"userId"`
	Action     string  `json:"action"`
	TargetID   string  `json:"targetId"`
	TargetType string  `json:"targetType"`
	OccurredAt *string `json:"occurredAt"`
}

// DecodeActivity validates a POST /api/activity/score body; received is
// when the webhook arrived, used when the sender gives no occurredAt.
func DecodeActivity(body []byte, received time.Time) (ActivityTask, error) {
	var b activityBody
	if err := decodeObject(body, &b); err != nil {
		return ActivityTask{}, err
	}
	t := ActivityTask{
		UserID:     b.UserID,
		Action:     strings.ToLower(strings.TrimSpace(b.Action)),
		TargetID:   b.TargetID,
		TargetType: b.TargetType,
		OccurredAt: received.UTC(),
	}
	err := firstError(
		checkID("userId", t.UserID, true),
		checkAction(t.Action),
		checkText("targetId", t.TargetID, maxShortTextLen, false),
		checkText("targetType", t.TargetType, maxTypeLen, false),
	)
	if err != nil {
		return t, err
	}
	if b.OccurredAt != nil {
		at, err := parseOccurredAt(*b.OccurredAt, received)
		if err != nil {
			return t, err
		}
		t.OccurredAt = at
	}
	return t, nil
}

func parseOccurredAt(s string, received time.Time) (time.Time, error) {
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return at, badRequest("occurredAt: want an RFC 3339 time such as 2024-01-15T23:30:00+01:00")
	}
	if at.After(received.Add(maxFutureSkew)) {
		return at, badRequest("occurredAt: more than %s in the future", maxFutureSkew)
	}
	if at.Before(received.Add(-maxPastOccurence)) {
		return at, badRequest("occurredAt: more than 10 years in the past")
	}
	return at.UTC(), nil
}

func checkAction(action string) error {
	if action == "" {
		return badRequest("action: required")
	}
	if _, ok := ActionPoints[action]; !ok {
		return &RequestError{
			Status:  http.StatusBadRequest,
			Message: fmt.Sprintf("action: unknown action %q; allowed: %s", truncate(action, 50), strings.Join(Actions, ", ")),
			Details: map[string]any{"field": "action", "allowed": Actions},
		}
	}
	return nil
}

// decodeObject decodes exactly one JSON object into dst, translating the
// decoder's errors into 400s that name the field.
func decodeObject(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return badRequest("body: unexpected data after the JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badRequest("body: must be a JSON object")
		}
		return badRequest("%s: must be %s, got %s", typeErr.Field, jsonKind(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return badRequest("body: invalid JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("body: empty or truncated JSON")
	default:
		return badRequest("body: invalid JSON: %s", err.Error())
	}
}

// jsonKind turns a Go type name into the JSON word a sender understands.
func jsonKind(goType string) string {
	switch {
	case goType == "string", goType == "*string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array of strings"
	case strings.HasPrefix(goType, "main."):
		return "an object"
	default:
		return goType
	}
}

// checkID enforces SPEC §3: 1–255 characters of letters, digits and -_.:@
func checkID(field, id string, required bool) error {
	if id == "" {
		if required {
			return badRequest("%s: required", field)
		}
		return nil
	}
	if len(id) > maxIDLen {
		return badRequest("%s: longer than %d characters", field, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !isIDByte(id[i]) {
			return badRequest("%s: only letters, digits and -_.:@ are allowed", field)
		}
	}
	return nil
}

// checkUUIDs enforces Postgres mode's rule: the app's keys are UUIDs.
// Empty optional ids were already accepted by checkID.
func checkUUIDs(ids []namedID) error {
	for _, id := range ids {
		if id.value != "" && !isUUID(id.value) {
			return badRequest("%s: must be a UUID (the results store is Postgres)", id.field)
		}
	}
	return nil
}

// isUUID accepts the canonical 8-4-4-4-12 hexadecimal form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'):
			return false
		}
	}
	return true
}

func isIDByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-_.:@", c) >= 0
}

// checkText checks a free-text field: valid UTF-8, no NUL, at most max
// characters (0 = bounded only by the body size), present when required.
func checkText(field, s string, max int, required bool) error {
	if problem := textProblem(s, max, required); problem != "" {
		return badRequest("%s: %s", field, problem)
	}
	return nil
}

func textProblem(s string, max int, required bool) string {
	switch {
	case required && strings.TrimSpace(s) == "":
		return "required"
	case !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0:
		return "must be valid UTF-8 text without NUL characters"
	case max > 0 && utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("longer than %d characters", max)
	}
	return ""
}

func checkList(field string, list []string, maxItems, maxLen int) error {
	if len(list) > maxItems {
		return badRequest("%s: more than %d items", field, maxItems)
	}
	for i, s := range list {
		if problem := textProblem(s, maxLen, false); problem != "" {
			return badRequest("%s[%d]: %s", field, i, problem)
		}
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
