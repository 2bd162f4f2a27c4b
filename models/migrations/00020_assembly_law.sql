-- Resolutions and assemblies by the GenG (issue 16): bylaw changes that wait
-- for the register (§16(6)), the invitation's contents and notice (§46),
-- the chair, the discussion, motions and questions of an online assembly
-- (§43b), objections and signed minutes (§47), demands of the minority
-- (§45(1)). Portable SQL like 00001.

-- +goose Up
INSERT INTO rule_versions (id, key, value, effective_from, adopted_by, created_at) VALUES
    ('019ad6a0-1c2e-7a51-9b1e-1f0e2d3c4b01', 'invitation_receipt_days', '3', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('019ad6a0-1c2e-7a51-9b1e-1f0e2d3c4b02', 'election_method', 'majority_runoff', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('019ad6a0-1c2e-7a51-9b1e-1f0e2d3c4b03', 'proxy_eligibility', 'members', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('019ad6a0-1c2e-7a51-9b1e-1f0e2d3c4b04', 'time_zone', 'Europe/Berlin', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00');

-- What the invitation must say (§46(1) GenG, §43b GenG), who chairs, and
-- the time zone its times are given in.
ALTER TABLE assemblies ADD COLUMN place TEXT NOT NULL DEFAULT '';
ALTER TABLE assemblies ADD COLUMN access_details TEXT NOT NULL DEFAULT '';
ALTER TABLE assemblies ADD COLUMN discussion_form TEXT NOT NULL DEFAULT '';
ALTER TABLE assemblies ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE assemblies ADD COLUMN chair_id TEXT REFERENCES users(id);
ALTER TABLE assemblies ADD COLUMN chair_location TEXT NOT NULL DEFAULT '';
ALTER TABLE assemblies ADD COLUMN demand_id TEXT;
ALTER TABLE assemblies ADD COLUMN second_notice_at TIMESTAMP;
-- The invitation and agenda exactly as sent (§47 GenG: part of the minutes).
ALTER TABLE assemblies ADD COLUMN invitation_text TEXT NOT NULL DEFAULT '';
-- Minutes, frozen at the chair's signature; signed also by a board member.
ALTER TABLE assemblies ADD COLUMN minutes_text TEXT NOT NULL DEFAULT '';
ALTER TABLE assemblies ADD COLUMN minutes_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE assemblies ADD COLUMN minutes_signed_at TIMESTAMP;

-- Items added after the invitation on a demand of members (§45(2) GenG),
-- discharge items (§43(6) GenG), bylaw changes that open the §67a notice,
-- the chair's declaration of the result, and motions put to the vote.
ALTER TABLE agenda_items ADD COLUMN demanded BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE agenda_items ADD COLUMN discharge TEXT NOT NULL DEFAULT '';
ALTER TABLE agenda_items ADD COLUMN s67a TEXT NOT NULL DEFAULT '';
ALTER TABLE agenda_items ADD COLUMN election_method TEXT NOT NULL DEFAULT '';
ALTER TABLE agenda_items ADD COLUMN declaration TEXT NOT NULL DEFAULT '';
ALTER TABLE agenda_items ADD COLUMN motion_id TEXT;

-- Bylaw changes adopted but not yet in the register (§16(6) GenG). The
-- rule versions are written when the board records the registration.
CREATE TABLE rule_registrations (
    id             TEXT PRIMARY KEY,
    proposal_id    TEXT NOT NULL REFERENCES proposals(id),
    item_id        TEXT NOT NULL REFERENCES agenda_items(id),
    rule_values    TEXT NOT NULL, -- JSON object key → value
    effective_from TIMESTAMP NOT NULL, -- the date the proposal named
    adopted_at     TIMESTAMP NOT NULL,
    registered_on  TIMESTAMP,
    recorded_by    TEXT REFERENCES users(id),
    recorded_at    TIMESTAMP,
    UNIQUE (item_id)
);
CREATE INDEX rule_registrations_open ON rule_registrations (registered_on, adopted_at);

-- The record of an assembly (§43b GenG): speeches per agenda item,
-- questions to the board and the board's answers, motions (amendments,
-- procedural motions) with the chair's decision.
CREATE TABLE assembly_contributions (
    id          TEXT PRIMARY KEY,
    assembly_id TEXT NOT NULL REFERENCES assemblies(id) ON DELETE CASCADE,
    item_id     TEXT REFERENCES agenda_items(id) ON DELETE CASCADE,
    author_id   TEXT NOT NULL REFERENCES users(id),
    kind        TEXT NOT NULL, -- speech | question | answer | amendment | procedural
    parent_id   TEXT REFERENCES assembly_contributions(id),
    text        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT '', -- motions: open | admitted | rejected | voting
    decided_by  TEXT REFERENCES users(id),
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX assembly_contributions_assembly ON assembly_contributions (assembly_id, created_at);

-- Members present (in person, or online), for the list of participants.
CREATE TABLE assembly_attendance (
    assembly_id TEXT NOT NULL REFERENCES assemblies(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id),
    mode        TEXT NOT NULL, -- in_person | online
    joined_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (assembly_id, user_id)
);

-- Objections to a resolution, declared for the minutes (§47, §67a GenG).
CREATE TABLE objections (
    id          TEXT PRIMARY KEY,
    assembly_id TEXT NOT NULL REFERENCES assemblies(id) ON DELETE CASCADE,
    item_id     TEXT NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id),
    text        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (item_id, user_id)
);

-- Signatures of the minutes: the chair and a board member present.
CREATE TABLE minutes_signatures (
    assembly_id  TEXT NOT NULL REFERENCES assemblies(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id),
    capacity     TEXT NOT NULL, -- chair | board
    minutes_hash TEXT NOT NULL,
    signed_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (assembly_id, capacity)
);

-- A demand of members to convene an extraordinary assembly (§45(1) GenG).
CREATE TABLE assembly_demands (
    id          TEXT PRIMARY KEY,
    author_id   TEXT NOT NULL REFERENCES users(id),
    purpose     TEXT NOT NULL,
    reasons     TEXT NOT NULL,
    status      TEXT NOT NULL, -- collecting | convened
    assembly_id TEXT REFERENCES assemblies(id),
    created_at  TIMESTAMP NOT NULL
);
CREATE TABLE assembly_demand_supports (
    demand_id  TEXT NOT NULL REFERENCES assembly_demands(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (demand_id, user_id)
);

-- +goose Down
DROP TABLE assembly_demand_supports;
DROP TABLE assembly_demands;
DROP TABLE minutes_signatures;
DROP TABLE objections;
DROP TABLE assembly_attendance;
DROP TABLE assembly_contributions;
DROP TABLE rule_registrations;
ALTER TABLE agenda_items DROP COLUMN motion_id;
ALTER TABLE agenda_items DROP COLUMN declaration;
ALTER TABLE agenda_items DROP COLUMN election_method;
ALTER TABLE agenda_items DROP COLUMN s67a;
ALTER TABLE agenda_items DROP COLUMN discharge;
ALTER TABLE agenda_items DROP COLUMN demanded;
ALTER TABLE assemblies DROP COLUMN minutes_signed_at;
ALTER TABLE assemblies DROP COLUMN minutes_hash;
ALTER TABLE assemblies DROP COLUMN minutes_text;
ALTER TABLE assemblies DROP COLUMN invitation_text;
ALTER TABLE assemblies DROP COLUMN second_notice_at;
ALTER TABLE assemblies DROP COLUMN demand_id;
ALTER TABLE assemblies DROP COLUMN chair_location;
ALTER TABLE assemblies DROP COLUMN chair_id;
ALTER TABLE assemblies DROP COLUMN time_zone;
ALTER TABLE assemblies DROP COLUMN discussion_form;
ALTER TABLE assemblies DROP COLUMN access_details;
ALTER TABLE assemblies DROP COLUMN place;
DELETE FROM rule_versions WHERE key IN ('invitation_receipt_days', 'election_method', 'proxy_eligibility', 'time_zone');
