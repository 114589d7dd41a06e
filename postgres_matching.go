package main

// The Postgres store's matching: job analysis's writes, and candidate
// matching's reads and writes.

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// markOfferAnalyzedPG goes first: it locks the job row and proves it exists.
const markOfferAnalyzedPG = `
UPDATE jobs
SET analysis_completed = true, candidates_count = $2, analyzed_at = $3, extracted_skills = $4::text[]
WHERE id = $1::uuid
RETURNING id`

// Matches travel as parallel arrays, one element per match, and each
// match's skills as the number of one of the distinct sets of skills,
// which travel once, as a JSON array of arrays: a job's thousands of
// matches share a few sets. MATERIALIZED, or each set would be read again
// for every match.
const matchCombosPG = `
combos AS MATERIALIZED (
  SELECT c.n::int AS combo,
         ARRAY(SELECT e FROM jsonb_array_elements_text(c.j) WITH ORDINALITY AS s (e, i) ORDER BY i) AS skills
  FROM jsonb_array_elements($5::jsonb) WITH ORDINALITY AS c (j, n))`

// Only the rows that differ from the stored ones are written, and the
// stored ones the analysis no longer finds are deleted: analysing an
// unchanged job again writes nothing. One pass over the stored rows finds
// both. The rows are inserted in candidate order, which keeps the
// indexes' writes together.
const writeOfferMatchesPG = `
WITH ` + matchCombosPG + `,
new AS (
  SELECT m.candidate_id, m.score, c.skills
  FROM unnest($2::uuid[], $3::int[], $4::int[]) AS m (candidate_id, score, combo) JOIN combos c USING (combo)),
diff AS MATERIALIZED (
  SELECT n.candidate_id, n.score, n.skills, o.candidate_id AS stored
  FROM new n
  FULL JOIN (SELECT candidate_id, match_score, matched_skills FROM job_matches WHERE job_id = $1::uuid) AS o
    ON o.candidate_id = n.candidate_id
  WHERE n.candidate_id IS NULL OR o.candidate_id IS NULL
     OR (o.match_score, o.matched_skills) IS DISTINCT FROM (n.score, n.skills)),
written AS (
  INSERT INTO job_matches (job_id, candidate_id, match_score, matched_skills)
  SELECT $1::uuid, candidate_id, score, skills FROM diff WHERE candidate_id IS NOT NULL ORDER BY candidate_id
  ON CONFLICT (job_id, candidate_id) DO UPDATE
  SET match_score = EXCLUDED.match_score, matched_skills = EXCLUDED.matched_skills),
gone AS (
  DELETE FROM job_matches o USING diff d
  WHERE o.job_id = $1::uuid AND o.candidate_id = d.stored AND d.candidate_id IS NULL)
SELECT 1`

// SaveOfferAnalysis marks the job analysed and writes its matches in one
// transaction.
func (s *PostgresStore) SaveOfferAnalysis(ctx context.Context, a OfferAnalysis) error {
	var cols matchColumns
	for _, m := range a.Matches {
		if err := cols.add(m.CandidateID, m.Score, m.Skills); err != nil {
			return Permanent(fmt.Errorf("save job analysis %s: %w", a.Job.JobID, err))
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, markOfferAnalyzedPG, a.Job.JobID, len(a.Matches), a.At, nonNil(a.Skills)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return Permanent(fmt.Errorf("job %s not found in jobs", a.Job.JobID))
		} else if err != nil {
			return err
		}
		ids, scores, combo := cols.arrays()
		if err := execWith(ctx, tx, writeOfferMatchesPG, a.Job.JobID, ids, scores, combo, jsonText(cols.combos)); err != nil {
			return fmt.Errorf("write matches: %w", err)
		}
		return nil
	})
	if err != nil {
		return classifyPG(fmt.Errorf("save job analysis %s: %w", a.Job.JobID, err))
	}
	return nil
}

// matchColumns are matches as the write statements take them (see
// matchCombosPG): the ids, scores and set numbers as arrays in Postgres's
// binary form, which it reads far faster than text (17,000 uuids as text
// took 12 ms to parse) and which pgx's default mode cannot send.
type matchColumns struct {
	ids, scores, combo []byte // the arrays' elements
	n                  int
	combos             [][]string
	seen               map[*string]int // a set of skills by its first element: Matchers share each set
}

func (c *matchColumns) add(id string, score int, skills []string) error {
	ids, err := appendUUID(c.ids, id)
	if err != nil {
		return err
	}
	c.ids = ids
	if c.seen == nil {
		c.seen = map[*string]int{}
	}
	n, ok := c.seen[&skills[0]]
	if !ok {
		c.combos = append(c.combos, skills)
		n = len(c.combos)
		c.seen[&skills[0]] = n
	}
	c.scores = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(c.scores, 4), uint32(score))
	c.combo = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(c.combo, 4), uint32(n))
	c.n++
	return nil
}

