package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// demoCandidates is how many synthetic candidates --demo loads.
const demoCandidates = 2000

// Demo skills are written the way people write them — aliases included —
// so the demo also shows canonicalisation at work.
var (
	demoSkills = []string{
		"React", "reactjs", "Node.js", "node", "TypeScript", "TS", "JavaScript", "Go", "golang",
		"PostgreSQL", "Postgres", "Python", "Django", "Docker", "Kubernetes", "k8s", "AWS", "Java",
		"Spring", "Vue.js", "Angular", "GraphQL", "Redis", "Terraform", "Rust", "C#", ".NET", "PHP",
		"Laravel", "Swift", "Kotlin", "Flutter", "MongoDB", "Kafka", "Next.js", "Tailwind CSS",
	}
	demoLevels    = []string{"Junior", "Mid", "Senior", "Lead", "Confirmé", "Sénior", "junior", "Intermediate"}
	demoLocations = []string{"Paris, France", "Lyon, France", "Remote", "Bordeaux, France", "Nantes", "Lille, France", "Marseille", "Toulouse, France"}
)

const insertDemoCandidateSQL = `
INSERT INTO candidates (id, full_name, skills, experience_level, location, created_at)
VALUES (?, ?, ?, ?, ?, ?)`

// LoadDemoData fills an empty candidates table with synthetic candidates,
// always the same ones (fixed seed). It does nothing when candidates exist.
func LoadDemoData(ctx context.Context, db *DB) (int, error) {
	n, err := WriteResult(ctx, db, func(tx *WriteTx) (int, error) {
		var existing int
		if err := tx.QueryRow(`SELECT count(*) FROM candidates`).Scan(&existing); err != nil {
			return 0, fmt.Errorf("count candidates: %w", err)
		}
		if existing > 0 {
			return 0, nil
		}
		return demoCandidates, insertDemoCandidates(tx)
	})
	if err != nil {
		return 0, fmt.Errorf("load demo data: %w", err)
	}
	return n, nil
}

func insertDemoCandidates(tx *WriteTx) error {
	rng := rand.New(rand.NewPCG(2024, 1))
	created := timeText(time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC))
	for i := range demoCandidates {
		skills := make([]string, 2+rng.IntN(5))
		for k := range skills {
			skills[k] = demoSkills[rng.IntN(len(demoSkills))]
		}
		_, err := tx.Exec(insertDemoCandidateSQL, fmt.Sprintf("demo-candidate-%04d", i+1), fmt.Sprintf("Demo Candidate %d", i+1),
			jsonText(skills), demoLevels[rng.IntN(len(demoLevels))], demoLocations[rng.IntN(len(demoLocations))], created)
		if err != nil {
			return err
		}
	}
	return nil
}
