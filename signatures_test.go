package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Test keys. keyA is the Standard Webhooks specification's example secret;
// keyB is the 32 ASCII bytes "hookd-test-signing-key-number-2!".
const (
	secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretB = "v1,whsec_aG9va2QtdGVzdC1zaWduaW5nLWtleS1udW1iZXItMiE="
)

var (
	keyA, _ = base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	keyB    = []byte("hookd-test-signing-key-number-2!")
)

// testSignature signs as a Standard Webhooks sender does, with the test's
// own HMAC rather than signatures.go; TestTestSignatureMatchesVectors pins
// it to values computed outside Go.
func testSignature(key []byte, id string, ts int64, body string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func signedHeaders(key []byte, id string, ts int64, body string) map[string]string {
	return map[string]string{
		"webhook-id":        id,
		"webhook-timestamp": strconv.FormatInt(ts, 10),
		"webhook-signature": testSignature(key, id, ts, body),
	}
}

// Vectors computed outside Go: the first is the Standard Webhooks
// specification's example, checked with Python's hmac; the second was
// computed with
//
//	(printf 'msg_2bVxJ8kPq4fH7nYtR3wLs9Dz.1705314660.'; cat testdata/envelopes/jobs_insert.json) |
//	  openssl dgst -sha256 -hmac 'hookd-test-signing-key-number-2!' -binary | base64
var signatureVectors = []struct {
	key  []byte
	id   string
	ts   int64
	body func(t *testing.T) string
	want string
}{
	{keyA, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, func(*testing.T) string { return `{"test": 2432232314}` },
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
	{keyB, "msg_2bVxJ8kPq4fH7nYtR3wLs9Dz", 1705314660, func(t *testing.T) string { return fixture(t, "jobs_insert.json") },
		"v1,s3g0d0Mo9eYso2po/chzTZ9IHZMyNjpDyTegBsYX+kw="},
}

func TestTestSignatureMatchesVectors(t *testing.T) {
	for _, v := range signatureVectors {
		if got := testSignature(v.key, v.id, v.ts, v.body(t)); got != v.want {
			t.Errorf("%s: test signer gives %s, want %s", v.id, got, v.want)
		}
	}
}

// The verifier accepts both independent vectors, under either secret form
// and with the right key second in a rotation.
func TestVerifierAcceptsIndependentVectors(t *testing.T) {
	keys, err := ParseSigningSecrets("whsec_c2hvcnQtYnV0LW5vdC10b28tc2hvcnQ= | " + secretA + " " + secretB)
	if err != nil {
		t.Fatal(err)
	}
	v := &signatureVerifier{keys: keys}
	for _, vec := range signatureVectors {
		h := http.Header{}
		h.Set("webhook-id", vec.id)
		h.Set("webhook-timestamp", strconv.FormatInt(vec.ts, 10))
		h.Set("webhook-signature", "v1,bm90LWl0 "+vec.want+" v1a,ignored")
		if err := v.verify(h, []byte(vec.body(t)), time.Unix(vec.ts+30, 0)); err != nil {
			t.Errorf("%s: %v", vec.id, err)
		}
	}
}

// startSigningApp runs hookd with WEBHOOK_SIGNING_SECRET set to secrets.
func startSigningApp(t *testing.T, secrets string) *testApp {
	return startApp(t, map[string]string{"WEBHOOK_SIGNING_SECRET": secrets})
}

// Every signature case of issue 4 through real HTTP: only the valid ones
// queue a job, and no 401 shows the expected signature.
func TestSignedWebhooks(t *testing.T) {
	a := startSigningApp(t, secretA+"|"+secretB)
	body := `{"jobId":"job-signed","title":"Signed job"}`
	now := time.Now().Unix()
	tampered := signedHeaders(keyA, "msg_1", now, body)
	stale := signedHeaders(keyA, "msg_2", now-6*60, body)
	ahead := signedHeaders(keyA, "msg_3", now+6*60, body)
	wrongKey := signedHeaders([]byte("some-other-key-of-32-bytes-long!"), "msg_4", now, body)
	noTimestamp := signedHeaders(keyA, "msg_5", now, body)
	delete(noTimestamp, "webhook-timestamp")
	noID := signedHeaders(keyA, "msg_6", now, body)
	delete(noID, "webhook-id")
	noSignature := signedHeaders(keyA, "msg_7", now, body)
	delete(noSignature, "webhook-signature")
	badStamp := signedHeaders(keyA, "msg_8", now, body)
	badStamp["webhook-timestamp"] = "yesterday"
	wrongSecretButSigned := signedHeaders(keyB, "msg_9", now, body)
	wrongSecretButSigned["x-webhook-secret"] = "not-the-secret"
	secretAndBadSignature := signedHeaders(keyA, "msg_10", now, body+" ")
	secretAndBadSignature["x-webhook-secret"] = testSecret
	cases := []struct {
		name   string
		body   string
		header map[string]string
		status int
		error  string
	}{
		{"valid", body, signedHeaders(keyA, "msg_ok", now, body), 200, ""},
		{"rotated: second key", body, signedHeaders(keyB, "msg_rot", now, body), 200, ""},
		{"edge of the tolerance", body, signedHeaders(keyA, "msg_edge", now-4*60-50, body), 200, ""},
		{"tampered body", strings.Replace(body, "Signed", "Forged", 1), tampered, 401, "Unauthorized: invalid webhook signature"},
		{"wrong secret", body, wrongKey, 401, "Unauthorized: invalid webhook signature"},
		{"6 minutes old", body, stale, 401, "Unauthorized: webhook timestamp outside the 5 minute tolerance"},
		{"6 minutes ahead", body, ahead, 401, "Unauthorized: webhook timestamp outside the 5 minute tolerance"},
		{"missing webhook-timestamp", body, noTimestamp, 401, "Unauthorized: missing webhook-timestamp header"},
		{"missing webhook-id", body, noID, 401, "Unauthorized: missing webhook-id header"},
		{"missing webhook-signature", body, noSignature, 401, "Unauthorized: missing webhook-signature header"},
		{"timestamp not a number", body, badStamp, 401, "Unauthorized: webhook-timestamp must be Unix seconds"},
		{"wrong x-webhook-secret, valid signature", body, wrongSecretButSigned, 200, ""},
		{"valid x-webhook-secret, bad signature", body, secretAndBadSignature, 200, ""},
		{"no secret, no signature", body, nil, 401, "Unauthorized: missing x-webhook-secret"},
	}
	accepted := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.do(t, http.MethodPost, "/api/jobs/analyze", "application/json", c.body, c.header)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Raw)
			}
			if c.status == 200 {
				accepted++
				return
			}
			if r.str("error") != c.error {
				t.Errorf("error %q, want %q", r.str("error"), c.error)
			}
			if sig := testSignature(keyA, c.header["webhook-id"], now, c.body); strings.Contains(r.Raw, sig[3:]) {
				t.Errorf("the 401 shows the expected signature: %s", r.Raw)
			}
		})
	}
	db := openFile(t, a.cfg.DataDir)
	if n := queryInt(t, db, `SELECT count(*) FROM queue_jobs`); n != accepted {
		t.Errorf("%d jobs queued, want %d (one per accepted request)", n, accepted)
	}
}

