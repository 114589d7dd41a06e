package main

// The dashboard at /dashboard: the queues and their counts, the failed
// jobs and why they failed, one job's payload and result, retry and
// discard, the outbox backlog and the leaderboard. Server-rendered from
// templates built into the binary, readable on a phone, no script.
//
// It exists only when DASHBOARD_PASSWORD is set, behind HTTP Basic (any
// user name). Every change is a POST, and net/http's
// CrossOriginProtection refuses POSTs another site's page makes the
// browser send, credentials attached. html/template escapes what jobs
// carry (a post's content is anyone's text), and the Content-Security-
// Policy allows no script at all in case something slipped through.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
)

//go:embed dashboard
var dashboardFiles embed.FS

// dashboardFailedShown is how many failed jobs the overview lists.
const dashboardFailedShown = 100

// DashboardConfig is what the dashboard is built from.
type DashboardConfig struct {
	Password string
	Queue    interface {
		Intake
		Admin
	}
	Queues       []string
	Mode         string        // "embedded" or "postgres"
	StoreProblem func() string // "" while the results store answers
	Outbox       *Outbox       // nil in embedded mode
	Board        *Leaderboard  // nil when LEADERBOARD_DISABLED
	Log          *slog.Logger
}

// Dashboard serves /dashboard.
type Dashboard struct {
	DashboardConfig
	passwordHash [sha256.Size]byte
	pages        map[string]*template.Template
	origin       *http.CrossOriginProtection
	now          func() time.Time
}

// NewDashboard builds the dashboard; nil when no password is set, and
// then no /dashboard route exists.
func NewDashboard(c DashboardConfig) *Dashboard {
	if c.Password == "" {
		return nil
	}
	d := &Dashboard{
		DashboardConfig: c,
		passwordHash:    sha256.Sum256([]byte(c.Password)),
		pages:           map[string]*template.Template{},
		origin:          http.NewCrossOriginProtection(),
		now:             time.Now,
	}
	funcs := template.FuncMap{"ago": d.ago, "when": utcTime, "short": func(s string) string { return truncate(s, 160) }}
	for _, name := range []string{"overview", "job", "message"} {
		d.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(dashboardFiles, "dashboard/layout.html", "dashboard/"+name+".html"))
	}
	return d
}

// routes registers the dashboard's routes on r; a nil Dashboard
// registers none, so /dashboard answers 404.
func (d *Dashboard) routes(r *httprouter.Router) {
	if d == nil {
		return
	}
	r.Handler(http.MethodGet, "/dashboard", d.guard(d.page(d.overview)))
	r.Handler(http.MethodGet, "/dashboard/style.css", d.guard(http.HandlerFunc(d.style)))
	r.Handler(http.MethodGet, "/dashboard/jobs/:id", d.guard(d.page(d.job)))
	r.Handler(http.MethodPost, "/dashboard/jobs/:id/retry", d.action(d.retryJob))
	r.Handler(http.MethodPost, "/dashboard/jobs/:id/discard", d.action(d.discardJob))
	r.Handler(http.MethodPost, "/dashboard/queues/:queue/retry", d.action(d.retryQueue))
	r.Handler(http.MethodPost, "/dashboard/queues/:queue/discard", d.action(d.discardQueue))
}

// dashboardCSP allows the page its own stylesheet and forms, and nothing
// else: no script, no frame, no other origin.
const dashboardCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// guard sets the security headers and asks for the password.
func (d *Dashboard) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", dashboardCSP)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("Cache-Control", "no-store")
		if !d.authorized(r) {
			hdr.Set("WWW-Authenticate", `Basic realm="hookd dashboard", charset="UTF-8"`)
			http.Error(w, "401 Unauthorized: the dashboard needs the DASHBOARD_PASSWORD (any user name)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authorized checks the Basic password in constant time; both sides are
// hashed so that the length does not show either.
func (d *Dashboard) authorized(r *http.Request) bool {
	_, password, ok := r.BasicAuth()
	got := sha256.Sum256([]byte(password))
	return subtle.ConstantTimeCompare(got[:], d.passwordHash[:]) == 1 && ok
}

// action is a POST route: refused with 403 when it comes from another
// origin, then guarded like the pages.
func (d *Dashboard) action(h func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return d.origin.Handler(d.guard(http.HandlerFunc(h)))
}

// pageFunc gathers a page: its template's name, the data, and the status
// to answer with.
type pageFunc func(r *http.Request) (name string, data any, code int)

// page renders a page whole before sending it, so that a failing
// template answers 500 rather than half a page.
func (d *Dashboard) page(f pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, data, code := f(r)
		d.render(w, code, name, data)
	})
}

