-- Runoffs in the same assembly (issue 16, §43(2) GenG): an election item's
-- vote can close before the assembly's (closed_at, with its count in
-- round_result), and a runoff item (runoff_of the first round) takes ballots
-- in its own window, which may run past the assembly's announced end.

-- +goose Up
ALTER TABLE agenda_items ADD COLUMN closed_at TIMESTAMP;
ALTER TABLE agenda_items ADD COLUMN round_result TEXT NOT NULL DEFAULT '';
ALTER TABLE agenda_items ADD COLUMN runoff_of TEXT REFERENCES agenda_items(id);
ALTER TABLE agenda_items ADD COLUMN voting_start TIMESTAMP;
ALTER TABLE agenda_items ADD COLUMN voting_end TIMESTAMP;

-- +goose Down
ALTER TABLE agenda_items DROP COLUMN voting_end;
ALTER TABLE agenda_items DROP COLUMN voting_start;
ALTER TABLE agenda_items DROP COLUMN runoff_of;
ALTER TABLE agenda_items DROP COLUMN round_result;
ALTER TABLE agenda_items DROP COLUMN closed_at;
