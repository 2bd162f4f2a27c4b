-- Transfer of capital (§76 GenG; models/membership/transfer.go): a member
-- transfers all or part of their paid-in capital to another member by an
-- agreement in text form both confirm; the board carries it out. A full
-- transfer ends the transferor's membership without settlement, a partial
-- one gives up shares. Portable SQL like 00001.

-- +goose Up
CREATE TABLE capital_transfers (
    id                   TEXT PRIMARY KEY,
    from_membership_id   TEXT NOT NULL REFERENCES memberships(id),
    to_membership_id     TEXT NOT NULL REFERENCES memberships(id),
    shares               BIGINT NOT NULL, -- shares given up; 0: the whole capital, leaving the cooperative
    amount_cents         BIGINT NOT NULL,
    agreement            TEXT NOT NULL,   -- the text both confirmed
    transferor_agreed_at TIMESTAMP NOT NULL,
    receiver_agreed_at   TIMESTAMP,
    status               TEXT NOT NULL,   -- proposed, agreed, executed, refused, withdrawn
    decided_by           TEXT NOT NULL DEFAULT '',
    decided_at           TIMESTAMP,
    transfer_id          TEXT,            -- the capital ledger rows it booked
    created_at           TIMESTAMP NOT NULL
);
CREATE INDEX capital_transfers_from ON capital_transfers (from_membership_id, status);
CREATE INDEX capital_transfers_to ON capital_transfers (to_membership_id, status);

-- +goose Down
DROP TABLE capital_transfers;
