package main

// Capture triggers: what `hookd migrate` attaches to the app's tables so
// that their row changes reach hookd.outbox (see outbox.go). The trigger
// function itself, hookd.capture(), is created by a migration
// (migrations/postgres); attaching is done here, from Kinds, every time
// migrate runs, so that a table created since (a new activity table) is
// picked up. Tables hookd does not know are never touched.

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// captureTrigger is one trigger to attach: events of op on table, and for
// an UPDATE, only the rows where one of columns changed.
type captureTrigger struct {
	table   string
	op      string // INSERT or UPDATE
	columns []string
}

// captureTriggers lists the triggers the kinds ask for.
func captureTriggers(kinds []Kind) []captureTrigger {
	var out []captureTrigger
	for _, k := range kinds {
		for _, table := range k.Tables {
			out = append(out, captureTrigger{table: table, op: "INSERT"})
			if len(k.UpdateColumns) > 0 {
				out = append(out, captureTrigger{table: table, op: "UPDATE", columns: k.UpdateColumns})
			}
		}
	}
	return out
}

// name is the trigger's name on its table.
func (c captureTrigger) name() string { return "hookd_capture_" + strings.ToLower(c.op) }

// ddl creates the trigger: one per statement, not per row, reading the
// statement's rows from its transition tables, so that a 10,000-row
// INSERT costs one INSERT … SELECT into the outbox and one NOTIFY.
// Postgres refuses transition tables on an UPDATE OF trigger, so an
// UPDATE trigger fires on every update and hookd.capture() keeps the rows
// where one of the columns (its arguments) changed.
func (c captureTrigger) ddl() string {
	table := pgx.Identifier{"public", c.table}.Sanitize()
	if c.op == "INSERT" {
		return fmt.Sprintf(`CREATE TRIGGER %s AFTER INSERT ON %s REFERENCING NEW TABLE AS hookd_new
  FOR EACH STATEMENT EXECUTE FUNCTION hookd.capture()`, c.name(), table)
	}
	args := make([]string, len(c.columns))
	for i, col := range c.columns {
		args[i] = "'" + col + "'" // column names are hookd's own constants
	}
	return fmt.Sprintf(`CREATE TRIGGER %s AFTER UPDATE ON %s REFERENCING NEW TABLE AS hookd_new OLD TABLE AS hookd_old
  FOR EACH STATEMENT EXECUTE FUNCTION hookd.capture(%s)`, c.name(), table, strings.Join(args, ", "))
}

// AttachCapture (re)creates the capture triggers on every table of the
// kinds that exists, in one transaction, and returns the tables it
// attached to.
func (s *PostgresStore) AttachCapture(ctx context.Context, kinds []Kind) ([]string, error) {
	var attached []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, migrateLockSQL); err != nil { // two migrates at once
			return fmt.Errorf("lock: %w", err)
		}
		for _, c := range captureTriggers(kinds) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{"public", c.table}.Sanitize()).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				continue
			}
			drop := fmt.Sprintf(`DROP TRIGGER IF EXISTS %s ON %s`, c.name(), pgx.Identifier{"public", c.table}.Sanitize())
			if _, err := tx.Exec(ctx, drop); err != nil {
				return fmt.Errorf("%s on %s: %w", c.name(), c.table, err)
			}
			if _, err := tx.Exec(ctx, c.ddl()); err != nil {
				return fmt.Errorf("%s on %s: %w", c.name(), c.table, err)
			}
			if c.op == "INSERT" {
				attached = append(attached, c.table)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("attach capture triggers: %w", err)
	}
	return attached, nil
}
