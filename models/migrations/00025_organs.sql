-- Organs of the cooperative (models/membership/organs.go): the board, the
-- supervisory board and the appeals committee are filled by appointments
-- (an election at a general assembly or a decision of a body, with a term).
-- The portal roles board, supervisory and appeals follow from the active
-- appointments; user_roles.source tells a role that an appointment gives
-- ('appointment') from one an administrator granted ('grant': the first
-- board of a new installation, `allmende user create --role board`).
-- Portable SQL like 00001.

-- +goose Up
ALTER TABLE user_roles ADD COLUMN source TEXT NOT NULL DEFAULT 'grant';

CREATE TABLE appointments (
    id            TEXT PRIMARY KEY,
    organ         TEXT NOT NULL,      -- board, supervisory_board, appeals_committee
    user_id       TEXT NOT NULL REFERENCES users(id),
    membership_id TEXT NOT NULL REFERENCES memberships(id),
    term_start    TIMESTAMP NOT NULL, -- first day in office
    term_end      TIMESTAMP NOT NULL, -- last day in office
    source        TEXT NOT NULL,      -- election, decision
    body          TEXT NOT NULL,      -- the body that decided: general_assembly, supervisory_board
    assembly_id   TEXT NOT NULL DEFAULT '', -- an election: the assembly and its item
    item_id       TEXT NOT NULL DEFAULT '',
    decided_on    TIMESTAMP NOT NULL,
    reference     TEXT NOT NULL DEFAULT '', -- e.g. the minutes' number of a decision
    recorded_by   TEXT NOT NULL,      -- who entered it (a user id, or system:…)
    recorded_at   TIMESTAMP NOT NULL,
    ended_on      TIMESTAMP,          -- ended before the term: last day in office
    end_reason    TEXT NOT NULL DEFAULT '',
    ended_by      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX appointments_user ON appointments (user_id, organ);
CREATE INDEX appointments_organ ON appointments (organ, term_end);

-- §9(1) GenG: a cooperative of at most 20 members may do without a
-- supervisory board if its bylaws say so ('no'); the default keeps one.
INSERT INTO rule_versions (id, key, value, effective_from, adopted_by, created_at) VALUES
    ('0193a1c2-5b7e-7c11-9a41-6f0d2b1e0c25', 'supervisory_board', 'yes', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00');

-- +goose Down
DELETE FROM rule_versions WHERE key = 'supervisory_board';
DROP TABLE appointments;
ALTER TABLE user_roles DROP COLUMN source;
