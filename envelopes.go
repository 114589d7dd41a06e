package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Supabase Database Webhook envelopes. A Database Webhook is an
// AFTER trigger calling supabase_functions.http_request, which posts
//
//	{"type":"INSERT"|"UPDATE"|"DELETE","table":"jobs","schema":"public","record":{…}|null,"old_record":{…}|null}
//
// with each row as Postgres turns it into JSON: snake_case columns, arrays
// as JSON arrays, timestamptz as "2024-01-15T10:30:00.123456+00:00", uuid
// ids as strings and bigint ids as numbers. Each route maps its table's
// row onto the direct form's task and validates it with the same rules,
// naming fields record.<column>. Rows whose event needs no work are
// skipped: deletes, activity updates, and updates that leave the fields
// the work reads unchanged — which is what the service's own writes do,
// so they never come back as new work (no webhook loops).

// envelopeKeys are an envelope's top-level keys, decoded beside the direct
// form's fields in the same pass. A body with record or old_record is an
// envelope: no direct form has either key.
type envelopeKeys struct {
	Type      json.RawMessage `json:"type"`
	Table     json.RawMessage `json:"table"`
	Record    json.RawMessage `json:"record"`
	OldRecord json.RawMessage `json:"old_record"`
}

func (k envelopeKeys) isEnvelope() bool { return k.Record != nil || k.OldRecord != nil }

// Row events, as Postgres names them in TG_OP.
const (
	opInsert = "INSERT"
	opUpdate = "UPDATE"
	opDelete = "DELETE"
)

// Envelope limits: table is a Postgres identifier (63 bytes at most);
// updated_at is a timestamp, part of a delivery key.
const (
	maxTableLen = 63
	maxStampLen = 64
)

// envelope is an envelope whose type and table are valid.
type envelope struct {
	op        string
	table     string
	record    json.RawMessage // nil when null
	oldRecord json.RawMessage // nil when null
}

// open validates the envelope's type and table.
func (k envelopeKeys) open() (envelope, error) {
	var e envelope
	err := firstError(decodeString("type", k.Type, &e.op), decodeString("table", k.Table, &e.table))
	if err != nil {
		return e, err
	}
	switch e.op {
	case opInsert, opUpdate, opDelete:
	case "":
		return e, badRequest("type: required in a Supabase webhook envelope (INSERT, UPDATE or DELETE)")
	default:
		return e, badRequest("type: want INSERT, UPDATE or DELETE, got %q", truncate(e.op, 20))
	}
	if problem := textProblem(e.table, maxTableLen, true); problem != "" {
		return e, badRequest("table: %s", problem)
	}
	e.record, e.oldRecord = nonNull(k.Record), nonNull(k.OldRecord)
	return e, nil
}

// openRows opens an envelope of table and decodes its rows: record for
// INSERT and UPDATE (required), old_record for UPDATE when sent. A DELETE's
// rows are not read, since a DELETE is skipped.
func (k envelopeKeys) openRows(table string, row, old any) (envelope, error) {
	e, err := k.open()
	if err == nil && e.table != table {
		err = wrongTable(e.table, "want "+table)
	}
	if err != nil || e.op == opDelete {
		return e, err
	}
	if err := e.readRecord(row); err != nil {
		return e, err
	}
	if e.hasOld() {
		return e, decodeObjectAt("old_record", e.oldRecord, old)
	}
	return e, nil
}

func (e envelope) readRecord(dst any) error {
	if e.record == nil {
		return badRequest("record: required for %s (the row, a JSON object)", e.op)
	}
	return decodeObjectAt("record", e.record, dst)
}

// hasOld reports whether an UPDATE came with the row as it was, so that
// the two can be compared. Without it an UPDATE cannot be proved a no-op
// and is processed.
func (e envelope) hasOld() bool { return e.op == opUpdate && e.oldRecord != nil }

