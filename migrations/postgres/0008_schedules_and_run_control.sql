-- Schedules and run control (issue 7, DESIGN.md §4). Aligned with migrations/sqlite/0008.
--
-- A connector can be disabled (no scheduled run, no run at all), and overrides the global retry
-- and mass-deprovision guard settings (NULL: the `sync.*` default of scimd.toml).
ALTER TABLE connectors ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE connectors ADD COLUMN retry_attempts BIGINT;
ALTER TABLE connectors ADD COLUMN retry_backoff_seconds BIGINT;
ALTER TABLE connectors ADD COLUMN guard_percent BIGINT;
ALTER TABLE connectors ADD COLUMN guard_count BIGINT;

-- A connector's cron schedule. Every replica's scheduler claims due rows with FOR UPDATE SKIP
-- LOCKED, moves next_run past now and queues the run in the same transaction.
CREATE TABLE connector_schedules (
    connector_id TEXT PRIMARY KEY REFERENCES connectors(id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    cron         TEXT NOT NULL,
    next_run     TEXT NOT NULL
);
CREATE INDEX connector_schedules_due ON connector_schedules (next_run);

-- Jobs: cancelled on request, retried after a failure (a new row linked to the failed one),
-- stopped by the guard until an admin approves or rejects, and skipped when a scheduled run was
-- due while another run held the lock. A job waiting for approval keeps the connector's lock.
ALTER TABLE sync_jobs DROP CONSTRAINT sync_jobs_status_check;
ALTER TABLE sync_jobs ADD CONSTRAINT sync_jobs_status_check CHECK (status IN ('pending', 'running', 'completed',
    'partial', 'failed', 'interrupted', 'cancelled', 'awaiting_approval', 'rejected', 'skipped'));
ALTER TABLE sync_jobs DROP CONSTRAINT sync_jobs_trigger_check;
ALTER TABLE sync_jobs ADD CONSTRAINT sync_jobs_trigger_check CHECK (trigger IN ('api', 'cli', 'schedule', 'retry'));
ALTER TABLE sync_jobs ADD COLUMN scheduled_for TEXT;
ALTER TABLE sync_jobs ADD COLUMN retry_of TEXT;
ALTER TABLE sync_jobs ADD COLUMN attempt BIGINT NOT NULL DEFAULT 1;
ALTER TABLE sync_jobs ADD COLUMN not_before TEXT;
ALTER TABLE sync_jobs ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sync_jobs ADD COLUMN approval TEXT;
ALTER TABLE sync_jobs ADD COLUMN pending_cursor TEXT;
DROP INDEX sync_jobs_lock;
CREATE UNIQUE INDEX sync_jobs_lock ON sync_jobs (tenant_id, lock_key)
    WHERE status IN ('pending', 'running', 'awaiting_approval');
-- One job (run or skip) per connector and due time, whatever the number of schedulers.
CREATE UNIQUE INDEX sync_jobs_due ON sync_jobs (connector_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
