-- Automatic restart of a VM that stopped without a portal action (host
-- crash, QEMU killed): the member's setting (on by default), and what the
-- reconciler needs for its back-off and limit (models/compute/vm_restart.go):
-- how many automatic restarts the current hour-long window holds, when that
-- window began, when the last one was, and since when the VM is known to be
-- stopped against its member's wish (NULL while it is not). Portable SQL
-- like 00001. Numbered 00012 to leave 00010 and 00011 to parallel work.

-- +goose Up
ALTER TABLE vms ADD COLUMN auto_restart BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE vms ADD COLUMN auto_restarts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE vms ADD COLUMN auto_restart_window_at TIMESTAMP;
ALTER TABLE vms ADD COLUMN last_auto_restart_at TIMESTAMP;
ALTER TABLE vms ADD COLUMN stopped_unexpectedly_at TIMESTAMP;

-- +goose Down
ALTER TABLE vms DROP COLUMN stopped_unexpectedly_at;
ALTER TABLE vms DROP COLUMN last_auto_restart_at;
ALTER TABLE vms DROP COLUMN auto_restart_window_at;
ALTER TABLE vms DROP COLUMN auto_restarts;
ALTER TABLE vms DROP COLUMN auto_restart;
