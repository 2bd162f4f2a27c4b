-- Replication (models/replication): each VM's disk is copied on a schedule
-- to a replica ("standby") host. vm_replicas is the state of one VM's
-- copy, replication_runs the history of its runs. A plan may set its own
-- interval (NULL: the rule replication_interval_seconds, which the members
-- decide). Portable SQL like 00001.

-- +goose Up
INSERT INTO rule_versions (id, key, value, effective_from, adopted_by, created_at) VALUES
    ('0b1f4f0e-3f4d-4a57-9d0e-5c1f0d6a7e14', 'replication_interval_seconds', '300', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00');

ALTER TABLE plans ADD COLUMN replication_interval_seconds BIGINT;

CREATE TABLE vm_replicas (
    vm_id                TEXT PRIMARY KEY REFERENCES vms(id),
    replica_host_id      TEXT NOT NULL REFERENCES hosts(id),
    state                TEXT NOT NULL DEFAULT 'none', -- none | seeding | good | failed
    last_good_at         TIMESTAMP, -- the point in time the last good copy holds
    last_good_checkpoint TEXT NOT NULL DEFAULT '',
    last_run_at          TIMESTAMP,
    last_error           TEXT NOT NULL DEFAULT '',
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    next_run_at          TIMESTAMP NOT NULL,
    bytes_last           BIGINT NOT NULL DEFAULT 0,
    -- The lease of the run in progress: taken by a conditional UPDATE, so
    -- one run per VM even if two portals' workers got a job each.
    running_run_id       TEXT NOT NULL DEFAULT '',
    running_since        TIMESTAMP,
    lagging_since        TIMESTAMP, -- set while the copy is older than twice the interval
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);
CREATE INDEX vm_replicas_next_run ON vm_replicas (next_run_at);
CREATE INDEX vm_replicas_host ON vm_replicas (replica_host_id);

CREATE TABLE replication_runs (
    id              TEXT PRIMARY KEY,
    vm_id           TEXT NOT NULL REFERENCES vms(id),
    replica_host_id TEXT NOT NULL REFERENCES hosts(id),
    kind            TEXT NOT NULL, -- full | incremental
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    bytes_sent      BIGINT NOT NULL DEFAULT 0,
    extents         BIGINT NOT NULL DEFAULT 0,
    duration_ms     BIGINT NOT NULL DEFAULT 0,
    verified        BOOLEAN NOT NULL DEFAULT FALSE,
    error           TEXT NOT NULL DEFAULT '',
    from_checkpoint TEXT NOT NULL DEFAULT '',
    new_checkpoint  TEXT NOT NULL
);
CREATE INDEX replication_runs_vm ON replication_runs (vm_id, started_at);

-- +goose Down
DROP TABLE replication_runs;
DROP TABLE vm_replicas;
ALTER TABLE plans DROP COLUMN replication_interval_seconds;
DELETE FROM rule_versions WHERE key = 'replication_interval_seconds';