// arrays returns the ids, scores and set numbers as arrays.
func (c *matchColumns) arrays() (ids, scores, combo binaryArray) {
	return newBinaryArray(pgtype.UUIDOID, c.n, c.ids), newBinaryArray(pgtype.Int4OID, c.n, c.scores), newBinaryArray(pgtype.Int4OID, c.n, c.combo)
}

// appendUUID appends a uuid written in its textual form, as an element of
// a binaryArray.
func appendUUID(dst []byte, id string) ([]byte, error) {
	if len(id) != 36 {
		return nil, fmt.Errorf("%q is not a uuid", id)
	}
	if id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return nil, fmt.Errorf("%q is not a uuid", id)
	}
	dst = binary.BigEndian.AppendUint32(dst, 16)
	for _, group := range [...]string{id[0:8], id[9:13], id[14:18], id[19:23], id[24:36]} {
		var err error
		if dst, err = hex.AppendDecode(dst, []byte(group)); err != nil {
			return nil, fmt.Errorf("%q is not a uuid", id)
		}
	}
	return dst, nil
}

// uuidArray is ids as a binaryArray.
func uuidArray(ids []string) (binaryArray, error) {
	var elements []byte
	for _, id := range ids {
		var err error
		if elements, err = appendUUID(elements, id); err != nil {
			return binaryArray{}, err
		}
	}
	return newBinaryArray(pgtype.UUIDOID, len(ids), elements), nil
}

// binaryArray is a one-dimensional array without NULLs in Postgres's
// binary form, for execWith.
type binaryArray struct {
	oid   uint32 // of the array type
	value []byte
}

// newBinaryArray makes an array of n elements of type elem, elements
// holding each one's length and bytes.
func newBinaryArray(elem uint32, n int, elements []byte) binaryArray {
	arrayOf := map[uint32]uint32{pgtype.UUIDOID: pgtype.UUIDArrayOID, pgtype.Int4OID: pgtype.Int4ArrayOID}
	b := make([]byte, 0, 20+len(elements))
	for _, v := range []uint32{1, 0, elem, uint32(n), 1} { // dimensions, has NULLs, element type, length, lower bound
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return binaryArray{oid: arrayOf[elem], value: append(b, elements...)}
}

// execWith runs sql in tx with args: binaryArrays in binary, strings and
// times as text (a time as pgx writes it).
func execWith(ctx context.Context, tx pgx.Tx, sql string, args ...any) error {
	values, oids, formats := make([][]byte, len(args)), make([]uint32, len(args)), make([]int16, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case binaryArray:
			values[i], oids[i], formats[i] = v.value, v.oid, pgx.BinaryFormatCode
		case string:
			values[i] = []byte(v)
		case time.Time:
			b, err := tx.Conn().TypeMap().Encode(pgtype.TimestamptzOID, pgx.TextFormatCode, v, nil)
			if err != nil {
				return err
			}
			values[i] = b
		default:
			return fmt.Errorf("execWith: argument %d: %T", i+1, a)
		}
	}
	return tx.Conn().PgConn().ExecParams(ctx, sql, values, oids, formats, nil).Read().Err
}

const candidatePG = `
SELECT id::text, array_to_string(skills, chr(31)), coalesce(experience_level, ''), coalesce(location, '')
FROM candidates WHERE id = $1::uuid`

// FindCandidate reads the candidate from the app's candidates table.
func (s *PostgresStore) FindCandidate(ctx context.Context, t CandidateTask) (Candidate, error) {
	var c Candidate
	var skills string
	err := s.pool.QueryRow(ctx, candidatePG, t.CandidateID).Scan(&c.ID, &skills, &c.Level, &c.Location)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, Permanent(fmt.Errorf("candidate %s not found in candidates", t.CandidateID))
	}
	if err != nil {
		return c, classifyPG(fmt.Errorf("read candidate %s: %w", t.CandidateID, err))
	}
	c.Skills = splitUnitSeparated(skills)
	return c, nil
}

// One statement, so that the offers and the held jobs are read at one
// moment; a held job comes with a NULL skills column. The offers come
// through the GIN index on jobs.extracted_skills when few share a skill.
const findOffersPG = `
SELECT id::text, array_to_string(extracted_skills, chr(31)), coalesce(experience_level, ''), coalesce(location, '')
FROM jobs
WHERE analysis_completed AND extracted_skills && $2::text[]
UNION ALL
SELECT job_id::text, NULL, '', '' FROM job_matches WHERE candidate_id = $1::uuid`

