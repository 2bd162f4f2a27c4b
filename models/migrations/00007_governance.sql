-- Self-government: proposals of members, general assemblies with their
-- agenda, proxies, the electorate fixed when voting opens, and ballots.
-- Portable SQL like 00001. The table of secret ballots differs between the
-- back ends (WITHOUT ROWID on SQLite) and is made by a Go migration
-- (version 8, see governance_migrate.go).

-- +goose Up
INSERT INTO rule_versions (id, key, value, effective_from, adopted_by, created_at) VALUES
    ('64286d8e-61d9-4aa5-b324-c724ceaa6bda', 'proposal_support_percent', '10', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('8e973d8f-caaa-474a-8e8d-05ecabd7b73e', 'assembly_notice_days', '14', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('13a6f551-62fb-4ad8-8c13-a0d9724cdab9', 'proxy_max_represented', '2', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('6e5b74d0-c557-425b-b2f8-2f4659981bd3', 'house_rules_text', 'The house rules of the cooperative. The general assembly replaces this placeholder with the adopted text.', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00');

-- A ballot checks at once that its member is still in good standing; the
-- partial index of 00003 does not serve a query with the statuses bound as
-- parameters, so without this the check would read every membership.
CREATE INDEX memberships_user ON memberships (user_id, status);

CREATE TABLE proposals (
    id             TEXT PRIMARY KEY,
    author_id      TEXT NOT NULL REFERENCES users(id),
    title          TEXT NOT NULL,
    reasoning      TEXT NOT NULL,
    kind           TEXT NOT NULL, -- parameters | text | motion
    rule_key       TEXT NOT NULL DEFAULT '',
    new_text       TEXT NOT NULL DEFAULT '',
    parameters     TEXT NOT NULL DEFAULT '', -- JSON object key → value
    effective_from TIMESTAMP,
    status         TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX proposals_status ON proposals (status, created_at);

CREATE TABLE proposal_supports (
    proposal_id TEXT NOT NULL REFERENCES proposals(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id),
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (proposal_id, user_id)
);

CREATE TABLE proposal_comments (
    id          TEXT PRIMARY KEY,
    proposal_id TEXT NOT NULL REFERENCES proposals(id) ON DELETE CASCADE,
    author_id   TEXT NOT NULL REFERENCES users(id),
    text        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX proposal_comments_proposal ON proposal_comments (proposal_id, created_at);

CREATE TABLE assemblies (
    id               TEXT PRIMARY KEY,
    title            TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    form             TEXT NOT NULL, -- in_person | virtual | hybrid | two_phase (§43b GenG)
    status           TEXT NOT NULL, -- planned | voting | closed
    discussion_start TIMESTAMP,
    discussion_end   TIMESTAMP,
    voting_start     TIMESTAMP NOT NULL,
    voting_end       TIMESTAMP NOT NULL,
    invited_at       TIMESTAMP,
    opened_at        TIMESTAMP,
    closed_at        TIMESTAMP,
    result_file      TEXT NOT NULL DEFAULT '', -- canonical JSON, written at close
    result_hash      TEXT NOT NULL DEFAULT '', -- sha256 hex of result_file
    created_by       TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMP NOT NULL
);
CREATE INDEX assemblies_created ON assemblies (created_at);

CREATE TABLE agenda_items (
    id           TEXT PRIMARY KEY,
    assembly_id  TEXT NOT NULL REFERENCES assemblies(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL, -- ordinary | bylaw_change | bylaw_new_duty | election
    proposal_id  TEXT REFERENCES proposals(id),
    secret       BOOLEAN NOT NULL DEFAULT FALSE,
    majority_num INTEGER NOT NULL,
    majority_den INTEGER NOT NULL,
    quorum       INTEGER NOT NULL DEFAULT 0,
    seats        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (assembly_id, position)
);
-- A proposal is voted on once.
CREATE UNIQUE INDEX agenda_items_proposal ON agenda_items (proposal_id) WHERE proposal_id IS NOT NULL;

CREATE TABLE item_candidates (
    id       TEXT PRIMARY KEY,
    item_id  TEXT NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name     TEXT NOT NULL,
    UNIQUE (item_id, position)
);

-- Members who may not vote on an item, e.g. a board member on their own
-- discharge (§43(6) GenG).
CREATE TABLE item_exclusions (
    item_id TEXT NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (item_id, user_id)
);

-- Proxies in text form (§43(5) GenG); at most one active per grantor and
-- assembly.
CREATE TABLE proxies (
    id          TEXT PRIMARY KEY,
    assembly_id TEXT NOT NULL REFERENCES assemblies(id) ON DELETE CASCADE,
    grantor_id  TEXT NOT NULL REFERENCES users(id),
    proxy_id    TEXT NOT NULL REFERENCES users(id),
    declaration TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);
CREATE UNIQUE INDEX proxies_one_active ON proxies (assembly_id, grantor_id) WHERE revoked_at IS NULL;
CREATE INDEX proxies_holder ON proxies (assembly_id, proxy_id);

-- The electorate, fixed when voting opens: nobody is added later, so the
-- count of a secret ballot cannot be told apart by subtraction. holder_id
-- is the member who votes for this one by proxy.
CREATE TABLE electorate (
    assembly_id TEXT NOT NULL REFERENCES assemblies(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id),
    name        TEXT NOT NULL, -- as in the register at the opening
    holder_id   TEXT,
    PRIMARY KEY (assembly_id, user_id)
);
CREATE INDEX electorate_holder ON electorate (assembly_id, holder_id);

-- THAT a member voted on an item; for secret items nothing more. No
-- timestamps, and no reference to the ballot.
CREATE TABLE vote_records (
    item_id   TEXT NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (item_id, member_id)
);

-- Named ballots: who voted what, and who cast it (the member or their proxy).
CREATE TABLE named_ballots (
    item_id   TEXT NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES users(id),
    cast_by   TEXT NOT NULL REFERENCES users(id),
    choice    TEXT NOT NULL,
    PRIMARY KEY (item_id, member_id)
);

-- +goose Down
DROP TABLE named_ballots;
DROP TABLE vote_records;
DROP TABLE electorate;
DROP TABLE proxies;
DROP TABLE item_exclusions;
DROP TABLE item_candidates;
DROP TABLE agenda_items;
DROP TABLE assemblies;
DROP TABLE proposal_comments;
DROP TABLE proposal_supports;
DROP TABLE proposals;
DROP INDEX memberships_user;
DELETE FROM rule_versions WHERE key IN ('proposal_support_percent', 'assembly_notice_days', 'proxy_max_represented', 'house_rules_text');
