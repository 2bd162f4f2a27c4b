package models

import (
	"fmt"

	"github.com/pressly/goose/v3"
)

// meteringSeries creates the metric tables (models/metering). They differ
// between the back ends only where size matters: on SQLite the sample
// tables are WITHOUT ROWID, so a row is stored once, in its primary key's
// b-tree, instead of in a table plus an index.
//
// A series is a VM or a host, numbered by a small integer so that a sample
// row carries 1–3 bytes of key instead of a 36-character id. Values are
// integers (SQLite stores small ones in 1–4 bytes): cpu in thousandths of
// a core, memory and disk in bytes, io and traffic in bytes per second.
func meteringSeries(d Dialect) *goose.Migration {
	without, blob := " WITHOUT ROWID", "BLOB"
	if d == Postgres {
		without, blob = "", "BYTEA"
	}
	sample := func(table string) string {
		return `CREATE TABLE ` + table + ` (
			series BIGINT NOT NULL,
			at     BIGINT NOT NULL, -- unix seconds, start of the bucket for rollups
			cpu    BIGINT NOT NULL, -- thousandths of a core
			mem    BIGINT NOT NULL, -- bytes in use on the host (QEMU's RSS, else the balloon)
			disk   BIGINT NOT NULL, -- bytes the disks take up
			rd     BIGINT NOT NULL, -- disk read, bytes/s
			wr     BIGINT NOT NULL, -- disk write, bytes/s
			rx     BIGINT NOT NULL, -- network received, bytes/s
			tx     BIGINT NOT NULL, -- network sent, bytes/s
			PRIMARY KEY (series, at)
		)` + without
	}
	up := []string{
		`CREATE TABLE metric_series (
			id     BIGINT PRIMARY KEY,
			kind   TEXT NOT NULL, -- 'vm' or 'host'
			ref_id TEXT NOT NULL,
			UNIQUE (kind, ref_id)
		)`,
		// The counters of the last reading, to turn the next one into rates.
		`CREATE TABLE metric_last (
			series   BIGINT PRIMARY KEY,
			at_ms    BIGINT NOT NULL,
			cpu_ns   BIGINT NOT NULL,
			rd_bytes BIGINT NOT NULL,
			wr_bytes BIGINT NOT NULL,
			rx_bytes BIGINT NOT NULL,
			tx_bytes BIGINT NOT NULL
		)`,
		sample("metric_raw"), sample("metric_1h"),
		// The 5-minute means of one hour in one row: 12 buckets packed
		// (metering/pack.go), because a month of them as rows would take
		// ~400 KB per VM and the row overhead is most of it.
		`CREATE TABLE metric_5m (
			series BIGINT NOT NULL,
			at     BIGINT NOT NULL, -- unix seconds, start of the hour
			data   ` + blob + ` NOT NULL,
			PRIMARY KEY (series, at)
		)` + without,
	}
	down := []string{`DROP TABLE metric_1h`, `DROP TABLE metric_5m`, `DROP TABLE metric_raw`, `DROP TABLE metric_last`, `DROP TABLE metric_series`}
	return goose.NewGoMigration(50, &goose.GoFunc{RunTx: execAll(up)}, &goose.GoFunc{RunTx: execAll(down)})
}

