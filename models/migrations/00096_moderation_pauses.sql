-- The VMs whose domain moderation paused for a sanction (the enforce job
-- or the reconciler), so that when the sanction ends exactly those are
-- undone: resumed when their member left them running, switched off when
-- the member had stopped them and someone started them behind the
-- portal's back. A domain paused by anyone else is left alone. The VMs
-- locked today are the ones moderation has paused or will pause.
-- Portable SQL like 00001.

-- +goose Up
CREATE TABLE moderation_pauses (
    vm_id     TEXT PRIMARY KEY REFERENCES vms(id),
    case_id   TEXT NOT NULL DEFAULT '', -- whose log tells of the pause's end
    paused_at TIMESTAMP NOT NULL
);
INSERT INTO moderation_pauses (vm_id, paused_at)
    SELECT id, locked_at FROM vms WHERE locked_at IS NOT NULL AND state <> 'deleted';

-- +goose Down
DROP TABLE moderation_pauses;
