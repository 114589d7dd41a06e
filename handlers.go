package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
)

// ServerConfig is what the HTTP side is built from.
type ServerConfig struct {
	Kinds       []Kind // each gets its webhook route
	Queue       Intake
	Secret      string   // expected in x-webhook-secret
	SigningKeys [][]byte // Standard Webhooks keys; none turns signatures off
	MaxBody     int64
	// RequireUUIDs is set in Postgres mode, where jobId, postId and
	// userId are the app's uuid keys.
	RequireUUIDs bool
	// StoreProblem says why the results store is unreachable, "" when it
	// answers; health reports it as "degraded".
	StoreProblem func() string
	// Outbox is the captured events' outbox, for health; nil in embedded
	// mode.
	Outbox *Outbox
	// Board serves the leaderboard routes; nil when LEADERBOARD_DISABLED.
	Board *Leaderboard
	Log   *slog.Logger
	// Metrics counts the webhooks and serves /metrics; nil for neither.
	Metrics *Metrics
	// Dashboard serves /dashboard; nil without DASHBOARD_PASSWORD.
	Dashboard *Dashboard
}

// Server holds the HTTP side of hookd: routes, authentication, decoding
// and the hand-off to the queue. It never touches the results store.
type Server struct {
	ServerConfig
	secretHash [sha256.Size]byte
	signatures *signatureVerifier // nil: WEBHOOK_SIGNING_SECRET is unset
	now        func() time.Time
}

// NewServer builds the HTTP side.
func NewServer(c ServerConfig) *Server {
	s := &Server{ServerConfig: c, secretHash: sha256.Sum256([]byte(c.Secret)), now: time.Now}
	if len(c.SigningKeys) > 0 {
		s.signatures = &signatureVerifier{keys: c.SigningKeys}
	}
	return s
}

// Routes returns the router: a webhook route per kind, health, job
// status, the leaderboard, the metrics and the dashboard.
func (s *Server) Routes() http.Handler {
	r := httprouter.New()
	for _, k := range s.Kinds {
		r.POST(k.Route, s.Metrics.webhook(k.Route, s.webhook(k)))
	}
	r.GET("/api/health/queues", s.health)
	r.GET("/api/processing/:processingId", s.authenticated(s.processing))
	s.leaderboardRoutes(r)
	s.operationsRoutes(r)
	r.NotFound = s.Metrics.unmatched(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "Not found", nil)
	}))
	r.MethodNotAllowed = s.Metrics.unmatched(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed", nil)
	}))
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		s.Log.Error("handler panic", "path", req.URL.Path, "panic", v)
		writeError(w, http.StatusInternalServerError, "Internal error", nil)
	}
	return r
}

// Accepted is a webhook body once a kind's Decode has validated it: a
// task for the kind's queue, or the reason nothing is queued.
type Accepted struct {
	Task   any         // the job's payload, stored as JSON
	ID     string      // the id its processingId carries
	Reply  acceptReply // the ids the 200 answer echoes
	Keys   []namedID   // the ids that are the app's keys (UUIDs in Postgres mode)
	Skip   string      // why nothing is queued, when set
	RowKey string      // the envelope's row event, see Decoded.RowKey
}

// namedID is an id with the name of the field it came in.
type namedID struct{ field, value string }

// acceptReply is the 200 answer to a webhook. Duplicate is set when the
// delivery was accepted before: ProcessingID is then the first delivery's.
type acceptReply struct {
	Success      bool   `json:"success"`
	JobID        string `json:"jobId,omitempty"`
	PostID       string `json:"postId,omitempty"`
	UserID       string `json:"userId,omitempty"`
	CandidateID  string `json:"candidateId,omitempty"`
	Action       string `json:"action,omitempty"`
	Message      string `json:"message"`
	ProcessingID string `json:"processingId"`
	Duplicate    bool   `json:"duplicate,omitempty"`
}

// skipReply is the 200 answer to an envelope that needs no work.
type skipReply struct {
	Success bool   `json:"success"`
	Skipped bool   `json:"skipped"`
	Reason  string `json:"reason"`
}

// errorReply is every error answer.
type errorReply struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Details any    `json:"details,omitempty"`
}

// webhook is a kind's route: its decoder wrapped with what every webhook
// shares: auth, content type, size limit, the delivery key, the durable
// enqueue and the reply.
func (s *Server) webhook(k Kind) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		buf := bodyPool.Get().(*bytes.Buffer)
		defer putBody(buf)
		received, err := s.admit(w, r, buf)
		if err != nil {
			writeRequestError(w, err)
			return
		}
		key, err := headerDeliveryKey(r.Header)
		if err != nil {
			writeRequestError(w, err)
			return
		}
		a, err := k.Decode(buf.Bytes(), received)
		if err == nil && a.Skip == "" && s.RequireUUIDs {
			err = checkUUIDs(a.Keys)
		}
		switch {
		case err != nil:
			writeRequestError(w, err)
		case a.Skip != "":
			s.Log.Debug("webhook skipped", "reason", a.Skip)
			writeJSON(w, http.StatusOK, skipReply{Success: true, Skipped: true, Reason: a.Skip})
		default:
			if key == "" && a.RowKey != "" {
				key = "row:" + a.RowKey
			}
			s.enqueue(w, r, k, a, key, received)
		}
	}
}