// The openssl vector through HTTP, on a fixed clock, with the secret in
// Supabase's v1,whsec_ form: a signed envelope is queued.
func TestSignedEnvelopeIndependentVector(t *testing.T) {
	a := startSigningApp(t, secretB)
	vec := signatureVectors[1]
	a.server.now = func() time.Time { return time.Unix(vec.ts+2, 0) }
	header := map[string]string{"webhook-id": vec.id, "webhook-timestamp": strconv.FormatInt(vec.ts, 10), "webhook-signature": vec.want}
	r := a.do(t, http.MethodPost, "/api/jobs/analyze", "application/json", vec.body(t), header)
	if r.Status != http.StatusOK || r.str("jobId") != "7d3c1f0e-8a4b-4c2d-9e6f-1a2b3c4d5e6f" {
		t.Fatalf("%d %s, want the envelope's job queued", r.Status, r.Raw)
	}
	header["webhook-signature"] = strings.Replace(vec.want, "s3g0", "s3g1", 1)
	if r := a.do(t, http.MethodPost, "/api/jobs/analyze", "application/json", vec.body(t), header); r.Status != http.StatusUnauthorized {
		t.Errorf("one changed character: %d %s, want 401", r.Status, r.Raw)
	}
}

// Without WEBHOOK_SIGNING_SECRET a signature authenticates nothing, and
// the 401 says signing is not enabled; with a wrong secret as well, the
// usual "Invalid webhook secret".
func TestSignatureIgnoredWhenSigningIsOff(t *testing.T) {
	a := startApp(t, nil)
	body := `{"jobId":"j1","title":"t"}`
	signed := signedHeaders(keyA, "msg_1", time.Now().Unix(), body)
	r := a.do(t, http.MethodPost, "/api/jobs/analyze", "application/json", body, signed)
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.str("error"), "signing is not enabled") {
		t.Fatalf("%d %s, want 401 saying signing is not enabled", r.Status, r.Raw)
	}
	signed["x-webhook-secret"] = "wrong"
	r = a.do(t, http.MethodPost, "/api/jobs/analyze", "application/json", body, signed)
	if r.Status != http.StatusUnauthorized || r.str("error") != "Unauthorized: Invalid webhook secret" {
		t.Fatalf("%d %s, want 401 Invalid webhook secret", r.Status, r.Raw)
	}
}

func TestSigningSecretForms(t *testing.T) {
	keys, err := ParseSigningSecrets(" " + secretA + " |" + secretB + "\t")
	if err != nil || len(keys) != 2 || !bytes.Equal(keys[0], keyA) || !bytes.Equal(keys[1], keyB) {
		t.Fatalf("ParseSigningSecrets: %d keys, %v; want keyA and keyB", len(keys), err)
	}
	if keys, err := ParseSigningSecrets(""); err != nil || keys != nil {
		t.Fatalf("empty: %v %v, want signing off", keys, err)
	}
}

// A bad WEBHOOK_SIGNING_SECRET stops hookd at start, naming the variable
// and the faulty secret's position, never its value.
func TestSigningSecretRefusedAtStart(t *testing.T) {
	cases := map[string]string{
		"no prefix":        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"not base64":       "whsec_%%%secret-value%%%",
		"too short":        "whsec_c2hvcnQ=",
		"second is bad":    secretA + " | v1,whsec_secret-value!",
		"only separators":  " | | ",
		"wrong version":    "v2,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"prefix, no value": "whsec_",
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(testEnv(t, map[string]string{"WEBHOOK_SIGNING_SECRET": value}))
			if err == nil || !strings.Contains(err.Error(), "WEBHOOK_SIGNING_SECRET") {
				t.Fatalf("run: %v, want an error naming WEBHOOK_SIGNING_SECRET", err)
			}
			for _, secret := range []string{"secret-value", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "c2hvcnQ"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the secret: %v", err)
				}
			}
		})
	}
}
