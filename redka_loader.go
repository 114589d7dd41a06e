package main

// Bulk writes into redka.db's own tables, for a rebuild.

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// How a rebuild writes. It gathers elements by key, up to
// loaderBufferRows (a few MiB), then writes them in one transaction,
// key after key, each key's in element order and in statements of
// loaderStatementRows. A key's index pages are then visited together and
// in order, within the loader's page cache, as long as the buffer holds
// most of a key's elements: when the store sends each bucket's rows
// together (Postgres sorts them), or nearly (the embedded store reads by
// rowid, and activity is logged roughly in time order). Rows of all hours
// mixed are written correctly, at a higher cost (BENCHMARKS.md).
const (
	loaderBufferRows    = 65536
	loaderStatementRows = 1000
	// redkaSchemaVersion is the user_version of the redka.db schema that
	// the loader's statements are written for (redka 1.0).
	redkaSchemaVersion = 1
)

// The loader writes redka's tables directly. A key is a row of rkey
// (type 5 is a sorted set; etime, the expiry in Unix milliseconds, is
// null for none; len, its number of elements) and its elements rows of
// rzset. Adding to an existing element adds the scores, as ZINCRBY does.
//
// redka keeps rkey.len with a trigger on rzset, which looks the element up
// and updates the key's row for every element inserted: half the cost of
// a rebuild's writes. So each of the loader's transactions drops it,
// counts the elements of the keys it wrote, and creates it again from its
// own definition, read from sqlite_master. The trigger is missing only
// inside that transaction, which holds redka.db's write lock: no other
// writer can insert meanwhile, readers see the committed state, with the
// trigger, and a crash rolls the drop back.
const (
	redkaClearSQL      = `DELETE FROM rkey` // rzset's rows go with their key (ON DELETE CASCADE)
	redkaLenTrigger    = `rzset_on_insert`
	redkaLenTriggerSQL = `SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = '` + redkaLenTrigger + `'`
	redkaZSetKeySQL    = `
INSERT INTO rkey (key, type, version, etime, mtime, len) VALUES (?1, 5, 1, ?2, ?3, 0)
ON CONFLICT (key) DO UPDATE SET version = rkey.version + 1, etime = excluded.etime, mtime = excluded.mtime
RETURNING id`
	redkaZSetAddSQL    = `INSERT INTO rzset (kid, elem, score) VALUES `
	redkaZSetAddUpsert = ` ON CONFLICT (kid, elem) DO UPDATE SET score = rzset.score + excluded.score`
	redkaZSetLenSQL    = `UPDATE rkey SET len = (SELECT count(*) FROM rzset WHERE kid = ?1) WHERE id = ?1`
)

// zsetAddSQL is the statement adding n elements: a key id, an element
// and a score for each. The parameters are anonymous: the driver looks
// each numbered one's name up in a list, which costs as much as the
// insert once a statement has thousands.
func zsetAddSQL(n int) string {
	return redkaZSetAddSQL + strings.Repeat("(?,?,?),", n-1) + "(?,?,?)" + redkaZSetAddUpsert
}

// redkaLoader writes a rebuild into redka.db through a connection of its
// own, bypassing redka's API: that runs two statements per element
// (measured: 17,000 elements a second), and a rebuild over a busy store
// writes a million; in statements of a thousand rows, without the
// trigger, one core writes about 250,000 a second.
type redkaLoader struct {
	db       *sql.DB
	trigger  string                // the definition of redkaLenTrigger
	keys     map[string]*loaderKey // the gathered elements, by key
	buffered int                   // elements in keys
	args     []any                 // a statement's parameters, reused
}

// loaderKey is a key's gathered elements.
type loaderKey struct {
	etime any // the key's expiry (Unix ms), or nil
	elems []loaderElem
}

type loaderElem struct {
	elem  string
	score float64
}

// openRedkaLoader opens redka.db (which redka.Open has created) for a
// rebuild, with redka's own settings, after checking that its schema is
// the one the loader writes.
func openRedkaLoader(ctx context.Context, path string) (*redkaLoader, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	for name, value := range redkaPragma {
		q.Add("_pragma", name+"("+value+")")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	var version int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if version != redkaSchemaVersion {
		db.Close()
		return nil, fmt.Errorf("%s has redka schema version %d; the rebuild writes version %d", path, version, redkaSchemaVersion)
	}
	w := &redkaLoader{db: db, keys: map[string]*loaderKey{}}
	if err := db.QueryRowContext(ctx, redkaLenTriggerSQL).Scan(&w.trigger); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: read the trigger %s: %w", path, redkaLenTrigger, err)
	}
	return w, nil
}