// rowKey names an INSERT's row event, table:INSERT:id[:updated_at]: the
// same insert delivered twice is then recognised with no header. Updates
// get none: a row updated twice within the same updated_at (or without
// one) would lose its second edit, whereas re-running an analysis or a
// moderation is harmless. Deletes are skipped before they would need one.
func (e envelope) rowKey(id, updatedAt idText) (string, error) {
	if e.op != opInsert || id == "" {
		return "", nil
	}
	err := firstError(checkID("record.id", string(id), false), checkText("record.updated_at", string(updatedAt), maxStampLen, false))
	if err != nil {
		return "", err
	}
	key := e.table + ":" + e.op + ":" + string(id)
	if updatedAt != "" {
		key += ":" + string(updatedAt)
	}
	return key, nil
}

func skipped[T any](e envelope, why string) (Decoded[T], error) {
	return Decoded[T]{Skip: e.op + " on " + e.table + ": " + why}, nil
}

func wrongTable(table, want string) error {
	msg := fmt.Sprintf("table: %s, got %q", want, truncate(table, maxTableLen))
	if route, ok := tableRoutes[table]; ok {
		msg += "; " + table + " rows go to " + route
	}
	return badRequest("%s", msg)
}

// jobRow is a jobs row as a Database Webhook sends it.
type jobRow struct {
	ID              idText   `json:"id"`
	Title           string   `json:"title"`
	Description     string   `json:"description"`
	CompanyID       idText   `json:"company_id"`
	Location        string   `json:"location"`
	RequiredSkills  []string `json:"required_skills"`
	ExperienceLevel string   `json:"experience_level"`
	UpdatedAt       idText   `json:"updated_at"`
}

// jobColumns names a job task's fields as columns of the jobs row.
var jobColumns = fieldNames{
	"jobId": "record.id", "title": "record.title", "description": "record.description",
	"company_id": "record.company_id", "location": "record.location",
	"requiredSkills": "record.required_skills", "experienceLevel": "record.experience_level",
}

// sameContent reports whether two versions of a job agree on every field
// the analysis reads.
func (r jobRow) sameContent(o jobRow) bool {
	return r.Title == o.Title && r.Description == o.Description && r.Location == o.Location &&
		r.ExperienceLevel == o.ExperienceLevel && slices.Equal(r.RequiredSkills, o.RequiredSkills)
}

func decodeJobsEnvelope(k envelopeKeys) (Decoded[OfferTask], error) {
	var row, old jobRow
	e, err := k.openRows("jobs", &row, &old)
	switch {
	case err != nil:
		return Decoded[OfferTask]{}, err
	case e.op == opDelete:
		return skipped[OfferTask](e, "a deleted job needs no analysis")
	case e.hasOld() && row.sameContent(old):
		return skipped[OfferTask](e, "title, description, required_skills, experience_level and location are unchanged, nothing to analyse again")
	}
	t := OfferTask{
		JobID: string(row.ID), Title: row.Title, Description: row.Description, CompanyID: string(row.CompanyID),
		Location: row.Location, RequiredSkills: row.RequiredSkills, ExperienceLevel: row.ExperienceLevel,
	}
	if err := t.check(jobColumns); err != nil {
		return Decoded[OfferTask]{}, err
	}
	key, err := e.rowKey(row.ID, row.UpdatedAt)
	return Decoded[OfferTask]{Task: t, RowKey: key}, err
}

// postRow is a posts row as a Database Webhook sends it.
type postRow struct {
	ID        idText   `json:"id"`
	Content   string   `json:"content"`
	Images    []string `json:"images"`
	Links     []string `json:"links"`
	UserID    idText   `json:"user_id"`
	UpdatedAt idText   `json:"updated_at"`
}

// postColumns names a post task's fields as columns of the posts row.
var postColumns = fieldNames{
	"postId": "record.id", "userId": "record.user_id", "content": "record.content",
	"images": "record.images", "links": "record.links",
}

// sameContent reports whether two versions of a post agree on every field
// moderation reads.
func (r postRow) sameContent(o postRow) bool {
	return r.Content == o.Content && slices.Equal(r.Images, o.Images) && slices.Equal(r.Links, o.Links)
}

