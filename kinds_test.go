package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// echoTask is the payload of a kind that exists only in this test.
type echoTask struct {
	ID string `json:"id"`
	N  int    `json:"n"`
}

// echoKind is a fourth kind, declared the way Kinds declares the real
// ones: one entry, its decoder and its work.
var echoKind = Kind{
	Queue:      "echo-doubling",
	Route:      "/api/test/echo",
	Prefix:     "echo",
	Queued:     "Echo queued",
	Workers:    2,
	WorkersEnv: "ECHO_DOUBLING_CONCURRENCY",
	Decode: func(body []byte, _ time.Time) (Accepted, error) {
		var t echoTask
		if err := decodeObject(body, &t); err != nil {
			return Accepted{}, err
		}
		if err := checkID("id", t.ID, true); err != nil {
			return Accepted{}, err
		}
		return Accepted{Task: t, ID: t.ID, Reply: acceptReply{JobID: t.ID}}, nil
	},
	Work: oneAtATime(func(_ *Processor, _ context.Context, j Job) (any, error) {
		var t echoTask
		if err := decodePayload(j, &t); err != nil {
			return nil, err
		}
		if t.N < 0 {
			return nil, Permanent(errors.New("n must not be negative"))
		}
		return map[string]int{"doubled": 2 * t.N}, nil
	}),
}

// Adding a kind is one declaration: with echoKind registered, its route
// accepts and validates, its jobs go through the queue to a worker, and
// health reports its queue beside the others.
func TestAddingAKindIsOneDeclaration(t *testing.T) {
	cfg, err := loadConfig(testEnv(t, map[string]string{"ECHO_DOUBLING_CONCURRENCY": "3"}), append(slices.Clone(Kinds), echoKind))
	if err != nil {
		t.Fatal(err)
	}
	a := startAppWith(t, cfg)

	ok := a.post(t, "/api/test/echo", `{"id":"e-1","n":21}`)
	id := ok.str("processingId")
	if ok.Status != http.StatusOK || ok.str("message") != "Echo queued" || !strings.HasPrefix(id, "echo-e-1-") {
		t.Fatalf("accept: %d %v", ok.Status, ok.Body)
	}
	bad := a.post(t, "/api/test/echo", `{"id":"e 2","n":1}`)
	if bad.Status != http.StatusBadRequest || !strings.Contains(bad.str("error"), "id: only letters") {
		t.Errorf("invalid id: %d %v", bad.Status, bad.Body)
	}
	failing := a.mustAccept(t, "/api/test/echo", `{"id":"e-3","n":-1}`)

	counts := a.waitDrained(t)
	if st := a.status(t, id); st.Queue != echoKind.Queue || st.State != StateCompleted || string(st.Result) != `{"doubled":42}` {
		t.Errorf("status %+v %s", st, st.Result)
	}
	if st := a.status(t, failing); st.State != StateFailed || st.LastError == nil || !strings.Contains(*st.LastError, "negative") {
		t.Errorf("failing job: %+v", st)
	}
	if c := counts[echoKind.Queue]; c.Completed != 1 || c.Failed != 1 {
		t.Errorf("counts of %s: %+v", echoKind.Queue, c)
	}
	code, h := a.health(t)
	if code != http.StatusOK || len(h.Queues) != len(Kinds)+1 || h.Queues[echoKind.Queue].Completed != 1 {
		t.Errorf("health %d %+v", code, h)
	}
	if n := cfg.WorkersOf(echoKind); n != 3 {
		t.Errorf("workers of the new kind: %d, want ECHO_DOUBLING_CONCURRENCY=3", n)
	}
}

// Every table a kind takes leads to its route, and the Supabase webhook
// script posts to each route and has a webhook on each table. tableRoutes
// is built from Kinds itself, so what its check catches is a table listed
// under two kinds: the kind listed later would take the other's rows.
func TestKindsDriveTheTableMapping(t *testing.T) {
	script := readRepoFile(t, "supabase/hookd_webhooks.sql")
	for _, k := range Kinds {
		if !strings.Contains(script, k.Route) {
			t.Errorf("supabase/hookd_webhooks.sql never posts to %s", k.Route)
		}
		for _, table := range k.Tables {
			if tableRoutes[table] != k.Route {
				t.Errorf("table %s goes to %q, want %s", table, tableRoutes[table], k.Route)
			}
			if !strings.Contains(script, "'"+table+"'") && !strings.Contains(script, "public."+table) {
				t.Errorf("supabase/hookd_webhooks.sql has no webhook on %s", table)
			}
		}
	}
}

func readRepoFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The Supabase webhook script runs (against a stand-in for Supabase's
// http_request) and creates a webhook per table of each kind that exists;
// the drop script removes them all.
func TestPostgresWebhookScripts(t *testing.T) {
	dbURL := freshDatabase(t)
	c := connect(t, dbURL)
	pgExec(t, c, likesTable)
	pgExec(t, c, `CREATE SCHEMA supabase_functions;
CREATE FUNCTION supabase_functions.http_request() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`)
	script := strings.NewReplacer("https://HOOKD.EXAMPLE.COM", "https://hookd.test", "REPLACE_WITH_SUPABASE_WEBHOOK_SECRET", "s3cret").
		Replace(readRepoFile(t, "supabase/hookd_webhooks.sql"))
	for run := 1; run <= 2; run++ {
		pgExec(t, c, script)
	}
	hooks := pgInt(t, c, `SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'hookd\_%' AND tgname NOT LIKE 'hookd\_capture%'`)
	want := len(Kinds) // jobs, posts, candidates, and likes, the one activity table here
	if hooks != want {
		t.Errorf("%d webhooks, want %d", hooks, want)
	}
	if n := pgInt(t, c, `SELECT count(*) FROM pg_trigger WHERE tgname = 'hookd_activity' AND tgrelid = 'likes'::regclass`); n != 1 {
		t.Errorf("no webhook on likes")
	}
	pgExec(t, c, readRepoFile(t, "supabase/hookd_webhooks_drop.sql"))
	if n := pgInt(t, c, `SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'hookd\_%' AND tgname NOT LIKE 'hookd\_capture%'`); n != 0 {
		t.Errorf("%d webhooks left after the drop script", n)
	}
}