// admit authenticates a webhook, by x-webhook-secret or, when signing is
// configured and the request carries Standard Webhooks headers, by its
// signature; checks its content type; and reads its body into buf. It
// returns when the webhook was received.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) (time.Time, error) {
	bySecret := s.authorized(r)
	if !bySecret && (s.signatures == nil || !hasSignatureHeaders(r.Header)) {
		return time.Time{}, s.whyUnauthorized(r)
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		return time.Time{}, &RequestError{Status: http.StatusUnsupportedMediaType, Message: "Content-Type must be application/json"}
	}
	if err := s.readBody(w, r, buf); err != nil {
		return time.Time{}, err
	}
	received := s.now()
	if !bySecret {
		if err := s.signatures.verify(r.Header, buf.Bytes(), received); err != nil {
			return time.Time{}, err
		}
	}
	return received, nil
}

// The 401s of a request that proves nothing. A wrong secret keeps the
// text senders have always had, which some may match.
var (
	errInvalidSecret = &RequestError{Status: http.StatusUnauthorized, Message: "Unauthorized: Invalid webhook secret"}
	errMissingSecret = &RequestError{Status: http.StatusUnauthorized, Message: "Unauthorized: missing x-webhook-secret"}
	errSigningIsOff  = &RequestError{Status: http.StatusUnauthorized, Message: "Unauthorized: the request is signed (Standard Webhooks) but signing is not enabled on this hookd (WEBHOOK_SIGNING_SECRET); send x-webhook-secret"}
)

// whyUnauthorized says what a request without a valid secret lacks.
func (s *Server) whyUnauthorized(r *http.Request) error {
	switch {
	case r.Header.Get("x-webhook-secret") != "":
		return errInvalidSecret
	case s.signatures == nil && hasSignatureHeaders(r.Header):
		return errSigningIsOff
	}
	return errMissingSecret
}

// enqueue commits the job under its delivery key and answers: 200 with
// the job's processingId (the first delivery's for a duplicate), or 503
// when the queue could not commit.
func (s *Server) enqueue(w http.ResponseWriter, r *http.Request, k Kind, a Accepted, key string, received time.Time) {
	payload, err := json.Marshal(a.Task)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal error", nil)
		return
	}
	processingID := newProcessingID(k.Prefix, a.ID, received)
	done, err := s.Queue.Enqueue(r.Context(), NewJob{Queue: k.Queue, ProcessingID: processingID, Payload: payload, ReceivedAt: received, Key: key})
	if err != nil {
		s.Log.Error("enqueue failed", "queue", k.Queue, "processingId", processingID, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "Queue unavailable: the webhook was not accepted, retry later", nil)
		return
	}
	e := done[0]
	if e.Duplicate {
		s.Log.Info("duplicate delivery answered with the first one's job", "queue", k.Queue, "processingId", e.ProcessingID, "deliveryKey", key)
	}
	reply := a.Reply
	reply.Success, reply.Message, reply.ProcessingID, reply.Duplicate = true, k.Queued, e.ProcessingID, e.Duplicate
	writeJSON(w, http.StatusOK, reply)
}

// Delivery headers: a sender's retry carries the same value.
const (
	headerIdempotencyKey = "Idempotency-Key"
	maxDeliveryKeyLen    = 255
)

// headerDeliveryKey names the delivery from its headers: webhook-id, else
// Idempotency-Key, prefixed with the header's name so that the two
// schemes, and envelope row keys, cannot collide. "" when neither is set.
func headerDeliveryKey(h http.Header) (string, error) {
	key := ""
	for _, name := range []string{headerWebhookID, headerIdempotencyKey} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		if err := checkHeaderValue(name, v); err != nil {
			return "", err
		}
		if key == "" {
			key = strings.ToLower(name) + ":" + v
		}
	}
	return key, nil
}

// checkHeaderValue accepts 1–255 printable ASCII characters.
func checkHeaderValue(name, v string) error {
	if len(v) > maxDeliveryKeyLen {
		return badRequest("%s: longer than %d characters", name, maxDeliveryKeyLen)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < ' ' || v[i] > '~' {
			return badRequest("%s: only printable ASCII characters are allowed", name)
		}
	}
	return nil
}

// newProcessingID is <kind>-<id>-<unix ms>, the form the app already
// knows, plus a random suffix: two webhooks for the same id in the same
// millisecond must not collide, since the id is the job's key.
func newProcessingID(kind, id string, at time.Time) string {
	var suffix [5]byte
	rand.Read(suffix[:])
	return formatProcessingID(kind, id, at, suffix)
}