// vmStateHistory records every change of a VM's state, plan or host, with
// the time the portal set (updated_at), so metering can tell what really
// ran. A trigger writes it: every path that changes a VM — a worker, the
// reconciler, failover — is covered without each remembering to.
func vmStateHistory(d Dialect) *goose.Migration {
	id := "id INTEGER PRIMARY KEY"
	if d == Postgres {
		id = "id BIGSERIAL PRIMARY KEY"
	}
	up := []string{
		`CREATE TABLE vm_state_history (
			` + id + `,
			vm_id    TEXT NOT NULL,
			owner_id TEXT NOT NULL,
			plan_id  TEXT NOT NULL,
			host_id  TEXT NOT NULL,
			state    TEXT NOT NULL,
			at       TIMESTAMP NOT NULL
		)`,
		`CREATE INDEX vm_state_history_vm ON vm_state_history (vm_id, at)`,
		`CREATE INDEX vm_state_history_owner ON vm_state_history (owner_id, at)`,
		// What exists already starts its history now.
		`INSERT INTO vm_state_history (vm_id, owner_id, plan_id, host_id, state, at)
		 SELECT id, owner_id, plan_id, host_id, state, updated_at FROM vms`,
	}
	var down []string
	if d == Postgres {
		up = append(up,
			`CREATE FUNCTION vm_state_history_record() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			   IF TG_OP = 'INSERT' OR OLD.state IS DISTINCT FROM NEW.state OR OLD.plan_id IS DISTINCT FROM NEW.plan_id
			      OR OLD.host_id IS DISTINCT FROM NEW.host_id THEN
			     INSERT INTO vm_state_history (vm_id, owner_id, plan_id, host_id, state, at)
			     VALUES (NEW.id, NEW.owner_id, NEW.plan_id, NEW.host_id, NEW.state, NEW.updated_at);
			   END IF;
			   RETURN NULL;
			 END $$`,
			`CREATE TRIGGER vms_state_history AFTER INSERT OR UPDATE ON vms
			 FOR EACH ROW EXECUTE FUNCTION vm_state_history_record()`)
		down = []string{`DROP TRIGGER vms_state_history ON vms`, `DROP FUNCTION vm_state_history_record()`}
	} else {
		up = append(up,
			`CREATE TRIGGER vms_state_history_insert AFTER INSERT ON vms BEGIN
			   INSERT INTO vm_state_history (vm_id, owner_id, plan_id, host_id, state, at)
			   VALUES (NEW.id, NEW.owner_id, NEW.plan_id, NEW.host_id, NEW.state, NEW.updated_at);
			 END`,
			`CREATE TRIGGER vms_state_history_update AFTER UPDATE ON vms
			 WHEN OLD.state IS NOT NEW.state OR OLD.plan_id IS NOT NEW.plan_id OR OLD.host_id IS NOT NEW.host_id BEGIN
			   INSERT INTO vm_state_history (vm_id, owner_id, plan_id, host_id, state, at)
			   VALUES (NEW.id, NEW.owner_id, NEW.plan_id, NEW.host_id, NEW.state, NEW.updated_at);
			 END`)
		down = []string{`DROP TRIGGER vms_state_history_insert`, `DROP TRIGGER vms_state_history_update`}
	}
	down = append(down, `DROP TABLE vm_state_history`)
	return goose.NewGoMigration(51, &goose.GoFunc{RunTx: execAll(up)}, &goose.GoFunc{RunTx: execAll(down)})
}

// statementTables are the metering books: statements and their lines, the
// closed months and the running costs. Like the ledgers they are
// append-only — a correction is a new line, a wrong cost a reversal — and
// the database enforces it (after 00052_usage_and_costs.sql).
var statementTables = []string{"statements", "statement_lines", "metering_months", "running_costs"}

func appendOnlyStatements(d Dialect) *goose.Migration {
	var up, down []string
	for _, t := range statementTables {
		if d == Postgres {
			// ledger_append_only() is the ledgers' function (migration 4).
			up = append(up, fmt.Sprintf(`CREATE TRIGGER %[1]s_no_change BEFORE UPDATE OR DELETE ON %[1]s
			 FOR EACH ROW EXECUTE FUNCTION ledger_append_only()`, t))
			down = append(down, fmt.Sprintf(`DROP TRIGGER %[1]s_no_change ON %[1]s`, t))
			continue
		}
		up = append(up,
			fmt.Sprintf(`CREATE TRIGGER %[1]s_no_update BEFORE UPDATE ON %[1]s
			 BEGIN SELECT RAISE(ABORT, '%[1]s is append-only'); END`, t),
			fmt.Sprintf(`CREATE TRIGGER %[1]s_no_delete BEFORE DELETE ON %[1]s
			 BEGIN SELECT RAISE(ABORT, '%[1]s is append-only'); END`, t))
		down = append(down, fmt.Sprintf(`DROP TRIGGER %s_no_update`, t), fmt.Sprintf(`DROP TRIGGER %s_no_delete`, t))
	}
	return goose.NewGoMigration(53, &goose.GoFunc{RunTx: execAll(up)}, &goose.GoFunc{RunTx: execAll(down)})
}
