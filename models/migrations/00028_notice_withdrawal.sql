-- §65 GenG (models/membership/membership_notice.go): a notice, once given,
-- binds the member; withdrawing it is a request the board accepts (or
-- refuses). §65(3): early notice with a one-year period where the bylaws'
-- period is longer than two years, for a member who cannot be expected to
-- stay; the reason is kept. Portable SQL like 00001.

-- +goose Up
ALTER TABLE notices ADD COLUMN withdrawal_requested_at TIMESTAMP;
ALTER TABLE notices ADD COLUMN withdrawal_refused_at TIMESTAMP;
ALTER TABLE notices ADD COLUMN withdrawal_decided_by TEXT NOT NULL DEFAULT '';
ALTER TABLE notices ADD COLUMN early_reason TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE notices DROP COLUMN early_reason;
ALTER TABLE notices DROP COLUMN withdrawal_decided_by;
ALTER TABLE notices DROP COLUMN withdrawal_refused_at;
ALTER TABLE notices DROP COLUMN withdrawal_requested_at;
