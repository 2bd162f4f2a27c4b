package models

import "github.com/pressly/goose/v3"

// assemblyDocuments (migration 76) keeps the documents of an annual
// assembly (§48 GenG: annual accounts, management report, proposal for the
// use of the result, the supervisory board's report) in the database
// beside the assembly: one transaction stores the file, its audit entry
// and the agenda it belongs to, backups hold both, and several portal
// instances see the same files. The size is bounded (governance
// MaxDocumentBytes), so blobs stay small; only their type differs.
// Agenda items carry what an annual item decides (accounts approval, use
// of the result).
func assemblyDocuments(d Dialect) *goose.Migration {
	blob := "BLOB"
	if d == Postgres {
		blob = "BYTEA"
	}
	up := []string{
		`CREATE TABLE assembly_documents (
			id           TEXT PRIMARY KEY,
			assembly_id  TEXT NOT NULL REFERENCES assemblies (id),
			kind         TEXT NOT NULL, -- annual_accounts | management_report | result_proposal | supervisory_report
			title        TEXT NOT NULL,
			filename     TEXT NOT NULL,
			content_type TEXT NOT NULL, -- application/pdf | text/plain; charset=utf-8
			size         BIGINT NOT NULL,
			sha256       TEXT NOT NULL,
			content      ` + blob + ` NOT NULL,
			uploaded_by  TEXT NOT NULL REFERENCES users (id),
			uploaded_at  TIMESTAMP NOT NULL
		)`,
		`CREATE INDEX assembly_documents_assembly ON assembly_documents (assembly_id, kind)`,
		`ALTER TABLE agenda_items ADD COLUMN annual TEXT NOT NULL DEFAULT ''`,
	}
	down := []string{`ALTER TABLE agenda_items DROP COLUMN annual`, `DROP TABLE assembly_documents`}
	return goose.NewGoMigration(76, &goose.GoFunc{RunTx: execAll(up)}, &goose.GoFunc{RunTx: execAll(down)})
}
