package main

import (
	"bytes"
	"cmp"
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

// OfferTask asks for a job offer to be analysed and matched.
type OfferTask struct {
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
	// EventKey names the row event an envelope brought
	// (table:INSERT:id[:updated_at]), "" for the direct form: the same
	// event arriving twice, by webhook and by capture, scores once.
	EventKey string `json:"eventKey,omitempty"`
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

// Decoded is a webhook body once validated, in either form: the task to
// queue, or the reason an envelope needs no work.
type Decoded[T any] struct {
	Task T
	// Skip, when set, says why nothing is queued; Task is then empty.
	Skip string
	// RowKey names an envelope INSERT's row event, table:INSERT:id[:updated_at],
	// so that a repeated delivery is recognised without any header; "" otherwise.
	RowKey string
}

// fieldNames maps a task field's direct-form name to the name the sender
// used, so that every 400 names the field as it appears in the body: nil
// for the direct form, record columns for an envelope.
type fieldNames map[string]string

func (n fieldNames) of(field string) string {
	if name, ok := n[field]; ok {
		return name
	}
	return field
}

// DecodeOffer validates a POST /api/jobs/analyze body: the direct form or a
// jobs envelope, told apart in the same decoding pass.
func DecodeOffer(body []byte) (Decoded[OfferTask], error) {
	var b struct {
		OfferTask
		envelopeKeys
	}
	if err := decodeObject(body, &b); err != nil {
		return Decoded[OfferTask]{}, err
	}
	if b.isEnvelope() {
		return decodeJobsEnvelope(b.envelopeKeys)
	}
	t := b.OfferTask
	err := t.check(nil)
	return Decoded[OfferTask]{Task: t}, err
}

// check trims and validates a job task.
func (t *OfferTask) check(names fieldNames) error {
	t.Title = strings.TrimSpace(t.Title)
	return firstError(
		checkID(names.of("jobId"), t.JobID, true),
		checkText(names.of("title"), t.Title, maxTitleLen, true),
		checkText(names.of("description"), t.Description, 0, false),
		checkText(names.of("company_id"), t.CompanyID, maxShortTextLen, false),
		checkText(names.of("location"), t.Location, maxShortTextLen, false),
		checkText(names.of("experienceLevel"), t.ExperienceLevel, maxTypeLen, false),
		checkList(names.of("requiredSkills"), t.RequiredSkills, maxSkills, maxSkillLen),
	)
}

// DecodePost validates a POST /api/posts/moderate body: the direct form or
// a posts envelope.
func DecodePost(body []byte) (Decoded[PostTask], error) {
	var b struct {
		PostTask
		envelopeKeys
	}
	if err := decodeObject(body, &b); err != nil {
		return Decoded[PostTask]{}, err
	}
	if b.isEnvelope() {
		return decodePostsEnvelope(b.envelopeKeys)
	}
	t := b.PostTask
	err := t.check(nil)
	return Decoded[PostTask]{Task: t}, err
}

// check validates a post task: an id, and something to moderate.
func (t *PostTask) check(names fieldNames) error {
	err := firstError(
		checkID(names.of("postId"), t.PostID, true),
		checkID(names.of("userId"), t.UserID, false),
		checkText(names.of("content"), t.Content, 0, false),
		checkList(names.of("images"), t.Images, maxURLs, maxURLLen),
		checkList(names.of("links"), t.Links, maxURLs, maxURLLen),
	)
	if err == nil && strings.TrimSpace(t.Content) == "" && len(t.Images) == 0 && len(t.Links) == 0 {
		content, images, links := names.of("content"), names.of("images"), names.of("links")
		err = badRequest("%s: at least one of %s, %s or %s is required", content, content, images, links)
	}
	return err
}

// activityBody is the wire form: occurredAt is optional and validated here.
type activityBody struct {
	UserID     string  `json:"userId"`
	Action     string  `json:"action"`
	TargetID   string  `json:"targetId"`
	TargetType string  `json:"targetType"`
	OccurredAt *string `json:"occurredAt"`
}

// DecodeActivity validates a POST /api/activity/score body: the direct
// form or an activity envelope. received is when the webhook arrived, the
// event time when the sender gives none.
func DecodeActivity(body []byte, received time.Time) (Decoded[ActivityTask], error) {
	var b struct {
		activityBody
		envelopeKeys
	}
	if err := decodeObject(body, &b); err != nil {
		return Decoded[ActivityTask]{}, err
	}
	if b.isEnvelope() {
		return decodeActivityEnvelope(b.envelopeKeys, received)
	}
	t := ActivityTask{UserID: b.UserID, Action: b.Action, TargetID: b.TargetID, TargetType: b.TargetType}
	err := t.check(nil, b.OccurredAt, received)
	return Decoded[ActivityTask]{Task: t}, err
}

// check normalises and validates an activity task. occurredAt is the event
// time as sent, nil when absent: the task then keeps received.
func (t *ActivityTask) check(names fieldNames, occurredAt *string, received time.Time) error {
	t.Action = strings.ToLower(strings.TrimSpace(t.Action))
	t.OccurredAt = received.UTC()
	err := firstError(
		checkID(names.of("userId"), t.UserID, true),
		checkAction(names.of("action"), t.Action),
		checkText(names.of("targetId"), t.TargetID, maxShortTextLen, false),
		checkText(names.of("targetType"), t.TargetType, maxTypeLen, false),
	)
	if err != nil || occurredAt == nil {
		return err
	}
	at, err := parseOccurredAt(names.of("occurredAt"), *occurredAt, received)
	if err == nil {
		t.OccurredAt = at
	}
	return err
}

// Postgres writes a timestamp without time zone with no offset
// (2024-01-15T10:30:00.123456 in JSON, a space instead of the T in text).
const (
	naiveTimestamp      = "2006-01-02T15:04:05.999999999"
	naiveTimestampSpace = "2006-01-02 15:04:05.999999999"
)

// parseOccurredAt reads an event time, at most an hour ahead of received
// and ten years behind: RFC 3339 with an offset (Postgres's timestamptz,
// 2024-01-15T10:30:00.123456+00:00, is one), or a time without one, read
// as UTC, since that is what an app's timestamp without time zone columns
// almost always hold (Supabase's own default, now(), is UTC).
func parseOccurredAt(field, s string, received time.Time) (time.Time, error) {
	at, err := time.Parse(time.RFC3339Nano, s)
	for _, layout := range []string{naiveTimestamp, naiveTimestampSpace} {
		if err != nil {
			at, err = time.Parse(layout, s)
		}
	}
	if err != nil {
		return at, badRequest("%s: want an RFC 3339 time such as 2024-01-15T23:30:00+01:00 (without an offset, UTC)", field)
	}
	if at.After(received.Add(maxFutureSkew)) {
		return at, badRequest("%s: more than %s in the future", field, maxFutureSkew)
	}
	if at.Before(received.Add(-maxPastOccurence)) {
		return at, badRequest("%s: more than 10 years in the past", field)
	}
	return at.UTC(), nil
}

func checkAction(field, action string) error {
	if action == "" {
		return badRequest("%s: required", field)
	}
	if _, ok := ActionPoints[action]; !ok {
		return &RequestError{
			Status:  http.StatusBadRequest,
			Message: fmt.Sprintf("%s: unknown action %q; allowed: %s", field, truncate(action, 50), strings.Join(Actions, ", ")),
			Details: map[string]any{"field": field, "allowed": Actions},
		}
	}
	return nil
}

// decodeObject decodes exactly one JSON object into dst, translating the
// decoder's errors into 400s that name the field.
func decodeObject(body []byte, dst any) error {
	return decodeObjectAt("", body, dst)
}

// decodeObjectAt is decodeObject for a value nested under key ("" for the
// whole body): errors then name fields key.field, as in record.title.
func decodeObjectAt(key string, body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return jsonError(key, err)
	}
	if dec.More() {
		return badRequest("%s: unexpected data after the JSON object", cmp.Or(key, "body"))
	}
	return nil
}

func jsonError(key string, err error) error {
	whole := cmp.Or(key, "body")
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badRequest("%s: must be a JSON object", whole)
		}
		return badRequest("%s: must be %s, got %s", fieldPath(key, typeErr.Field), jsonKind(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return badRequest("%s: invalid JSON at byte %d: %s", whole, syntaxErr.Offset, syntaxErr.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("%s: empty or truncated JSON", whole)
	default:
		return badRequest("%s: invalid JSON: %s", whole, err.Error())
	}
}

// fieldPath names the field of a type error. The decoder's path goes
// through embedded structs by their Go names (OfferTask.jobId); every object
// decoded here is flat, so its last element is the JSON key.
func fieldPath(key, goPath string) string {
	field := goPath[strings.LastIndexByte(goPath, '.')+1:]
	if key == "" {
		return field
	}
	return key + "." + field
}

// jsonKind turns a Go type name into the JSON word a sender understands.
func jsonKind(goType string) string {
	switch {
	case goType == "string", goType == "*string":
		return "a string"
	case goType == "main.idText":
		return "a string or an integer"
	case strings.HasPrefix(goType, "[]"):
		return "an array of strings"
	case strings.HasPrefix(goType, "main."):
		return "an object"
	default:
		return goType
	}
}

// checkID accepts the ids of the API: 1–255 characters of letters, digits
// and -_.:@
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