func (d *Dashboard) render(w http.ResponseWriter, code int, name string, data any) {
	var b bytes.Buffer
	if err := d.pages[name].Execute(&b, data); err != nil {
		d.Log.Error("dashboard page failed", "page", name, "err", err)
		http.Error(w, "500 Internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// messagePage is a page that only says something: an error, a refusal.
type messagePage struct {
	Title, Message string
}

func (d *Dashboard) message(w http.ResponseWriter, code int, title, msg string) {
	d.render(w, code, "message", messagePage{title, msg})
}

// overviewPage is /dashboard.
type overviewPage struct {
	Mode         string
	Notice       string
	QueueProblem string
	StoreProblem string
	Queues       []queueLine
	Failed       []JobInfo
	FailedTotal  int
	Outbox       *OutboxStats
	OutboxNote   string
	Board        []RankedUser
	BoardNote    string
}

// queueLine is a queue's line: its counts, FailedNow among them.
type queueLine struct {
	Name string
	QueueCounts
}

func (d *Dashboard) overview(r *http.Request) (string, any, int) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	p := overviewPage{Mode: d.Mode, Notice: notice(r.URL.Query()), QueueProblem: d.Queue.CommitError(), StoreProblem: d.StoreProblem()}
	if err := d.readQueues(ctx, &p); err != nil {
		d.Log.Error("dashboard: read the queues", "err", err)
		p.QueueProblem = "the queue could not be read: " + err.Error()
	}
	d.readOutbox(ctx, &p)
	d.readBoard(ctx, &p)
	return "overview", p, http.StatusOK
}

func (d *Dashboard) readQueues(ctx context.Context, p *overviewPage) error {
	counts, err := d.Queue.Counts(ctx)
	if err != nil {
		return err
	}
	for _, name := range d.Queues {
		p.Queues = append(p.Queues, queueLine{Name: name, QueueCounts: counts[name]})
	}
	p.Failed, p.FailedTotal, err = d.Queue.Failed(ctx, "", dashboardFailedShown)
	return err
}

func (d *Dashboard) readOutbox(ctx context.Context, p *overviewPage) {
	switch {
	case d.Outbox == nil:
		p.OutboxNote = "Embedded mode: there is no outbox."
	case p.StoreProblem != "":
		p.OutboxNote = "Unknown while the results store is unreachable."
	default:
		o, err := d.Outbox.Stats(ctx)
		if err != nil {
			d.Log.Error("dashboard: read the outbox", "err", err)
			p.OutboxNote = "The outbox could not be read (see the logs)."
			return
		}
		p.Outbox = &o
	}
}

// dashboardBoardSize is how many users the overview's leaderboard shows.
const dashboardBoardSize = 10

func (d *Dashboard) readBoard(ctx context.Context, p *overviewPage) {
	switch {
	case d.Board == nil:
		p.BoardNote = "The leaderboard is disabled (LEADERBOARD_DISABLED)."
	case !d.Board.IsReady():
		p.BoardNote = "The leaderboard is being rebuilt from the store."
	default:
		users, err := d.Board.Top(ctx, dashboardBoardSize)
		if err != nil {
			d.Log.Error("dashboard: read the leaderboard", "err", err)
			p.BoardNote = "The leaderboard could not be read (see the logs)."
			return
		}
		p.Board = users
		if len(users) == 0 {
			p.BoardNote = "No user has points yet."
		}
	}
}

// jobPage is /dashboard/jobs/:id.
type jobPage struct {
	JobInfo
	Notice  string
	Payload string
	Result  string
	Refresh bool // the job is still to finish: the page reloads itself
}

func (d *Dashboard) job(r *http.Request) (string, any, int) {
	id := httprouter.ParamsFromContext(r.Context()).ByName("id")
	j, err := d.Queue.Job(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		return "message", messagePage{"Job not found", "No job " + id + ": it never existed, or it was discarded, or it completed and was pruned."}, http.StatusNotFound
	case err != nil:
		d.Log.Error("dashboard: read a job", "processingId", id, "err", err)
		return "message", messagePage{"Queue unavailable", "The job could not be read (see the logs)."}, http.StatusServiceUnavailable
	}
	p := jobPage{JobInfo: j, Notice: notice(r.URL.Query()), Payload: indentJSON(j.Payload), Result: indentJSON(j.Result)}
	p.Refresh = j.State == StateWaiting || j.State == StateActive || j.State == StateDelayed
	return "job", p, http.StatusOK
}

// indentJSON lays JSON out for reading, with <, > and & as themselves
// rather than \u003c escapes (the template escapes them for HTML);
// anything else is shown as it is.
func indentJSON(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return string(b)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if enc.Encode(v) != nil {
		return string(b)
	}
	return strings.TrimSuffix(out.String(), "\n")
}

func (d *Dashboard) retryJob(w http.ResponseWriter, r *http.Request) {
	id := httprouter.ParamsFromContext(r.Context()).ByName("id")
	if err := d.Queue.Retry(r.Context(), id); err != nil {
		d.refused(w, "Not retried", err)
		return
	}
	d.Log.Info("job retried from the dashboard", "processingId", id)
	redirectDone(w, r, "/dashboard/jobs/"+url.PathEscape(id), "retried", 1)
}

func (d *Dashboard) discardJob(w http.ResponseWriter, r *http.Request) {
	id := httprouter.ParamsFromContext(r.Context()).ByName("id")
	if err := d.Queue.Discard(r.Context(), id); err != nil {
		d.refused(w, "Not discarded", err)
		return
	}
	d.Log.Info("job discarded from the dashboard", "processingId", id)
	redirectDone(w, r, "/dashboard", "discarded", 1)
}

func (d *Dashboard) retryQueue(w http.ResponseWriter, r *http.Request) {
	queue := httprouter.ParamsFromContext(r.Context()).ByName("queue")
	n, err := d.Queue.RetryAll(r.Context(), queue)
	if err != nil {
		d.refused(w, "Not retried", err)
		return
	}
	d.Log.Info("failed jobs retried from the dashboard", "queue", queue, "jobs", n)
	redirectDone(w, r, "/dashboard", "retried", n)
}

// discardQueue deletes a queue's failed jobs once the form's box saying
// so is ticked: without a script there is no confirm dialog.
func (d *Dashboard) discardQueue(w http.ResponseWriter, r *http.Request) {
	queue := httprouter.ParamsFromContext(r.Context()).ByName("queue")
	if r.PostFormValue("confirm") != "yes" {
		d.message(w, http.StatusBadRequest, "Not discarded", "Tick the box to confirm that every failed job of "+queue+" is to be deleted.")
		return
	}
	n, err := d.Queue.DiscardAll(r.Context(), queue)
	if err != nil {
		d.refused(w, "Not discarded", err)
		return
	}
	d.Log.Info("failed jobs discarded from the dashboard", "queue", queue, "jobs", n)
	redirectDone(w, r, "/dashboard", "discarded", n)
}

// refused answers an action the queue refused: 404 for an unknown job or
// queue, 409 for a job in a state the action does not apply to.
func (d *Dashboard) refused(w http.ResponseWriter, title string, err error) {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnknownQueue):
		d.message(w, http.StatusNotFound, title, err.Error())
	case errors.Is(err, ErrNotFailed), errors.Is(err, ErrNeverRan):
		d.message(w, http.StatusConflict, title, err.Error())
	default:
		d.Log.Error("dashboard action failed", "err", err)
		d.message(w, http.StatusServiceUnavailable, title, "The queue could not be changed (see the logs).")
	}
}

