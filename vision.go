package main

// Google Cloud Vision SafeSearch for post images. The only data that leaves
// the machine: the image URLs of a post (never its text, links or author),
// sent to VISION_ENDPOINT with the API key in a header.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Vision request limits.
const (
	visionBatchSize   = 16 // images per images:annotate request: Google's limit
	visionTimeout     = 15 * time.Second
	visionMaxReply    = 4 << 20 // bytes of response read at most
	visionMaxErrorMsg = 200     // bytes of an error message kept in a reason
)

// VisionClient calls images:annotate with SAFE_SEARCH_DETECTION.
type VisionClient struct {
	Endpoint string
	APIKey   string
	HTTP     *http.Client
}

// NewVisionClient returns a client for endpoint through the SSRF-safe HTTP
// client, with timeouts.
func NewVisionClient(endpoint, apiKey string) *VisionClient {
	return &VisionClient{Endpoint: endpoint, APIKey: apiKey, HTTP: NewSafeHTTPClient(visionTimeout)}
}

// The images:annotate request and response, as Google documents them.
type (
	visionRequest struct {
		Requests []visionImageRequest `json:"requests"`
	}
	visionImageRequest struct {
		Image    visionImage     `json:"image"`
		Features []visionFeature `json:"features"`
	}
	visionImage struct {
		Source struct {
			ImageURI string `json:"imageUri"`
		} `json:"source"`
	}
	visionFeature struct {
		Type string `json:"type"`
	}
	visionResponse struct {
		Responses []visionImageResponse `json:"responses"`
		Error     *visionStatus         `json:"error"`
	}
	visionImageResponse struct {
		SafeSearch *struct {
			Adult    string `json:"adult"`
			Violence string `json:"violence"`
			Racy     string `json:"racy"`
		} `json:"safeSearchAnnotation"`
		Error *visionStatus `json:"error"`
	}
	visionStatus struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
)

// SafeSearch returns a verdict per image, in order, asking Vision in
// batches of visionBatchSize: one request for a post of up to 16 images.
// Any failure of a request (network, timeout, non-200 answer, a reply that
// does not match the request) is an error for the whole call, to be retried;
// an image Vision could not read is a verdict with Error set. Errors never
// hold the API key.
func (c *VisionClient) SafeSearch(ctx context.Context, urls []string) ([]ImageVerdict, error) {
	var out []ImageVerdict
	for batch := range slices.Chunk(urls, visionBatchSize) {
		verdicts, err := c.annotate(ctx, batch)
		if err != nil {
			return nil, redactKey(fmt.Errorf("vision safe search: %w", err), c.APIKey)
		}
		out = append(out, verdicts...)
	}
	return out, nil
}

// annotate sends one batch.
func (c *VisionClient) annotate(ctx context.Context, urls []string) ([]ImageVerdict, error) {
	body, err := json.Marshal(newVisionRequest(urls))
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Goog-Api-Key", c.APIKey)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, visionMaxReply))
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, shorten(string(raw)))
	}
	return decodeVisionReply(raw, urls)
}

// newVisionRequest asks for SafeSearch on each image URL.
func newVisionRequest(urls []string) visionRequest {
	var r visionRequest
	for _, u := range urls {
		var img visionImageRequest
		img.Image.Source.ImageURI = u
		img.Features = []visionFeature{{Type: "SAFE_SEARCH_DETECTION"}}
		r.Requests = append(r.Requests, img)
	}
	return r
}

// decodeVisionReply reads a 200 reply: one response per image, in order.
func decodeVisionReply(raw []byte, urls []string) ([]ImageVerdict, error) {
	var reply visionResponse
	if err := json.Unmarshal(raw, &reply); err != nil {
		return nil, fmt.Errorf("decode reply: %w", err)
	}
	if reply.Error != nil {
		return nil, fmt.Errorf("error %d: %s", reply.Error.Code, shorten(reply.Error.Message))
	}
	if len(reply.Responses) != len(urls) {
		return nil, fmt.Errorf("%d responses for %d images", len(reply.Responses), len(urls))
	}
	out := make([]ImageVerdict, len(urls))
	for i, r := range reply.Responses {
		out[i].URL = urls[i]
		switch {
		case r.Error != nil:
			out[i].Error = fmt.Sprintf("%s (code %d)", shorten(r.Error.Message), r.Error.Code)
		case r.SafeSearch == nil:
			out[i].Error = "no SafeSearch annotation"
		default:
			out[i].Adult, out[i].Violence, out[i].Racy = r.SafeSearch.Adult, r.SafeSearch.Violence, r.SafeSearch.Racy
		}
	}
	return out, nil
}

// redactedError is an error whose message had the API key removed; the
// original stays reachable for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

// redactKey removes an API key from err's message (Vision's, the
// text-moderation service's).
func redactKey(err error, key string) error {
	if key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return redactedError{msg: strings.ReplaceAll(err.Error(), key, "[redacted]"), err: err}
}

// shorten puts a message on one line and cuts it to visionMaxErrorMsg
// bytes on a rune boundary.
func shorten(msg string) string {
	return truncate(strings.Join(strings.Fields(msg), " "), visionMaxErrorMsg)
}
