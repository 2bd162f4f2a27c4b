-- Stored records in both languages (issue 11, continued from 00160): the
-- §67a note that a change of the bylaws does not bind a member, how a
-- notice's withdrawal was decided and the capital ledger's notes were
-- stored only as English sentences. Each gets its message's English format
-- and arguments as JSON beside the text, which stays the record; the pages
-- translate the format. Rows written before have '' and are shown as
-- stored. (An organ seat's end reason is a code, translated where shown.)
-- +goose Up
ALTER TABLE notices ADD COLUMN bylaws_not_binding_msg TEXT NOT NULL DEFAULT '';
ALTER TABLE notices ADD COLUMN withdrawal_decided_by_msg TEXT NOT NULL DEFAULT '';
ALTER TABLE capital_transactions ADD COLUMN note_msg TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE capital_transactions DROP COLUMN note_msg;
ALTER TABLE notices DROP COLUMN withdrawal_decided_by_msg;
ALTER TABLE notices DROP COLUMN bylaws_not_binding_msg;
