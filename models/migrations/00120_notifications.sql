-- Notifications in the portal (issue 11): what concerns a member — a vote
-- opened, their admission, a failed task, a sanction, a payment booked —
-- recorded by the domain in the transaction of the event. The message is
-- kept as its English format and arguments (JSON), so that it is shown in
-- the reader's language. mail_opt_outs holds the kinds a member does not
-- want by mail as well (legal notices are mailed regardless).
-- +goose Up
CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL,
    args        TEXT NOT NULL DEFAULT '[]',
    link        TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    read_at     TIMESTAMP
);
CREATE INDEX notifications_user ON notifications (user_id, created_at);
CREATE INDEX notifications_unread ON notifications (user_id, read_at);

CREATE TABLE mail_opt_outs (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- +goose Down
DROP TABLE mail_opt_outs;
DROP TABLE notifications;