// loadSnapshot empties redka.db and writes the snapshot's scores and the
// live trending buckets (see trendingBucket) into it. The trending rows
// are read in one goroutine and written in another: on two cores, the
// rebuild takes about as long as the slower of the two, not their sum.
func (w *redkaLoader) loadSnapshot(ctx context.Context, snap LeaderboardSnapshot, now time.Time) (users, rows int, err error) {
	if _, err := w.db.ExecContext(ctx, redkaClearSQL); err != nil {
		return 0, 0, fmt.Errorf("clear redka.db: %w", err)
	}
	err = snap.UserScores(ctx, func(u UserScore) error {
		users++
		return w.add(ctx, leaderboardKey, nil, u.UserID, float64(u.Score))
	})
	if err != nil {
		return 0, 0, err
	}
	since := now.UTC().Truncate(time.Hour).Add(time.Hour - trendingTTL)
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []HourlyPoints, 2)
	g.Go(func() error {
		defer close(batches)
		return readInBatches(gctx, batches, func(fn func(HourlyPoints) error) error {
			return snap.TrendingSince(gctx, since, fn)
		})
	})
	g.Go(func() error {
		for batch := range batches {
			for _, h := range batch {
				key, expiry, ok := trendingBucket(h.TargetType, h.TargetID, h.Hour, now)
				if !ok {
					continue
				}
				rows++
				if err := w.add(gctx, key, redkaExpiry(expiry, now), h.TargetID, float64(h.Points)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return users, rows, g.Wait()
}

// pipeBatch is how many rows travel at a time from the goroutine reading
// the store to the one writing redka.
const pipeBatch = 4096

// readInBatches runs read, sending the rows it gives in batches to out.
func readInBatches(ctx context.Context, out chan<- []HourlyPoints, read func(func(HourlyPoints) error) error) error {
	batch := make([]HourlyPoints, 0, pipeBatch)
	send := func() error {
		select {
		case out <- batch:
			batch = make([]HourlyPoints, 0, pipeBatch)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := read(func(row HourlyPoints) error {
		if batch = append(batch, row); len(batch) == pipeBatch {
			return send()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = send()
	}
	return err
}

// addEvents adds events' points, summed per element first.
func (w *redkaLoader) addEvents(ctx context.Context, events []ActivityEvent, now time.Time) error {
	users, buckets := sumEvents(events, now)
	for user, points := range users {
		if err := w.add(ctx, leaderboardKey, nil, user, points); err != nil {
			return err
		}
	}
	for key, targets := range buckets.points {
		for target, points := range targets {
			if err := w.add(ctx, key, redkaExpiry(buckets.expiries[key], now), target, points); err != nil {
				return err
			}
		}
	}
	return nil
}

// redkaExpiry is a bucket's expiry on redka's clock: redka compares
// etime with its own time, so the bucket lives expiry-now from now, as
// Expire would set it (see bucketPoints.write).
func redkaExpiry(expiry, now time.Time) any {
	return time.Now().Add(expiry.Sub(now)).UnixMilli()
}

// add adds score to elem in the sorted set key, whose expiry is etime.
func (w *redkaLoader) add(ctx context.Context, key string, etime any, elem string, score float64) error {
	k := w.keys[key]
	if k == nil {
		k = &loaderKey{etime: etime}
		w.keys[key] = k
	}
	k.elems = append(k.elems, loaderElem{elem, score})
	if w.buffered++; w.buffered == loaderBufferRows {
		return w.write(ctx)
	}
	return nil
}

// write writes the gathered elements in one transaction.
func (w *redkaLoader) write(ctx context.Context) error {
	if w.buffered == 0 {
		return nil
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin a redka.db transaction: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, `DROP TRIGGER `+redkaLenTrigger); err != nil {
		return fmt.Errorf("drop the trigger %s: %w", redkaLenTrigger, err)
	}
	full, err := tx.PrepareContext(ctx, zsetAddSQL(loaderStatementRows))
	if err != nil {
		return fmt.Errorf("prepare the redka.db insert: %w", err)
	}
	for _, key := range slices.Sorted(maps.Keys(w.keys)) {
		if err := w.writeKey(ctx, tx, full, key, w.keys[key]); err != nil {
			return err
		}
	}
	if err := full.Close(); err != nil {
		return fmt.Errorf("close the redka.db insert: %w", err)
	}
	if _, err := tx.ExecContext(ctx, w.trigger); err != nil {
		return fmt.Errorf("create the trigger %s again: %w", redkaLenTrigger, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit to redka.db: %w", err)
	}
	clear(w.keys)
	w.buffered = 0
	return nil
}

// writeKey writes a key's elements in element order, summed per element.
func (w *redkaLoader) writeKey(ctx context.Context, tx *sql.Tx, full *sql.Stmt, key string, k *loaderKey) error {
	var kid int64
	if err := tx.QueryRowContext(ctx, redkaZSetKeySQL, key, k.etime, time.Now().UnixMilli()).Scan(&kid); err != nil {
		return fmt.Errorf("write key %s: %w", key, err)
	}
	slices.SortFunc(k.elems, func(a, b loaderElem) int { return strings.Compare(a.elem, b.elem) })
	elems := k.elems[:0] // summed in place: the write index never passes the read one
	for _, e := range k.elems {
		if n := len(elems); n > 0 && elems[n-1].elem == e.elem {
			elems[n-1].score += e.score
			continue
		}
		elems = append(elems, e)
	}
	for chunk := range slices.Chunk(elems, loaderStatementRows) {
		w.args = w.args[:0]
		for _, e := range chunk {
			w.args = append(w.args, kid, []byte(e.elem), e.score)
		}
		var err error
		if len(chunk) == loaderStatementRows {
			_, err = full.ExecContext(ctx, w.args...)
		} else {
			_, err = tx.ExecContext(ctx, zsetAddSQL(len(chunk)), w.args...)
		}
		if err != nil {
			return fmt.Errorf("write %d elements of %s: %w", len(chunk), key, err)
		}
	}
	if _, err := tx.ExecContext(ctx, redkaZSetLenSQL, kid); err != nil {
		return fmt.Errorf("count the elements of %s: %w", key, err)
	}
	return nil
}

// close closes the loader's connection.
func (w *redkaLoader) close() { w.db.Close() }
