-- VM self-service: the admins' catalogue (plans, images, networks), the
-- members' SSH keys and VMs, the task log the workers write, and what the
-- reconciler found. Portable SQL like 00001.

-- +goose Up
-- How far a host may be promised beyond its hardware, in percent (400 = 4.0),
-- and the libvirt domain type its VMs get ('' lets the worker choose: kvm
-- when the host offers it, else qemu).
ALTER TABLE hosts ADD COLUMN cpu_overcommit_percent BIGINT NOT NULL DEFAULT 400;
ALTER TABLE hosts ADD COLUMN memory_overcommit_percent BIGINT NOT NULL DEFAULT 100;
ALTER TABLE hosts ADD COLUMN domain_type TEXT NOT NULL DEFAULT '';

-- A plan that VMs have used is retired rather than deleted, so their
-- history keeps its sizes.
CREATE TABLE plans (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    vcpus      BIGINT NOT NULL,
    memory_mib BIGINT NOT NULL,
    disk_gib   BIGINT NOT NULL,
    retired_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX plans_name ON plans (LOWER(name)) WHERE retired_at IS NULL;

-- A base volume on one host; copies on other hosts share the name, which is
-- how placement finds them.
CREATE TABLE images (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    host_id            TEXT NOT NULL REFERENCES hosts(id),
    pool               TEXT NOT NULL,
    volume             TEXT NOT NULL,
    format             TEXT NOT NULL,
    virtual_size_bytes BIGINT NOT NULL DEFAULT 0,
    status             TEXT NOT NULL,
    error              TEXT NOT NULL DEFAULT '',
    retired_at         TIMESTAMP,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX images_host_name ON images (host_id, LOWER(name)) WHERE retired_at IS NULL;
CREATE UNIQUE INDEX images_volume ON images (host_id, pool, volume) WHERE retired_at IS NULL;

CREATE TABLE networks (
    id              TEXT PRIMARY KEY,
    host_id         TEXT NOT NULL REFERENCES hosts(id),
    name            TEXT NOT NULL,
    libvirt_network TEXT NOT NULL DEFAULT '', -- exactly one of libvirt_network
    bridge          TEXT NOT NULL DEFAULT '', -- and bridge is set
    cidr            TEXT NOT NULL,
    gateway         TEXT NOT NULL DEFAULT '',
    dns             TEXT NOT NULL DEFAULT '', -- comma-separated addresses
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (host_id, name)
);

CREATE TABLE ssh_keys (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    fingerprint TEXT NOT NULL, -- SHA256:...
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (user_id, fingerprint)
);

-- Libvirt names derive from id only ("allmende-<id>"), never from name.
CREATE TABLE vms (
    id                       TEXT PRIMARY KEY,
    owner_id                 TEXT NOT NULL REFERENCES users(id),
    name                     TEXT NOT NULL,
    state                    TEXT NOT NULL,
    state_reason             TEXT NOT NULL DEFAULT '',
    prior_state              TEXT NOT NULL DEFAULT '', -- before the current transitional state
    plan_id                  TEXT NOT NULL REFERENCES plans(id),
    image_id                 TEXT NOT NULL REFERENCES images(id),
    host_id                  TEXT NOT NULL REFERENCES hosts(id),
    mac                      TEXT NOT NULL UNIQUE,
    ssh_authorized_keys      TEXT NOT NULL DEFAULT '', -- copied at creation, one per line
    user_data                TEXT NOT NULL DEFAULT '',
    shutdown_timeout_seconds BIGINT NOT NULL DEFAULT 60,
    created_at               TIMESTAMP NOT NULL,
    updated_at               TIMESTAMP NOT NULL,
    deleted_at               TIMESTAMP
);
CREATE UNIQUE INDEX vms_owner_name ON vms (owner_id, LOWER(name)) WHERE state <> 'deleted';
CREATE INDEX vms_host ON vms (host_id, state);

-- A row exists while the address is taken; releasing deletes it.
CREATE TABLE ip_allocations (
    network_id   TEXT NOT NULL REFERENCES networks(id),
    address      TEXT NOT NULL,
    vm_id        TEXT NOT NULL UNIQUE REFERENCES vms(id),
    allocated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (network_id, address)
);

CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    vm_id        TEXT NOT NULL REFERENCES vms(id),
    owner_id     TEXT NOT NULL REFERENCES users(id),
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_by   TEXT NOT NULL,
    retry_of     TEXT REFERENCES tasks(id),
    river_job_id BIGINT,
    error        TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    started_at   TIMESTAMP,
    finished_at  TIMESTAMP
);
-- At most one queued or running task per VM, even under concurrent requests.
CREATE UNIQUE INDEX tasks_one_active ON tasks (vm_id) WHERE status IN ('queued', 'running');
CREATE INDEX tasks_owner ON tasks (owner_id, created_at);
CREATE INDEX tasks_vm ON tasks (vm_id, created_at);

CREATE TABLE task_lines (
    id      TEXT PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks(id),
    at      TIMESTAMP NOT NULL,
    line    TEXT NOT NULL
);
CREATE INDEX task_lines_task ON task_lines (task_id, id);

-- What the reconciler found that the database did not expect: a VM running
-- or stopped against its state ('mismatch'), or an allmende- domain the
-- database does not know ('orphan'). Kept after resolution, never acted on.
CREATE TABLE drift_reports (
    id            TEXT PRIMARY KEY,
    host_id       TEXT NOT NULL REFERENCES hosts(id),
    kind          TEXT NOT NULL,
    domain_name   TEXT NOT NULL,
    vm_id         TEXT REFERENCES vms(id),
    detail        TEXT NOT NULL DEFAULT '',
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    resolved_at   TIMESTAMP
);
CREATE UNIQUE INDEX drift_reports_open ON drift_reports (host_id, kind, domain_name) WHERE resolved_at IS NULL;

-- +goose Down
DROP TABLE drift_reports;
DROP TABLE task_lines;
DROP TABLE tasks;
DROP TABLE ip_allocations;
DROP TABLE vms;
DROP TABLE ssh_keys;
DROP TABLE networks;
DROP TABLE images;
DROP TABLE plans;
ALTER TABLE hosts DROP COLUMN domain_type;
ALTER TABLE hosts DROP COLUMN memory_overcommit_percent;
ALTER TABLE hosts DROP COLUMN cpu_overcommit_percent;
