package main

// Candidate profiles in Postgres (migration 3). Each candidate is kept in
// hookd.candidate_profiles as the rules read it (profiles.go); triggers
// note every candidate the app writes in hookd.candidate_changes. Before
// job analysis scores, it reads the noted candidates again
// (refreshProfiles); then it reads every profile in one aggregate
// (MatchCandidates). Both stay correct with several hookd processes on one
// database: a change is noted in the app's own transaction, refreshes take
// the noted rows in order under a lock, and a profile records the change
// it reads and the rules that read it, so that an older reading never
// replaces a newer one and a profile read by other rules is never used.

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// refreshBatch is how many noted changes one refresh transaction reads.
const refreshBatch = 2000

// The oldest noted changes. A row another hookd is refreshing is waited
// for rather than skipped, so that when refreshProfiles returns, every
// change committed before it began has been read, by one hookd or another.
const claimChangesPG = `
SELECT id, candidate_id::text FROM hookd.candidate_changes ORDER BY id LIMIT $1 FOR UPDATE`

// The noted candidates as they are now. KEY SHARE holds off their deletion
// until the profiles are written (a profile's foreign key needs its
// candidate); a candidate deleted already is simply absent.
const changedCandidatesPG = `
SELECT id::text, array_remove(coalesce(skills, '{}'), NULL), coalesce(experience_level, ''), coalesce(location, '')
FROM candidates WHERE id = ANY($1::uuid[])
FOR KEY SHARE`

const upsertProfilesPG = `
INSERT INTO hookd.candidate_profiles (candidate_id, version, rules, skill_mask, profile)
SELECT p.candidate_id, p.version, $5, p.skill_mask, p.profile
FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bytea[]) AS p (candidate_id, version, skill_mask, profile)
ON CONFLICT (candidate_id) DO UPDATE
SET version = EXCLUDED.version, rules = EXCLUDED.rules, skill_mask = EXCLUDED.skill_mask, profile = EXCLUDED.profile
WHERE candidate_profiles.version <= EXCLUDED.version`

const deleteChangesPG = `DELETE FROM hookd.candidate_changes WHERE id = ANY($1::bigint[])`

// refreshProfiles reads again the candidates noted as changed, a batch
// per transaction, until none is left.
func (s *PostgresStore) refreshProfiles(ctx context.Context) error {
	for {
		n, err := s.refreshBatch(ctx)
		if err != nil {
			return classifyPG(fmt.Errorf("refresh candidate profiles: %w", err))
		}
		if n == 0 {
			return nil
		}
	}
}

// refreshBatch refreshes the profiles of one batch of noted changes and
// returns how many changes it took.
func (s *PostgresStore) refreshBatch(ctx context.Context) (int, error) {
	taken := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		changes, version, err := claimChanges(ctx, tx)
		if err != nil || len(changes) == 0 {
			return err
		}
		taken = len(changes)
		candidates, err := readChanged(ctx, tx, version)
		if err != nil {
			return err
		}
		numbers, err := numberSkills(ctx, tx, candidates)
		if err != nil {
			return err
		}
		var p profileRows
		for _, c := range candidates {
			p.add(c, version[c.ID], numbers)
		}
		b := &pgx.Batch{}
		b.Queue(upsertProfilesPG, p.ids, p.versions, p.masks, p.profiles, matchRules)
		b.Queue(deleteChangesPG, changes)
		return tx.SendBatch(ctx, b).Close()
	})
	return taken, err
}