// formatProcessingID spells every processingId, webhook's
// (newProcessingID) or captured event's (eventProcessingID):
// <kind>-<id>-<unix ms>-<suffix>. The 5 suffix bytes make 8 characters,
// so the milliseconds are substr(id, -22, 13): the processingId indexes
// of migrations/sqlite are keyed by that (TestProcessingIDIndexKey).
func formatProcessingID(kind, id string, at time.Time, suffix [5]byte) string {
	return kind + "-" + id + "-" + strconv.FormatInt(at.UnixMilli(), 10) + "-" + suffixEncoding.EncodeToString(suffix[:])
}

var suffixEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// authorized compares x-webhook-secret in constant time. Both sides are
// hashed first so that neither the content nor the length of the secret
// shows in the timing.
func (s *Server) authorized(r *http.Request) bool {
	got := sha256.Sum256([]byte(r.Header.Get("x-webhook-secret")))
	return subtle.ConstantTimeCompare(got[:], s.secretHash[:]) == 1
}

func (s *Server) authenticated(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		if !s.authorized(r) {
			writeRequestError(w, s.whyUnauthorized(r))
			return
		}
		h(w, r, p)
	}
}

func isJSON(contentType string) bool {
	if contentType == "application/json" { // what senders send; parsing it allocates
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBody returns a buffer to the pool unless one huge body grew it.
func putBody(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 {
		b.Reset()
		bodyPool.Put(b)
	}
}

func (s *Server) readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) error {
	tooLarge := func() error {
		return &RequestError{
			Status:  http.StatusRequestEntityTooLarge,
			Message: "body: larger than " + strconv.FormatInt(s.MaxBody, 10) + " bytes",
		}
	}
	if r.ContentLength > s.MaxBody {
		return tooLarge()
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.MaxBody))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return tooLarge()
	case err != nil:
		return badRequest("body: could not be read: %s", err.Error())
	}
	return nil
}

// healthReply is the answer of GET /api/health/queues. Queue and Store
// say what is wrong when the status is not ok.
type healthReply struct {
	Status    string                 `json:"status"`
	Queues    map[string]QueueCounts `json:"queues,omitempty"`
	Timestamp string                 `json:"timestamp"`
	Queue     string                 `json:"queue,omitempty"`
	Store     string                 `json:"store,omitempty"`
	Outbox    *OutboxStats           `json:"outbox,omitempty"`
}

// Health is open, so what it says of a problem is generic unless the
// caller sends the secret: an error's text can name the database's host,
// port and user. The logs have the details (the gate and the writer log
// them when they happen).
const (
	publicStoreProblem  = "results store unreachable"
	publicCommitProblem = "queue cannot commit"
	publicReadProblem   = "queue cannot be read"
)

// withoutDetails is generic when problem is set, "" when it is not.
func withoutDetails(problem, generic string) string {
	if problem == "" {
		return ""
	}
	return generic
}

// health answers GET /api/health/queues. It is open: load balancers call it.
func (s *Server) health(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	counts, err := s.Queue.Counts(ctx)
	reply := healthReply{Status: "ok", Queues: counts, Timestamp: s.now().UTC().Format(time.RFC3339)}
	reply.Queue = s.Queue.CommitError()
	publicQueueProblem := publicCommitProblem
	if err != nil {
		reply.Queue, publicQueueProblem = err.Error(), publicReadProblem
	}
	reply.Store = s.StoreProblem()
	if s.Outbox != nil && reply.Store == "" {
		if o, err := s.Outbox.Stats(ctx); err == nil {
			reply.Outbox = &o
		} else {
			reply.Store = err.Error()
		}
	}
	if !s.authorized(r) {
		reply.Store = withoutDetails(reply.Store, publicStoreProblem)
		reply.Queue = withoutDetails(reply.Queue, publicQueueProblem)
	}
	code := http.StatusOK
	switch {
	case reply.Queue != "":
		reply.Status = "unavailable"
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	case reply.Store != "":
		reply.Status = "degraded"
	}
	writeJSON(w, code, reply)
}

// processing answers GET /api/processing/:processingId.
func (s *Server) processing(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	id := p.ByName("processingId")
	if len(id) > 2*maxIDLen {
		writeError(w, http.StatusNotFound, "Processing job not found", nil)
		return
	}
	st, err := s.Queue.Status(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "Processing job not found", nil)
	case err != nil:
		s.Log.Error("job status failed", "processingId", id, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "Queue unavailable", nil)
	default:
		writeJSON(w, http.StatusOK, st)
	}
}

func writeRequestError(w http.ResponseWriter, err error) {
	var re *RequestError
	if errors.As(err, &re) {
		writeError(w, re.Status, re.Message, re.Details)
		return
	}
	writeError(w, http.StatusBadRequest, err.Error(), nil)
}

func writeError(w http.ResponseWriter, code int, msg string, details any) {
	writeJSON(w, code, errorReply{Error: msg, Details: details})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"success":false,"error":"Internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
