-- The portal processes that work jobs, each with the heartbeat that keeps
-- its lease on the jobs it runs (jobs/instances.go). id is the process's
-- River client ID, so river_job.attempted_by names the instance working a
-- job. Both times are the database's clock, written in UTC by the
-- instances, so the clocks of their machines never matter. Only PostgreSQL
-- uses the table (a SQLite database is worked by one process under a file
-- lock); it is made on both to keep one schema. Portable SQL like 00001.

-- +goose Up
CREATE TABLE worker_instances (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    started_at   TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE worker_instances;
