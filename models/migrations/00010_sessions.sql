-- Server-side sessions (issue 9, item 2). The cookie carries a random token;
-- only its SHA-256 is stored, as for API tokens. A session ends by deleting
-- its row: logout, "log out everywhere", a password change (the others) and
-- an administrator's lock each delete exactly the rows they mean. The id is
-- the public name of a session in the account page's forms. The session
-- epoch of users is replaced by these rows; locked_at refuses logins.
-- A third index serves the login throttle's per (account, address) count.
-- Portable SQL like 00001.

-- +goose Up
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
ALTER TABLE users ADD COLUMN locked_at TIMESTAMP;
ALTER TABLE users DROP COLUMN session_epoch;
CREATE INDEX login_attempts_email_ip ON login_attempts (email, ip, created_at);

-- +goose Down
DROP INDEX login_attempts_email_ip;
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users DROP COLUMN locked_at;
DROP TABLE sessions;
