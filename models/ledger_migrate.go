package models

import (
	"fmt"

	"github.com/pressly/goose/v3"
)

// ledgerTables are the append-only books of the member register: a mistake
// is corrected by a reversal booking, never by editing a row.
var ledgerTables = []string{"share_transactions", "capital_transactions"}

// appendOnlyLedgers makes the database refuse UPDATE and DELETE on the
// ledgers, as appendOnlyAudit does for the audit log (migration version 4,
// after the tables of 00003_membership.sql).
func appendOnlyLedgers(d Dialect) *goose.Migration {
	var up, down []string
	if d == Postgres {
		up = append(up, `CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS
		 $$ BEGIN RAISE EXCEPTION 'ledger % is append-only', TG_TABLE_NAME; END $$`)
		for _, t := range ledgerTables {
			up = append(up, fmt.Sprintf(`CREATE TRIGGER %[1]s_no_change BEFORE UPDATE OR DELETE ON %[1]s
			 FOR EACH ROW EXECUTE FUNCTION ledger_append_only()`, t))
			down = append(down, fmt.Sprintf(`DROP TRIGGER %[1]s_no_change ON %[1]s`, t))
		}
		down = append(down, `DROP FUNCTION ledger_append_only()`)
	} else {
		for _, t := range ledgerTables {
			up = append(up,
				fmt.Sprintf(`CREATE TRIGGER %[1]s_no_update BEFORE UPDATE ON %[1]s
				 BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END`, t),
				fmt.Sprintf(`CREATE TRIGGER %[1]s_no_delete BEFORE DELETE ON %[1]s
				 BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END`, t))
			down = append(down, fmt.Sprintf(`DROP TRIGGER %s_no_update`, t), fmt.Sprintf(`DROP TRIGGER %s_no_delete`, t))
		}
	}
	return goose.NewGoMigration(4, &goose.GoFunc{RunTx: execAll(up)}, &goose.GoFunc{RunTx: execAll(down)})
}
