-- Every submission of the public abuse form and endpoint, valid or not,
-- by sending address (an IPv6 sender by its /64), so that an address can
-- probe the form only a bounded number of times an hour
-- (models/moderation/abuse_rate.go). Rows older than the window are pruned
-- by the moderation sweep. Portable SQL like 00001.

-- +goose Up
CREATE TABLE moderation_abuse_attempts (
    id         TEXT PRIMARY KEY,
    sender     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX moderation_abuse_attempts_sender ON moderation_abuse_attempts (sender, created_at);

-- +goose Down
DROP TABLE moderation_abuse_attempts;
