-- Membership: the cooperative's rules, applications, the member register
-- (§30 GenG) and the share and capital ledgers. Portable SQL like 00001;
-- calendar dates are stored as TIMESTAMP at midnight UTC. The ledgers are
-- made append-only by a Go migration (version 4, see migrate.go).

-- +goose Up
-- Legal figures of the bylaws, versioned: a general assembly may change them
-- with effect from a date, and every read asks "as of when".
CREATE TABLE rule_versions (
    id             TEXT PRIMARY KEY,
    key            TEXT NOT NULL,
    value          TEXT NOT NULL,
    effective_from TIMESTAMP NOT NULL,
    adopted_by     TEXT NOT NULL, -- "initial" or the id of the decision
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX rule_versions_key ON rule_versions (key, effective_from);

INSERT INTO rule_versions (id, key, value, effective_from, adopted_by, created_at) VALUES
    ('febbc88d-1596-473b-8c7c-4f41c041f51f', 'share_price_cents', '5000', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('e765705c-e2cd-4cc3-8041-bb0828dcc8f1', 'min_shares', '1', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('786243c6-5d60-4529-96ad-673dfc15b2df', 'max_shares', '100', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('907c56f8-80b2-4388-abf2-0c8ef8824b93', 'notice_period_months', '24', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('2d6d9698-1aca-42f9-b0d0-799eb9512eed', 'business_year_start', '01-01', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('02fcf7a7-c9a5-455a-beae-01ef224c5a20', 'entitlement_vcpus', '1', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('a41efed6-9fb6-4191-be64-ddc6f37625a0', 'entitlement_memory_mib', '2048', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('a7951f86-a593-4d20-85e2-663c4bbf7881', 'entitlement_disk_gib', '20', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('a9f6aece-f373-4ae3-b3a8-982cc2e57af7', 'admission_approvals', '2', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('0db3c797-886e-4557-9341-4912fe1e802b', 'bylaws_version', '2026-1', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('191ad463-542a-4527-8c24-5c53fbd8969b', 'bylaws_text', 'The bylaws of the cooperative, version 2026-1. The general assembly replaces this placeholder with the adopted text.', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00');

-- Gapless sequences: incremented inside the transaction that uses the value,
-- so a rolled-back admission gives its number back.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('member_number', 0);

CREATE TABLE memberships (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users(id),
    status             TEXT NOT NULL,
    member_number      BIGINT UNIQUE, -- set at admission
    person_kind        TEXT NOT NULL,
    legal_name         TEXT NOT NULL,
    organisation       TEXT NOT NULL DEFAULT '',
    representative     TEXT NOT NULL DEFAULT '',
    street             TEXT NOT NULL,
    postal_code        TEXT NOT NULL,
    city               TEXT NOT NULL,
    country            TEXT NOT NULL,
    shares_applied     BIGINT NOT NULL,
    sepa_mandate       BOOLEAN NOT NULL DEFAULT FALSE,
    iban               TEXT NOT NULL DEFAULT '',
    account_holder     TEXT NOT NULL DEFAULT '',
    bylaws_version     TEXT NOT NULL,
    bylaws_accepted_at TIMESTAMP NOT NULL,
    declaration        TEXT NOT NULL,
    applied_at         TIMESTAMP NOT NULL,
    admitted_on        TIMESTAMP,
    left_on            TIMESTAMP,
    leave_reason       TEXT NOT NULL DEFAULT '',
    purged_at          TIMESTAMP,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
-- One open application or membership per account, even under concurrent
-- submissions; former, excluded members may apply again.
CREATE UNIQUE INDEX memberships_one_open ON memberships (user_id)
    WHERE status IN ('applicant', 'member', 'leaving');
CREATE INDEX memberships_status ON memberships (status, applied_at);

CREATE TABLE membership_approvals (
    membership_id TEXT NOT NULL REFERENCES memberships(id) ON DELETE CASCADE,
    board_user_id TEXT NOT NULL REFERENCES users(id),
    approved_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (membership_id, board_user_id)
);

-- The dated history of the register entry (§30 GenG).
CREATE TABLE membership_events (
    id             TEXT PRIMARY KEY,
    membership_id  TEXT NOT NULL REFERENCES memberships(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    effective_date TIMESTAMP NOT NULL,
    detail         TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX membership_events_membership ON membership_events (membership_id, effective_date);

CREATE TABLE notices (
    id            TEXT PRIMARY KEY,
    membership_id TEXT NOT NULL REFERENCES memberships(id) ON DELETE CASCADE,
    shares        BIGINT NOT NULL, -- 0: the whole membership
    given_on      TIMESTAMP NOT NULL,
    effective_on  TIMESTAMP NOT NULL,
    withdrawn_at  TIMESTAMP,
    processed_at  TIMESTAMP,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX notices_due ON notices (effective_on);
CREATE INDEX notices_membership ON notices (membership_id);

CREATE TABLE share_transactions (
    id             TEXT PRIMARY KEY,
    membership_id  TEXT NOT NULL REFERENCES memberships(id),
    kind           TEXT NOT NULL,
    shares         BIGINT NOT NULL, -- signed
    effective_date TIMESTAMP NOT NULL,
    reverses_id    TEXT UNIQUE REFERENCES share_transactions(id), -- a row is reversed at most once
    note           TEXT NOT NULL DEFAULT '',
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX share_transactions_membership ON share_transactions (membership_id, effective_date);

CREATE TABLE capital_transactions (
    id                        TEXT PRIMARY KEY,
    membership_id             TEXT NOT NULL REFERENCES memberships(id),
    kind                      TEXT NOT NULL,
    amount_cents              BIGINT NOT NULL, -- signed
    effective_date            TIMESTAMP NOT NULL,
    counterpart_membership_id TEXT REFERENCES memberships(id),
    transfer_id               TEXT, -- shared by the two rows of a transfer
    reverses_id               TEXT UNIQUE REFERENCES capital_transactions(id),
    note                      TEXT NOT NULL DEFAULT '',
    created_by                TEXT NOT NULL DEFAULT '',
    created_at                TIMESTAMP NOT NULL
);
CREATE INDEX capital_transactions_membership ON capital_transactions (membership_id, effective_date);
CREATE INDEX capital_transactions_transfer ON capital_transactions (transfer_id);

CREATE TABLE refunds (
    id            TEXT PRIMARY KEY,
    membership_id TEXT NOT NULL REFERENCES memberships(id),
    amount_cents  BIGINT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    due_on        TIMESTAMP NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    paid_at       TIMESTAMP
);
CREATE INDEX refunds_membership ON refunds (membership_id);

-- That a rejection happened, and nothing about whom it concerned.
CREATE TABLE rejections (
    id          TEXT PRIMARY KEY,
    rejected_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE rejections;
DROP TABLE refunds;
DROP TABLE capital_transactions;
DROP TABLE share_transactions;
DROP TABLE notices;
DROP TABLE membership_events;
DROP TABLE membership_approvals;
DROP TABLE memberships;
DROP TABLE counters;
DROP TABLE rule_versions;
