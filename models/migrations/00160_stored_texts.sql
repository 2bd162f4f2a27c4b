-- Stored texts in both languages (issue 11): the member register's history
-- details, the share ledger's notes, the moderation case log and a
-- sanction's end reason were stored only as English sentences. Each gets
-- the message's English format and its arguments as JSON
-- ({"format": "applied for %d shares", "args": [2]}) beside the text, which
-- stays the record; the pages translate the format. Rows written before
-- have '' and are shown as stored.
-- +goose Up
ALTER TABLE membership_events ADD COLUMN detail_msg TEXT NOT NULL DEFAULT '';
ALTER TABLE share_transactions ADD COLUMN note_msg TEXT NOT NULL DEFAULT '';
ALTER TABLE moderation_notes ADD COLUMN body_msg TEXT NOT NULL DEFAULT '';
ALTER TABLE moderation_sanctions ADD COLUMN end_reason_msg TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE moderation_sanctions DROP COLUMN end_reason_msg;
ALTER TABLE moderation_notes DROP COLUMN body_msg;
ALTER TABLE share_transactions DROP COLUMN note_msg;
ALTER TABLE membership_events DROP COLUMN detail_msg;
