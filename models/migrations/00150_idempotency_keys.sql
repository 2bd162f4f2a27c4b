-- Idempotency keys of the API's money-moving POSTs (issue 11): a client
-- that sends the same request twice with the same Idempotency-Key books
-- once and gets the first answer again. Keys are per account; the row
-- keeps a hash of the request (a reuse with another request is refused)
-- and, once the first request is answered, its status, content type and
-- body. status 0 marks a request still being answered. Rows older than
-- 24 hours count as gone.
-- +goose Up
CREATE TABLE idempotency_keys (
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL DEFAULT 0,
    content_type  TEXT NOT NULL DEFAULT '',
    body          TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
