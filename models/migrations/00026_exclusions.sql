-- Exclusion by the book (§68 GenG; models/membership/exclusion.go): the
-- board opens proceedings naming one of the reasons the bylaws list and
-- the facts, the member is heard until a deadline, the body the bylaws name
-- decides, and the board records the day the registered letter went out.
-- From that day the member is 'excluding': no attendance at assemblies, no
-- seat on an organ; the membership ends at the end of that business year
-- and becomes 'excluded'. Portable SQL like 00001.

-- +goose Up
CREATE TABLE exclusions (
    id                TEXT PRIMARY KEY,
    membership_id     TEXT NOT NULL REFERENCES memberships(id),
    reason            TEXT NOT NULL, -- one of the bylaws' reasons, as worded when opened
    facts             TEXT NOT NULL,
    body              TEXT NOT NULL, -- who decides: board, supervisory_board, general_assembly
    opened_by         TEXT NOT NULL,
    opened_at         TIMESTAMP NOT NULL,
    hearing_deadline  TIMESTAMP NOT NULL, -- last day to be heard
    statement         TEXT NOT NULL DEFAULT '',
    statement_at      TIMESTAMP,
    statement_by      TEXT NOT NULL DEFAULT '', -- the member, or the board member who recorded an oral or written hearing
    decision          TEXT NOT NULL DEFAULT '', -- '', excluded, dismissed
    decided_on        TIMESTAMP,
    decided_by        TEXT NOT NULL DEFAULT '',
    decision_reference TEXT NOT NULL DEFAULT '',
    letter_sent_on    TIMESTAMP,
    letter_recorded_by TEXT NOT NULL DEFAULT '',
    effective_on      TIMESTAMP, -- the end of the business year the letter went out in
    closed_at         TIMESTAMP, -- dismissed, or the membership ended
    created_at        TIMESTAMP NOT NULL
);
-- One open proceeding per membership.
CREATE UNIQUE INDEX exclusions_one_open ON exclusions (membership_id) WHERE closed_at IS NULL;
CREATE INDEX exclusions_due ON exclusions (effective_on);

DROP INDEX memberships_one_open;
CREATE UNIQUE INDEX memberships_one_open ON memberships (user_id)
    WHERE status IN ('applicant', 'member', 'leaving', 'excluding');

INSERT INTO rule_versions (id, key, value, effective_from, adopted_by, created_at) VALUES
    ('0193a1c2-5b7e-7c11-9a41-6f0d2b1e0c26', 'exclusion_reasons',
     'Failure to pay in the subscribed shares despite two written reminders
Conduct that seriously damages the interests or the reputation of the cooperative
Repeated serious breach of the house rules or of the terms of use of the cooperative''s services
Address unknown for more than six months', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('0193a1c2-5b7e-7c11-9a41-6f0d2b1e0c27', 'exclusion_body', 'board', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('0193a1c2-5b7e-7c11-9a41-6f0d2b1e0c28', 'exclusion_hearing_days', '14', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00');

-- +goose Down
DELETE FROM rule_versions WHERE key IN ('exclusion_reasons', 'exclusion_body', 'exclusion_hearing_days');
DROP INDEX memberships_one_open;
CREATE UNIQUE INDEX memberships_one_open ON memberships (user_id)
    WHERE status IN ('applicant', 'member', 'leaving');
DROP TABLE exclusions;