// claimChanges locks a batch of noted changes and returns their ids and,
// for each candidate, the latest of its changes.
func claimChanges(ctx context.Context, tx pgx.Tx) ([]int64, map[string]int64, error) {
	rows, _ := tx.Query(ctx, claimChangesPG, refreshBatch)
	var ids []int64
	version := map[string]int64{}
	var id int64
	var candidate string
	_, err := pgx.ForEachRow(rows, []any{&id, &candidate}, func() error {
		ids = append(ids, id)
		version[candidate] = max(version[candidate], id)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("claim changes: %w", err)
	}
	return ids, version, nil
}

// readChanged reads the candidates of version (those still there) with
// the rules.
func readChanged(ctx context.Context, tx pgx.Tx, version map[string]int64) ([]ParsedCandidate, error) {
	ids := make([]string, 0, len(version))
	for id := range version {
		ids = append(ids, id)
	}
	rows, _ := tx.Query(ctx, changedCandidatesPG, ids)
	var out []ParsedCandidate
	var c Candidate
	var r CandidateReader
	_, err := pgx.ForEachRow(rows, []any{&c.ID, &c.Skills, &c.Level, &c.Location}, func() error {
		out = append(out, r.Read(c.ID, CandidateProfile{Skills: c.Skills, Level: c.Level, Location: c.Location}))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read candidates: %w", err)
	}
	return out, nil
}

const skillNumbersPG = `SELECT key, id FROM hookd.skill_keys WHERE key = ANY($1::text[])`

// In key order, so that two hookd numbering the same new keys wait for
// each other rather than deadlock.
const numberSkillsPG = `
INSERT INTO hookd.skill_keys (key) SELECT k FROM unnest($1::text[]) AS k ORDER BY k
ON CONFLICT (key) DO NOTHING`

// numberSkills returns the number of every skill key of candidates,
// numbering the keys met for the first time.
func numberSkills(ctx context.Context, tx pgx.Tx, candidates []ParsedCandidate) (map[string]uint32, error) {
	var keys []string
	for _, c := range candidates {
		keys = append(keys, c.Skills...)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	numbers := make(map[string]uint32, len(keys))
	read := func() error {
		rows, _ := tx.Query(ctx, skillNumbersPG, keys)
		var key string
		var n uint32
		_, err := pgx.ForEachRow(rows, []any{&key, &n}, func() error { numbers[key] = n; return nil })
		return err
	}
	if err := read(); err != nil {
		return nil, fmt.Errorf("read skill numbers: %w", err)
	}
	if len(numbers) == len(keys) {
		return numbers, nil
	}
	missing := slices.DeleteFunc(keys, func(k string) bool { _, ok := numbers[k]; return ok })
	if _, err := tx.Exec(ctx, numberSkillsPG, missing); err != nil {
		return nil, fmt.Errorf("number skills: %w", err)
	}
	if err := read(); err != nil {
		return nil, fmt.Errorf("read skill numbers: %w", err)
	}
	return numbers, nil
}

// profileRows are profiles to upsert, as parallel arrays.
type profileRows struct {
	ids      []string
	versions []int64
	masks    []int64
	profiles [][]byte
}

func (p *profileRows) add(c ParsedCandidate, version int64, numbers map[string]uint32) {
	ns := make([]uint32, len(c.Skills))
	for i, k := range c.Skills {
		ns[i] = numbers[k]
	}
	p.ids = append(p.ids, c.ID)
	p.versions = append(p.versions, version)
	p.masks = append(p.masks, skillMask(ns))
	p.profiles = append(p.profiles, appendProfile(nil, c, ns))
}

// One pass over the profiles. It returns the numbers of the job's skill
// keys ($2, a JSON array; 0 for a key no candidate has); in one value,
// each profile read by these rules ($1) that may share a skill with the
// job, its candidate's id first (16 bytes); and the ids of the candidates
// whose profiles other rules read. One value rather than a row per
// candidate: reading tens of thousands of rows cost more than scanning the
// table.
const scanProfilesPG = `
WITH job AS MATERIALIZED (
  SELECT array_agg(coalesce(s.id, 0) ORDER BY j.i) AS numbers, coalesce(bit_or(1::bigint << (s.id % 64)), 0) AS mask
  FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY AS j (key, i)
  LEFT JOIN hookd.skill_keys s ON s.key = j.key)
SELECT job.numbers, p.profiles, p.others
FROM job, LATERAL (
  SELECT string_agg(uuid_send(candidate_id) || profile, ''::bytea) FILTER (WHERE rules = $1 AND skill_mask & job.mask <> 0) AS profiles,
         array_agg(candidate_id) FILTER (WHERE rules <> $1) AS others
  FROM hookd.candidate_profiles) AS p`

// The candidates whose profiles other rules read, as they are. Read after
// the pass, so possibly fresher than it: each candidate is still read once,
// from its profile or from here.
const otherRulesCandidatesPG = `
SELECT id::text, array_remove(coalesce(skills, '{}'), NULL), coalesce(experience_level, ''), coalesce(location, '')
FROM candidates WHERE id = ANY($1::uuid[])`

// The candidates whose profiles other rules read are noted, to be read
// again by these: a hookd whose rules changed rereads every profile once.
const noteChangedPG = `
INSERT INTO hookd.candidate_changes (candidate_id) SELECT unnest($1::uuid[]) ORDER BY 1`

// MatchCandidates reads the noted candidates again, then scores every
// profile that may share a skill with m's job.
func (s *PostgresStore) MatchCandidates(ctx context.Context, m *Matcher, minScore int) (int, []Match, error) {
	if err := s.refreshProfiles(ctx); err != nil {
		return 0, nil, err
	}
	t := matchTally{min: minScore}
	var others []string
	err := s.scanProfiles(ctx, m.keys, func(scan profileScan) error {
		others = scan.others
		return t.addProfiles(m, m.skillNumbers(scan.numbers), scan.profiles)
	})
	if err != nil {
		return 0, nil, classifyPG(fmt.Errorf("find candidates: %w", err))
	}
	if len(others) == 0 {
		return t.found, t.matches, nil
	}
	if err := s.scanRaw(ctx, others, func(c ParsedCandidate) { t.addParsed(m, c) }); err != nil {
		return 0, nil, classifyPG(fmt.Errorf("find candidates: %w", err))
	}
	if _, err := s.pool.Exec(ctx, noteChangedPG, others); err != nil {
		return 0, nil, classifyPG(fmt.Errorf("note profiles read by other rules: %w", err))
	}
	return t.found, t.matches, nil
}

// profileScan is what scanProfilesPG returns. profiles lies in the
// connection's buffer: it is valid only during scanProfiles's read.
type profileScan struct {
	numbers  []uint32 // of the job's skill keys, in order
	profiles []byte
	others   []string
}

// scanProfiles runs scanProfilesPG for a job whose skill keys are keys
// and hands what it returns to read. It asks for the profiles in binary,
// which pgx's default mode cannot, so it speaks to the connection itself;
// the statement is still unnamed and its parameters text, as a
// transaction pooler requires.
func (s *PostgresStore) scanProfiles(ctx context.Context, keys []string, read func(profileScan) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	params := [][]byte{strconv.AppendInt(nil, matchRules, 10), []byte(jsonText(keys))}
	formats := []int16{pgx.TextFormatCode, pgx.BinaryFormatCode, pgx.TextFormatCode}
	rr := conn.Conn().PgConn().ExecParams(ctx, scanProfilesPG, params, nil, nil, formats)
	rows := 0
	for rr.NextRow() {
		if rows++; rows > 1 {
			break
		}
		if err = readScan(conn.Conn().TypeMap(), rr.Values(), read); err != nil {
			break
		}
	}
	if _, cerr := rr.Close(); cerr != nil {
		return cerr
	}
	if err == nil && rows != 1 {
		err = fmt.Errorf("read profiles: %d rows, want 1", rows)
	}
	return err
}

// readScan decodes the row of scanProfilesPG and hands it to read.
func readScan(types *pgtype.Map, row [][]byte, read func(profileScan) error) error {
	scan := profileScan{profiles: row[1]}
	if err := types.Scan(pgtype.Int8ArrayOID, pgx.TextFormatCode, row[0], &scan.numbers); err != nil {
		return fmt.Errorf("read skill numbers: %w", err)
	}
	if err := types.Scan(pgtype.UUIDArrayOID, pgx.TextFormatCode, row[2], &scan.others); err != nil {
		return fmt.Errorf("read profiles: %w", err)
	}
	return read(scan)
}

// addProfiles scores each profile of b, a concatenation of candidate ids
// (16 bytes) each followed by its profile; at maps skill numbers to the
// job's skills.
func (t *matchTally) addProfiles(m *Matcher, at map[uint32]int, b []byte) error {
	for len(b) > 0 {
		if len(b) < 16 {
			return errBadProfile
		}
		id := b[:16]
		score, shared, rest, err := m.scoreProfile(b[16:], at)
		if err != nil {
			return fmt.Errorf("candidate %s: %w", formatUUID(id), err)
		}
		if t.counts(score, shared) {
			t.keep(formatUUID(id), score, shared)
		}
		b = rest
	}
	return nil
}

// scanRaw calls fn with each of the candidates ids names, read raw.
func (s *PostgresStore) scanRaw(ctx context.Context, ids []string, fn func(c ParsedCandidate)) error {
	rows, _ := s.pool.Query(ctx, otherRulesCandidatesPG, ids)
	var c Candidate
	var r CandidateReader
	_, err := pgx.ForEachRow(rows, []any{&c.ID, &c.Skills, &c.Level, &c.Location}, func() error {
		fn(r.Read(c.ID, CandidateProfile{Skills: c.Skills, Level: c.Level, Location: c.Location}))
		return nil
	})
	return err
}

// formatUUID writes 16 bytes in the canonical textual form of a uuid.
func formatUUID(b []byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	hex.Encode(s[9:13], b[4:6])
	hex.Encode(s[14:18], b[6:8])
	hex.Encode(s[19:23], b[8:10])
	hex.Encode(s[24:], b[10:])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return string(s[:])
}
