-- Further shares (§15b GenG; models/membership/shares_subscription.go): a
-- member declares the subscription in text form, the board admits it, and
-- only then are the shares booked. While earlier shares are not fully paid
-- in, further shares are admitted only within a compulsory holding the
-- bylaws prescribe (rule compulsory_shares). Portable SQL like 00001.

-- +goose Up
CREATE TABLE share_subscriptions (
    id            TEXT PRIMARY KEY,
    membership_id TEXT NOT NULL REFERENCES memberships(id),
    shares        BIGINT NOT NULL,
    declaration   TEXT NOT NULL, -- the text the member confirmed
    declared_at   TIMESTAMP NOT NULL,
    status        TEXT NOT NULL, -- pending, admitted, rejected
    decided_by    TEXT NOT NULL DEFAULT '',
    decided_at    TIMESTAMP,
    reason        TEXT NOT NULL DEFAULT '', -- of a rejection
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX share_subscriptions_membership ON share_subscriptions (membership_id, status);
CREATE INDEX share_subscriptions_pending ON share_subscriptions (status, declared_at);

-- 0: the bylaws oblige no holding beyond the minimum.
INSERT INTO rule_versions (id, key, value, effective_from, adopted_by, created_at) VALUES
    ('0193a1c2-5b7e-7c11-9a41-6f0d2b1e0c29', 'compulsory_shares', '0', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00');

-- +goose Down
DELETE FROM rule_versions WHERE key = 'compulsory_shares';
DROP TABLE share_subscriptions;
