package main

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// Every rejection by a decoder is a RequestError with a 4xx status, and
// whatever a decoder accepts survives the trip through the queue's JSON.

var fuzzReceived = time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)

func checkDecoded(t *testing.T, err error, task any, redecode func([]byte) error) {
	t.Helper()
	if err != nil {
		var re *RequestError
		if !errors.As(err, &re) || re.Status < 400 || re.Status > 499 || re.Message == "" {
			t.Fatalf("rejection %v (%T) is not a 4xx RequestError", err, err)
		}
		return
	}
	payload, merr := json.Marshal(task)
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
		task, err := DecodeJob(body)
		checkDecoded(t, err, task, func(b []byte) error { _, err := DecodeJob(b); return err })
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
		task, err := DecodePost(body)
		checkDecoded(t, err, task, func(b []byte) error { _, err := DecodePost(b); return err })
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
		task, err := DecodeActivity(body, fuzzReceived)
		if err == nil && (task.OccurredAt.IsZero() || task.OccurredAt.Location() != time.UTC) {
			t.Fatalf("accepted activity without a UTC event time: %+v", task)
		}
		checkDecoded(t, err, task, func(b []byte) error {
			var queued ActivityTask
			if err := json.Unmarshal(b, &queued); err != nil {
				return err
			}
			if !queued.OccurredAt.Equal(task.OccurredAt) || queued.Action != task.Action {
				return errors.New("event time or action changed in the queue")
			}
			return nil
		})
	})
}