// redirectDone answers an action with 303 to the page that shows its effect,
// saying what was done in the query (a code, never text to display).
func redirectDone(w http.ResponseWriter, r *http.Request, path, done string, n int) {
	http.Redirect(w, r, path+"?done="+done+"&n="+strconv.Itoa(n), http.StatusSeeOther)
}

// notice is the sentence a redirect's query stands for.
func notice(q url.Values) string {
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n < 0 {
		return ""
	}
	jobs := "jobs"
	if n == 1 {
		jobs = "job"
	}
	switch q.Get("done") {
	case "retried":
		return fmt.Sprintf("Retried %d %s: waiting to run.", n, jobs)
	case "discarded":
		return fmt.Sprintf("Discarded %d %s.", n, jobs)
	}
	return ""
}

func (d *Dashboard) style(w http.ResponseWriter, r *http.Request) {
	http.ServeFileFS(w, r, dashboardFiles, "dashboard/style.css")
}

// ago says how long ago t was.
func (d *Dashboard) ago(t time.Time) string { return shortAge(d.now(), t) }

// shortAge says how long before now t was, in one unit (45s, 12m, 5h,
// 3d); "" for the zero time.
func shortAge(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	s := int64(now.Sub(t).Seconds())
	switch {
	case s < 0:
		return "0s"
	case s < 60:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m"
	case s < 48*3600:
		return strconv.FormatInt(s/3600, 10) + "h"
	}
	return strconv.FormatInt(s/86400, 10) + "d"
}

// utcTime writes a time in UTC to the second; "" for the zero time.
func utcTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
