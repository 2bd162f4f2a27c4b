-- What an image is: a disk VMs are made from (the only kind members see),
-- or a kernel or an initrd that disk images boot directly. Images from
-- before are disks. Portable SQL like 00001.

-- +goose Up
ALTER TABLE images ADD COLUMN kind TEXT NOT NULL DEFAULT 'disk';

-- +goose Down
ALTER TABLE images DROP COLUMN kind;
