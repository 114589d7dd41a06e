package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// Every rejection by a decoder is a RequestError with a 4xx status, a skip
// queues nothing, and whatever a decoder accepts survives the trip through
// the queue's JSON.

var fuzzReceived = time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)

func checkDecoded[T any](t *testing.T, d Decoded[T], err error, redecode func([]byte) error) {
	t.Helper()
	if err != nil {
		var re *RequestError
		if !errors.As(err, &re) || re.Status < 400 || re.Status > 499 || re.Message == "" {
			t.Fatalf("rejection %v (%T) is not a 4xx RequestError", err, err)
		}
		return
	}
	if d.Skip != "" {
		var zero T
		if !reflect.DeepEqual(d.Task, zero) || d.RowKey != "" {
			t.Fatalf("skipped (%s) with a task or a row key: %+v", d.Skip, d)
		}
		return
	}
	payload, merr := json.Marshal(d.Task)
	if merr != nil {
		t.Fatalf("accepted task does not marshal: %v", merr)
	}
	if err := redecode(payload); err != nil {
		t.Fatalf("accepted task %s is rejected once queued: %v", payload, err)
	}
}

func FuzzDecodeJob(f *testing.F) {
	for _, s := range []string{
		`{"jobId":"job-123","title":"Senior Developer","description":"...","requiredSkills":["React","Node.js"],"experienceLevel":"Senior"}`,
		`{"jobId":"j","title":"t","company_id":"c-1","location":"Paris, France"}`,
		`{"jobId":1}`, `[]`, `null`, `{"jobId":"a b","title":"t"}`, `{"title":"t","requiredSkills":[null]}`,
		`{"jobId":"x","title":"\u0000"}`, `{"jobId":"x","title":"t"} trailing`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := DecodeOffer(body)
		checkDecoded(t, d, err, func(b []byte) error { _, err := DecodeOffer(b); return err })
	})
}

func FuzzDecodePost(f *testing.F) {
	for _, s := range []string{
		`{"postId":"post-789","content":"This is a test post","images":["https://x.example/a.png"],"links":["https://acme.example"],"userId":"user-1"}`,
		`{"postId":"p"}`, `{"postId":"p","images":[]}`, `{"postId":"p","links":"x"}`, `{"postId":"p","content":" "}`,
		`{"postId":"p","content":"ok","userId":""}`, `{}`, `"string"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := DecodePost(body)
		checkDecoded(t, d, err, func(b []byte) error { _, err := DecodePost(b); return err })
	})
}

func FuzzDecodeActivity(f *testing.F) {
	for _, s := range []string{
		`{"userId":"user-123","action":"like","targetId":"post-1","targetType":"post"}`,
		`{"userId":"u","action":"APPLY","occurredAt":"2024-01-15T23:30:00+01:00"}`,
		`{"userId":"u","action":"dance"}`, `{"userId":"u","action":"like","occurredAt":"2999-01-01T00:00:00Z"}`,
		`{"userId":"u","action":"like","occurredAt":null}`, `{"userId":"u","action":"like","occurredAt":"0001-01-01T00:00:00Z"}`,
		`{"userId":"u","action":7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := DecodeActivity(body, fuzzReceived)
		checkActivity(t, d, err)
	})
}

// checkActivity adds to checkDecoded what only activities have: a UTC
// event time, kept as is through the queue.
func checkActivity(t *testing.T, d Decoded[ActivityTask], err error) {
	t.Helper()
	task := d.Task
	if err == nil && d.Skip == "" && (task.OccurredAt.IsZero() || task.OccurredAt.Location() != time.UTC) {
		t.Fatalf("accepted activity without a UTC event time: %+v", task)
	}
	checkDecoded(t, d, err, func(b []byte) error {
		var queued ActivityTask
		if err := json.Unmarshal(b, &queued); err != nil {
			return err
		}
		if !queued.OccurredAt.Equal(task.OccurredAt) || queued.Action != task.Action {
			return errors.New("event time or action changed in the queue")
		}
		return nil
	})
}

// FuzzDecodeEnvelope feeds Supabase envelopes, starting from the
// testdata/envelopes fixtures, to all three routes' decoders: whatever the
// body, each answers a task the direct form accepts once queued, a skip,
// or a 4xx.
func FuzzDecodeEnvelope(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "envelopes", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no envelope fixtures: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"type":"INSERT","table":"jobs","record":{"id":1e3,"title":"t"}}`,
		`{"type":"INSERT","table":"jobs","record":{"id":-7,"title":"t","updated_at":12}}`,
		`{"type":"UPDATE","table":"posts","record":{"id":"p","content":"a"},"old_record":[]}`,
		`{"type":"TRUNCATE","table":"likes","record":null,"old_record":null}`,
		`{"type":"INSERT","table":"activity_logs","record":{"user_id":"u","action":"like"}}`,
		`{"type":"INSERT","table":"things","record":{"user_id":"u"}}`,
		`{"type":7,"table":{},"record":"x"}`, `{"record":null}`, `{"old_record":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		job, err := DecodeOffer(body)
		checkDecoded(t, job, err, func(b []byte) error { _, err := DecodeOffer(b); return err })
		post, err := DecodePost(body)
		checkDecoded(t, post, err, func(b []byte) error { _, err := DecodePost(b); return err })
		activity, err := DecodeActivity(body, fuzzReceived)
		checkActivity(t, activity, err)
	})
}

// A time without an offset, as Postgres writes a timestamp without time
// zone, is read as UTC, in the direct form and in an envelope; a time with
// one keeps its instant.
func TestNaiveTimestampsReadAsUTC(t *testing.T) {
	received := time.Date(2024, 1, 16, 0, 0, 0, 0, time.UTC)
	want := time.Date(2024, 1, 15, 10, 30, 0, 123456000, time.UTC)
	for _, body := range []string{
		`{"userId":"u","action":"like","occurredAt":"2024-01-15T10:30:00.123456"}`,
		`{"userId":"u","action":"like","occurredAt":"2024-01-15 10:30:00.123456"}`,
		`{"userId":"u","action":"like","occurredAt":"2024-01-15T11:30:00.123456+01:00"}`,
		`{"type":"INSERT","table":"likes","schema":"public","record":{"id":1,"user_id":"u","post_id":"p","created_at":"2024-01-15T10:30:00.123456"},"old_record":null}`,
	} {
		d, err := DecodeActivity([]byte(body), received)
		if err != nil || !d.Task.OccurredAt.Equal(want) || d.Task.OccurredAt.Location() != time.UTC {
			t.Errorf("%s: %v %v, want %v UTC", body, d.Task.OccurredAt, err, want)
		}
	}
}
