-- Failover (models/replication, failover.go): a host that stopped answering
-- is fenced (an admin confirmed it is off or cut off, or the fence command
-- did), and its VMs with a good copy are started on their replica hosts.
-- hosts.fenced_* say who fenced it and how; failover_epoch counts the
-- fencings. vms.disk_generation names the VM's current disk volume (a
-- failed-over VM runs on a new qcow2 overlay over the raw copy, see
-- compute.VM.DiskVolume). vm_failovers is one VM's move and, once the old
-- host is back, the removal of its stale copy there. Portable SQL like 00001.

-- +goose Up
ALTER TABLE hosts ADD COLUMN fenced_at TIMESTAMP;
ALTER TABLE hosts ADD COLUMN fenced_by TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN fence_method TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN failover_epoch BIGINT NOT NULL DEFAULT 0;

ALTER TABLE vms ADD COLUMN disk_generation BIGINT NOT NULL DEFAULT 0;

-- A failed run that may have written into the copy leaves it unusable for
-- a failover until the next good run (hypervisor/replicate.go).
ALTER TABLE vm_replicas ADD COLUMN copy_dirty BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE vm_failovers (
    id              TEXT PRIMARY KEY,
    vm_id           TEXT NOT NULL REFERENCES vms(id),
    task_id         TEXT NOT NULL REFERENCES tasks(id),
    epoch           BIGINT NOT NULL,  -- the from host's failover_epoch
    from_host_id    TEXT NOT NULL REFERENCES hosts(id),
    to_host_id      TEXT NOT NULL REFERENCES hosts(id),
    pool            TEXT NOT NULL,
    old_volume      TEXT NOT NULL,    -- the disk on the old host (stale once moved)
    copy_volume     TEXT NOT NULL,    -- the raw copy on the new host
    new_volume      TEXT NOT NULL,    -- the overlay the VM runs on there
    disk_generation BIGINT NOT NULL,  -- of new_volume
    last_good_at    TIMESTAMP NOT NULL,
    prior_state     TEXT NOT NULL,
    fenced_at       TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,        -- the VM runs on to_host
    cleaned_at      TIMESTAMP,        -- the stale copy on from_host is gone (or there was none to remove)
    cleanup_note    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX vm_failovers_from ON vm_failovers (from_host_id, cleaned_at);
CREATE INDEX vm_failovers_vm ON vm_failovers (vm_id, created_at);

-- +goose Down
DROP TABLE vm_failovers;
ALTER TABLE vm_replicas DROP COLUMN copy_dirty;
ALTER TABLE vms DROP COLUMN disk_generation;
ALTER TABLE hosts DROP COLUMN failover_epoch;
ALTER TABLE hosts DROP COLUMN fence_method;
ALTER TABLE hosts DROP COLUMN fenced_by;
ALTER TABLE hosts DROP COLUMN fenced_at;
