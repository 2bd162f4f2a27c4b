-- Direct kernel boot: an image may name a kernel and an initrd volume in
-- its own pool and a kernel command line, which VMs made from it boot
-- with instead of the disk's boot loader. Empty means "boot from disk".
-- Portable SQL like 00001.

-- +goose Up
ALTER TABLE images ADD COLUMN kernel_volume TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN initrd_volume TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN kernel_cmdline TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE images DROP COLUMN kernel_cmdline;
ALTER TABLE images DROP COLUMN initrd_volume;
ALTER TABLE images DROP COLUMN kernel_volume;
