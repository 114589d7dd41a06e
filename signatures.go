package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Standard Webhooks signatures (https://www.standardwebhooks.com), as
// Supabase Auth hooks and many other senders use them. A signed request
// carries three headers: webhook-id, webhook-timestamp (Unix seconds) and
// webhook-signature, a space-separated list of "v1,<base64>" entries, each
// an HMAC-SHA256 of id + "." + timestamp + "." + raw body. When
// WEBHOOK_SIGNING_SECRET is set, such a request is authenticated by its
// signature instead of x-webhook-secret.

// Standard Webhooks header names.
const (
	headerWebhookID        = "webhook-id"
	headerWebhookTimestamp = "webhook-timestamp"
	headerWebhookSignature = "webhook-signature"
)

const (
	// signatureTolerance is how far webhook-timestamp may be from now,
	// either way: a captured request cannot be replayed later.
	signatureTolerance = 5 * time.Minute
	// minSigningKeyLen refuses keys too short to sign with; Standard
	// Webhooks secrets are 24 to 64 bytes.
	minSigningKeyLen = 16
)

// ParseSigningSecrets reads WEBHOOK_SIGNING_SECRET: secrets separated by
// spaces or "|", each whsec_<base64> or Supabase's v1,whsec_<base64>.
// Several keys allow rotation: configure the old and the new, move the
// sender to the new one, drop the old. An empty value means no signing.
// Errors say which secret is wrong, never what it is.
func ParseSigningSecrets(value string) ([][]byte, error) {
	fields := strings.FieldsFunc(value, func(r rune) bool { return r == '|' || unicode.IsSpace(r) })
	if len(fields) == 0 {
		if strings.TrimSpace(value) != "" {
			return nil, errors.New("no secret found between the separators")
		}
		return nil, nil
	}
	keys := make([][]byte, 0, len(fields))
	for i, f := range fields {
		key, err := parseSigningSecret(f)
		if err != nil {
			return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(fields), err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

func parseSigningSecret(s string) ([]byte, error) {
	encoded, ok := strings.CutPrefix(strings.TrimPrefix(s, "v1,"), "whsec_")
	if !ok {
		return nil, errors.New("want whsec_<base64> or v1,whsec_<base64>")
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(encoded)
	}
	if err != nil {
		return nil, errors.New("the part after whsec_ is not valid base64")
	}
	if len(key) < minSigningKeyLen {
		return nil, fmt.Errorf("the key is %d bytes, want at least %d", len(key), minSigningKeyLen)
	}
	return key, nil
}

// hasSignatureHeaders reports whether a request carries any Standard
// Webhooks header: it then asks to be authenticated by its signature.
func hasSignatureHeaders(h http.Header) bool {
	return h.Get(headerWebhookID) != "" || h.Get(headerWebhookTimestamp) != "" || h.Get(headerWebhookSignature) != ""
}

// signatureVerifier checks Standard Webhooks signatures against every
// configured key.
type signatureVerifier struct {
	keys [][]byte
}

// verify accepts the request when one of its v1 signatures is the HMAC of
// its id, timestamp and body under one of the keys, and its timestamp is
// within signatureTolerance of now. Every comparison is constant-time, and
// no error shows the expected value.
func (v *signatureVerifier) verify(h http.Header, body []byte, now time.Time) error {
	id, stamp, header := h.Get(headerWebhookID), h.Get(headerWebhookTimestamp), h.Get(headerWebhookSignature)
	for _, hv := range [...][2]string{{headerWebhookID, id}, {headerWebhookTimestamp, stamp}, {headerWebhookSignature, header}} {
		if hv[1] == "" {
			return unauthorized("missing " + hv[0] + " header")
		}
	}
	sec, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return unauthorized("webhook-timestamp must be Unix seconds")
	}
	if at := time.Unix(sec, 0); at.Before(now.Add(-signatureTolerance)) || at.After(now.Add(signatureTolerance)) {
		return unauthorized("webhook timestamp outside the 5 minute tolerance")
	}
	sigs := signatures(header)
	for _, key := range v.keys {
		want := sign(key, id, stamp, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return unauthorized("invalid webhook signature")
}

// signatures decodes the v1 entries of a webhook-signature header; entries
// of other versions or not in base64 cannot match and are left out.
func signatures(header string) [][]byte {
	var out [][]byte
	for _, entry := range strings.Fields(header) {
		sig, ok := strings.CutPrefix(entry, "v1,")
		if !ok {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(sig); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// sign is the Standard Webhooks v1 signature: HMAC-SHA256 of
// id.timestamp.body.
func sign(key []byte, id, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return mac.Sum(nil)
}

// unauthorized is a 401 whose reason helps the sender without helping a
// forger.
func unauthorized(reason string) error {
	return &RequestError{Status: http.StatusUnauthorized, Message: "Unauthorized: " + reason}
}