func decodePostsEnvelope(k envelopeKeys) (Decoded[PostTask], error) {
	var row, old postRow
	e, err := k.openRows("posts", &row, &old)
	switch {
	case err != nil:
		return Decoded[PostTask]{}, err
	case e.op == opDelete:
		return skipped[PostTask](e, "a deleted post needs no moderation")
	case e.hasOld() && row.sameContent(old):
		return skipped[PostTask](e, "content, images and links are unchanged, nothing to moderate again")
	}
	t := PostTask{PostID: string(row.ID), Content: row.Content, Images: row.Images, Links: row.Links, UserID: string(row.UserID)}
	if err := t.check(postColumns); err != nil {
		return Decoded[PostTask]{}, err
	}
	key, err := e.rowKey(row.ID, row.UpdatedAt)
	return Decoded[PostTask]{Task: t, RowKey: key}, err
}

// candidateRow is a candidates row as a Database Webhook sends it.
type candidateRow struct {
	ID              idText   `json:"id"`
	Skills          []string `json:"skills"`
	ExperienceLevel string   `json:"experience_level"`
	Location        string   `json:"location"`
	UpdatedAt       idText   `json:"updated_at"`
}

// sameContent reports whether two versions of a candidate agree on every
// field matching reads.
func (r candidateRow) sameContent(o candidateRow) bool {
	return slices.Equal(r.Skills, o.Skills) && r.ExperienceLevel == o.ExperienceLevel && r.Location == o.Location
}

func decodeCandidatesEnvelope(k envelopeKeys) (Decoded[CandidateTask], error) {
	var row, old candidateRow
	e, err := k.openRows("candidates", &row, &old)
	switch {
	case err != nil:
		return Decoded[CandidateTask]{}, err
	case e.op == opDelete:
		return skipped[CandidateTask](e, "a deleted candidate's matches go with it")
	case e.hasOld() && row.sameContent(old):
		return skipped[CandidateTask](e, "skills, experience_level and location are unchanged, nothing to match again")
	}
	err = firstError(
		checkID("record.id", string(row.ID), true),
		checkList("record.skills", row.Skills, maxSkills, maxSkillLen),
		checkText("record.experience_level", row.ExperienceLevel, maxTypeLen, false),
		checkText("record.location", row.Location, maxShortTextLen, false),
	)
	if err != nil {
		return Decoded[CandidateTask]{}, err
	}
	t := CandidateTask{CandidateID: string(row.ID), Row: &CandidateRow{Skills: row.Skills, Level: row.ExperienceLevel, Location: row.Location}}
	key, err := e.rowKey(row.ID, row.UpdatedAt)
	return Decoded[CandidateTask]{Task: t, RowKey: key}, err
}

// activityTable is what a row of a known activity table stands for.
type activityTable struct {
	action     string
	targetType string // when the row names its target by target_id alone
}

// activityTables maps the app's activity tables to their action: a row
// inserted in one is that action.
var activityTables = map[string]activityTable{
	"post_views":   {"view", "post"},
	"views":        {"view", ""},
	"likes":        {"like", "post"},
	"comments":     {"comment", "post"},
	"shares":       {"share", "post"},
	"applications": {"apply", "job"},
}

// activityTableNames lists activityTables, sorted.
func activityTableNames() []string {
	return slices.Sorted(maps.Keys(activityTables))
}

// notActivityTables are tables hookd reads or writes itself: their rows
// are not user actions, and a webhook on activity_logs, which scoring
// writes, would score its own output forever. Tables that another kind
// takes are refused with its route (see tableRoutes).
var notActivityTables = map[string]string{
	"activity_logs": "activity_logs is written by hookd's scoring: a webhook on it would score hookd's own output in a loop",
	"users":         "users rows are not activity",
	"job_matches":   "job_matches is written by hookd's job analysis",
}

// notActivity says why a table's rows are not activity, "" when they may be.
func notActivity(table string) string {
	if why, own := notActivityTables[table]; own {
		return why
	}
	if _, isActivity := activityTables[table]; isActivity {
		return ""
	}
	if route, taken := tableRoutes[table]; taken {
		return table + " rows go to " + route
	}
	return ""
}

// activityRow is a row of an activity table as a Database Webhook sends it.
type activityRow struct {
	ID         idText  `json:"id"`
	UserID     idText  `json:"user_id"`
	Action     string  `json:"action"`
	TargetID   idText  `json:"target_id"`
	TargetType string  `json:"target_type"`
	PostID     idText  `json:"post_id"`
	JobID      idText  `json:"job_id"`
	CreatedAt  *string `json:"created_at"`
	UpdatedAt  idText  `json:"updated_at"`
}

