-- +goose Up
-- Replication runs write into a staging volume and put it into the replica
-- only once it is complete and verified (issue 10: an interrupted run
-- leaves the last good copy as it was). apply_run_id names the run whose
-- staged copy is being put into the replica (the replica is then dirty
-- until it is done; any later job finishes it); staged holds that run's
-- ranges (JSON). running_job_id is the River job whose attempt holds the
-- lease: a later attempt of the same job (the earlier one died with its
-- portal) takes the VM over at once instead of waiting for the lease to
-- run out.
ALTER TABLE vm_replicas ADD COLUMN apply_run_id TEXT NOT NULL DEFAULT '';
ALTER TABLE vm_replicas ADD COLUMN running_job_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE replication_runs ADD COLUMN staged TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE replication_runs DROP COLUMN staged;
ALTER TABLE vm_replicas DROP COLUMN running_job_id;
ALTER TABLE vm_replicas DROP COLUMN apply_run_id;
