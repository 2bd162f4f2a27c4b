-- §67a GenG (models/membership/notice_67a.go): after a change of the
-- bylaws of a kind §67a names, a member who objected for the minutes may
-- give extraordinary notice within one month of the resolution; the
-- membership ends at the end of that business year and the change does not
-- bind them. The notice keeps its kind, the resolution (agenda item) it
-- rests on, and that record. Portable SQL like 00001.

-- +goose Up
ALTER TABLE notices ADD COLUMN kind TEXT NOT NULL DEFAULT 'ordinary';
ALTER TABLE notices ADD COLUMN resolution_ref TEXT NOT NULL DEFAULT '';
ALTER TABLE notices ADD COLUMN bylaws_not_binding TEXT NOT NULL DEFAULT '';
UPDATE notices SET kind = 'early_65_3' WHERE early_reason <> '';
CREATE INDEX notices_resolution ON notices (resolution_ref);

-- +goose Down
DROP INDEX notices_resolution;
ALTER TABLE notices DROP COLUMN bylaws_not_binding;
ALTER TABLE notices DROP COLUMN resolution_ref;
ALTER TABLE notices DROP COLUMN kind;