// decodeActivityEnvelope scores the INSERTs of an activity table: one of
// activityTables, or any other table whose rows carry an action column.
// An UPDATE of an activity row is not a new action, and a DELETE takes no
// points back: both are skipped.
func decodeActivityEnvelope(k envelopeKeys, received time.Time) (Decoded[ActivityTask], error) {
	e, err := k.open()
	if why := notActivity(e.table); err == nil && why != "" {
		err = badRequest("table: %s", why)
	}
	switch {
	case err != nil:
		return Decoded[ActivityTask]{}, err
	case e.op == opDelete:
		return skipped[ActivityTask](e, "an undone action takes no points back")
	case e.op == opUpdate:
		return skipped[ActivityTask](e, "an updated activity row is not a new action")
	}
	var row activityRow
	if err := e.readRecord(&row); err != nil {
		return Decoded[ActivityTask]{}, err
	}
	t, names, err := row.task(e.table)
	if err == nil {
		err = t.check(names, row.CreatedAt, received)
	}
	if err != nil {
		return Decoded[ActivityTask]{}, err
	}
	key, err := e.rowKey(row.ID, row.UpdatedAt)
	t.EventKey = key
	return Decoded[ActivityTask]{Task: t, RowKey: key}, err
}

// task maps the row onto an activity task: the action from record.action,
// else from the table; the target from target_id, post_id or job_id, its
// type from target_type, else from the column or the table. names says
// which columns the task's fields came from.
func (r activityRow) task(table string) (ActivityTask, fieldNames, error) {
	known, isKnown := activityTables[table]
	action := r.Action
	if action == "" {
		if !isKnown {
			return ActivityTask{}, nil, wrongTable(table, "want an activity table (post_views, views, likes, comments, shares, applications) or rows with an action column")
		}
		action = known.action
	}
	targetID, column, targetType := string(r.TargetID), "target_id", known.targetType
	switch {
	case r.TargetID != "":
	case r.PostID != "":
		targetID, column, targetType = string(r.PostID), "post_id", "post"
	case r.JobID != "":
		targetID, column, targetType = string(r.JobID), "job_id", "job"
	}
	if r.TargetType != "" {
		targetType = r.TargetType
	}
	names := fieldNames{
		"userId": "record.user_id", "action": "record.action", "targetId": "record." + column,
		"targetType": "record.target_type", "occurredAt": "record.created_at",
	}
	return ActivityTask{UserID: string(r.UserID), Action: action, TargetID: targetID, TargetType: targetType}, names, nil
}

// idText is a column Postgres sends as a JSON string (text, uuid,
// timestamptz) or an integer (bigint, serial). An integer is kept as its
// decimal text; null reads as "".
type idText string

func (v *idText) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = idText(s)
	case isInteger(b):
		*v = idText(b)
	default:
		return &json.UnmarshalTypeError{Value: jsonValueKind(b), Type: reflect.TypeFor[idText]()}
	}
	return nil
}

// isInteger reports whether a JSON number is a plain integer, without
// fraction or exponent.
func isInteger(b []byte) bool {
	digits := strings.TrimPrefix(string(b), "-")
	return digits != "" && strings.Trim(digits, "0123456789") == ""
}

// jsonValueKind describes a JSON value the way the decoder's own type
// errors do.
func jsonValueKind(b []byte) string {
	switch {
	case len(b) == 0:
		return "nothing"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == 't', b[0] == 'f':
		return "bool"
	default:
		return "number " + truncate(string(b), 30)
	}
}

// decodeString reads an envelope key that must be a string; absent or null
// leaves dst empty.
func decodeString(key string, raw json.RawMessage, dst *string) error {
	if raw == nil || json.Unmarshal(raw, dst) == nil {
		return nil
	}
	return badRequest("%s: must be a string, got %s", key, jsonValueKind(raw))
}

// nonNull turns a JSON null into nil.
func nonNull(raw json.RawMessage) json.RawMessage {
	if string(raw) == "null" {
		return nil
	}
	return raw
}
