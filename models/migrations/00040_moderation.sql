-- Moderation (models/moderation): reports from members and from outside,
-- cases that gather reports about one target, internal notes and the case
-- log, sanctions on the graduated ladder (a rule the members vote on),
-- appeals. ip_assignments is compute's dated history of which VM held
-- which address when (it outlives VM deletion and address reuse, so an
-- abuse report about an old time resolves to the VM of that time).
-- vms.locked_* and resource_holds are compute's side of a suspension.
-- Portable SQL like 00001.

-- +goose Up
INSERT INTO rule_versions (id, key, value, effective_from, adopted_by, created_at) VALUES
    ('0b1f4f0e-3f4d-4a57-9d0e-5c1f0d6a7e40', 'moderation_ladder', 'warning, throttle:7d, suspend_vm:30d, suspend_member:90d, exclusion', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('0b1f4f0e-3f4d-4a57-9d0e-5c1f0d6a7e41', 'moderation_strike_days', '365', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('0b1f4f0e-3f4d-4a57-9d0e-5c1f0d6a7e42', 'moderation_confirm_hours', '24', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('0b1f4f0e-3f4d-4a57-9d0e-5c1f0d6a7e43', 'moderation_appeal_days', '14', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('0b1f4f0e-3f4d-4a57-9d0e-5c1f0d6a7e44', 'moderation_throttle_disk_kib', '1024', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('0b1f4f0e-3f4d-4a57-9d0e-5c1f0d6a7e45', 'moderation_throttle_cpu_percent', '20', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00');

CREATE TABLE ip_assignments (
    id          TEXT PRIMARY KEY,
    network_id  TEXT NOT NULL,
    address     TEXT NOT NULL,
    vm_id       TEXT NOT NULL REFERENCES vms(id),
    owner_id    TEXT NOT NULL REFERENCES users(id),
    assigned_at TIMESTAMP NOT NULL,
    released_at TIMESTAMP -- NULL while the VM holds it
);
CREATE INDEX ip_assignments_address ON ip_assignments (address, assigned_at);
CREATE INDEX ip_assignments_vm ON ip_assignments (vm_id);
-- The addresses held today have their history from the allocation on.
INSERT INTO ip_assignments (id, network_id, address, vm_id, owner_id, assigned_at)
    SELECT 'a-' || a.vm_id, a.network_id, a.address, a.vm_id, v.owner_id, a.allocated_at
    FROM ip_allocations a JOIN vms v ON v.id = a.vm_id;

-- A locked VM cannot be started (nor rebooted, resized, deleted) by
-- anyone until the sanction that locked it ends; moderation sets it.
ALTER TABLE vms ADD COLUMN locked_at TIMESTAMP;
ALTER TABLE vms ADD COLUMN lock_reason TEXT NOT NULL DEFAULT '';

-- A member whose use of resources is suspended creates no VMs.
CREATE TABLE resource_holds (
    user_id    TEXT PRIMARY KEY REFERENCES users(id),
    reason     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE moderation_cases (
    id              TEXT PRIMARY KEY,
    ref             TEXT NOT NULL UNIQUE,     -- C-… for people
    target_kind     TEXT NOT NULL,            -- vm | member | proposal | comment
    target_id       TEXT NOT NULL,
    target_label    TEXT NOT NULL,            -- the VM's or member's name at the time
    subject_id      TEXT NOT NULL REFERENCES users(id), -- the member concerned
    vm_id           TEXT REFERENCES vms(id),
    category        TEXT NOT NULL,            -- of the first report
    state           TEXT NOT NULL,            -- open | closed
    resolution      TEXT NOT NULL DEFAULT '', -- dismissed | sanctioned | referred
    resolution_note TEXT NOT NULL DEFAULT '',
    assignee_id     TEXT REFERENCES users(id),
    first_report_at TIMESTAMP NOT NULL,
    first_action_at TIMESTAMP,
    closed_at       TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
-- One open case per target: later reports join it.
CREATE UNIQUE INDEX moderation_cases_open_target ON moderation_cases (target_kind, target_id) WHERE state = 'open';
CREATE INDEX moderation_cases_subject ON moderation_cases (subject_id, created_at);

CREATE TABLE moderation_reports (
    id             TEXT PRIMARY KEY,
    ref            TEXT NOT NULL UNIQUE,  -- unguessable: the reporter's key to its status
    case_id        TEXT NOT NULL REFERENCES moderation_cases(id),
    source         TEXT NOT NULL,         -- member | external
    reporter_id    TEXT REFERENCES users(id),
    reporter_ip    TEXT NOT NULL DEFAULT '',
    reporter_email TEXT NOT NULL DEFAULT '',
    category       TEXT NOT NULL,
    offending_ip   TEXT NOT NULL DEFAULT '',
    seen_at        TIMESTAMP,
    evidence       TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX moderation_reports_case ON moderation_reports (case_id, created_at);
CREATE INDEX moderation_reports_ip ON moderation_reports (source, reporter_ip, created_at);

-- Internal notes (kind note) and the case log (kind log: what the portal
-- did, e.g. the reconciler paused a locked VM again). Never shown to the
-- member or the reporter.
CREATE TABLE moderation_notes (
    id         TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES moderation_cases(id),
    kind       TEXT NOT NULL,
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX moderation_notes_case ON moderation_notes (case_id, created_at);

CREATE TABLE moderation_sanctions (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES moderation_cases(id),
    subject_id      TEXT NOT NULL REFERENCES users(id),
    vm_id           TEXT REFERENCES vms(id),
    step            BIGINT NOT NULL,
    kind            TEXT NOT NULL,  -- warning | throttle | suspend_vm | suspend_member | exclusion
    reason          TEXT NOT NULL,
    rule_version_id TEXT NOT NULL,  -- the ladder version it rests on
    rule_text       TEXT NOT NULL,  -- "moderation_ladder step 2 (throttle), adopted by …"
    disk_bytes_sec  BIGINT NOT NULL DEFAULT 0,
    cpu_percent     BIGINT NOT NULL DEFAULT 0,
    emergency       BOOLEAN NOT NULL DEFAULT FALSE,
    confirm_by      TIMESTAMP,
    confirmed_by    TEXT REFERENCES users(id),
    confirmed_at    TIMESTAMP,
    heard_note      TEXT NOT NULL DEFAULT '', -- exclusion: how the member was heard
    state           TEXT NOT NULL,  -- active | ended | overturned | referred
    starts_at       TIMESTAMP NOT NULL,
    ends_at         TIMESTAMP,
    ended_at        TIMESTAMP,
    end_reason      TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL REFERENCES users(id),
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX moderation_sanctions_subject ON moderation_sanctions (subject_id, starts_at);
CREATE INDEX moderation_sanctions_state ON moderation_sanctions (state, ends_at);
CREATE INDEX moderation_sanctions_case ON moderation_sanctions (case_id);

CREATE TABLE moderation_appeals (
    id          TEXT PRIMARY KEY,
    sanction_id TEXT NOT NULL UNIQUE REFERENCES moderation_sanctions(id), -- once per sanction
    case_id     TEXT NOT NULL REFERENCES moderation_cases(id),
    appellant_id TEXT NOT NULL REFERENCES users(id),
    statement   TEXT NOT NULL,
    state       TEXT NOT NULL,  -- pending | upheld | reduced | overturned
    decided_by  TEXT REFERENCES users(id),
    decided_at  TIMESTAMP,
    decision    TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX moderation_appeals_state ON moderation_appeals (state, created_at);

-- +goose Down
DROP TABLE moderation_appeals;
DROP TABLE moderation_sanctions;
DROP TABLE moderation_notes;
DROP TABLE moderation_reports;
DROP TABLE moderation_cases;
DROP TABLE resource_holds;
ALTER TABLE vms DROP COLUMN lock_reason;
ALTER TABLE vms DROP COLUMN locked_at;
DROP TABLE ip_assignments;
DELETE FROM rule_versions WHERE key LIKE 'moderation_%';
