-- Registrations waiting for the code mailed to their address: the account
-- is made only when the code comes back, so /register answers the same
-- whether or not an address already has an account (issue 9.6).
-- +goose Up
CREATE TABLE registrations (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    code_hash     TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE registrations;
