-- Elections to an organ (issue 16): the candidates are members' accounts,
-- so that the board can record the result as appointments in the
-- membership domain's organs (models/membership, organs.go).

-- +goose Up
ALTER TABLE item_candidates ADD COLUMN user_id TEXT REFERENCES users(id);
ALTER TABLE agenda_items ADD COLUMN organ TEXT NOT NULL DEFAULT '';
ALTER TABLE agenda_items ADD COLUMN appointed_at TIMESTAMP;

-- +goose Down
ALTER TABLE agenda_items DROP COLUMN appointed_at;
ALTER TABLE agenda_items DROP COLUMN organ;
ALTER TABLE item_candidates DROP COLUMN user_id;