// FindOffers returns the analysed job offers sharing a canonical skill and
// the jobs holding a match of the candidate.
func (s *PostgresStore) FindOffers(ctx context.Context, candidateID string, skills []string) ([]Offer, []string, error) {
	rows, err := s.pool.Query(ctx, findOffersPG, candidateID, nonNil(skills))
	if err != nil {
		return nil, nil, classifyPG(fmt.Errorf("find job offers: %w", err))
	}
	defer rows.Close()
	var offers []Offer
	var held []string
	for rows.Next() {
		v := rows.RawValues()
		if v[1] == nil {
			held = append(held, string(v[0]))
			continue
		}
		offers = append(offers, Offer{ID: string(v[0]), Skills: splitUnitSeparated(string(v[1])), Level: string(v[2]), Location: string(v[3])})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, classifyPG(fmt.Errorf("find job offers: %w", err))
	}
	return offers, held, nil
}

// The jobs whose count may change are locked first, in id order: job
// analysis locks its job's row before touching job_matches, so the two
// never wait on each other in opposite orders.
const lockCandidateOffersPG = `
SELECT id FROM jobs
WHERE id IN (SELECT job_id FROM job_matches WHERE candidate_id = $1::uuid UNION SELECT unnest($2::uuid[]))
ORDER BY id
FOR UPDATE`

// As writeOfferMatchesPG, for one candidate, except for the jobs analysed
// after ReadAt ($6), whose rows are left as their analysis wrote them, and
// the rows written since the offers were read (of jobs not held, $7),
// which are never deleted; each job's candidates_count moves by the rows
// added or removed.
const writeCandidateMatchesPG = `
WITH ` + matchCombosPG + `,
new AS (
  SELECT m.job_id, m.score, c.skills
  FROM unnest($2::uuid[], $3::int[], $4::int[]) AS m (job_id, score, combo) JOIN combos c USING (combo)),
changed AS (
  SELECT n.* FROM new n
  JOIN jobs j ON j.id = n.job_id AND j.analyzed_at <= $6
  LEFT JOIN job_matches o ON o.candidate_id = $1::uuid AND o.job_id = n.job_id
  WHERE o.job_id IS NULL OR (o.match_score, o.matched_skills) IS DISTINCT FROM (n.score, n.skills)),
written AS (
  INSERT INTO job_matches (job_id, candidate_id, match_score, matched_skills)
  SELECT job_id, $1::uuid, score, skills FROM changed ORDER BY job_id
  ON CONFLICT (job_id, candidate_id) DO UPDATE
  SET match_score = EXCLUDED.match_score, matched_skills = EXCLUDED.matched_skills
  RETURNING job_id, xmax = 0 AS inserted),
gone AS (
  DELETE FROM job_matches m USING jobs j
  WHERE m.candidate_id = $1::uuid AND j.id = m.job_id AND NOT coalesce(j.analyzed_at > $6, false)
    AND m.job_id = ANY($7::uuid[]) AND NOT EXISTS (SELECT 1 FROM new n WHERE n.job_id = m.job_id)
  RETURNING m.job_id),
delta AS (
  SELECT job_id, sum(d)::int AS d
  FROM (SELECT job_id, 1 AS d FROM written WHERE inserted UNION ALL SELECT job_id, -1 FROM gone) AS e
  GROUP BY job_id)
UPDATE jobs j SET candidates_count = greatest(j.candidates_count + delta.d, 0)
FROM delta WHERE j.id = delta.job_id AND delta.d <> 0`

// SaveCandidateMatches locks the jobs concerned, then writes the
// candidate's matches and moves each job's candidates_count, in one
// transaction.
func (s *PostgresStore) SaveCandidateMatches(ctx context.Context, m CandidateMatches) error {
	var cols matchColumns
	for _, o := range m.Matches {
		if err := cols.add(o.JobID, o.Score, o.Skills); err != nil {
			return Permanent(fmt.Errorf("save candidate matches %s: %w", m.CandidateID, err))
		}
	}
	heldIDs, err := uuidArray(m.Held)
	if err != nil {
		return Permanent(fmt.Errorf("save candidate matches %s: %w", m.CandidateID, err))
	}
	ids, scores, combo := cols.arrays()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := execWith(ctx, tx, lockCandidateOffersPG, m.CandidateID, ids); err != nil {
			return fmt.Errorf("lock jobs: %w", err)
		}
		err := execWith(ctx, tx, writeCandidateMatchesPG, m.CandidateID, ids, scores, combo, jsonText(cols.combos), m.ReadAt, heldIDs)
		if err != nil {
			return fmt.Errorf("write matches: %w", err)
		}
		return nil
	})
	if err != nil {
		return classifyPG(fmt.Errorf("save candidate matches %s: %w", m.CandidateID, err))
	}
	return nil
}

// splitUnitSeparated splits a text[] sent as one string joined by U+001F;
// an empty string is an empty array.
func splitUnitSeparated(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x1f")
}
