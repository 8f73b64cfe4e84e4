-- no-transaction
-- Schedules and run control (issue 7, DESIGN.md §4). Aligned with migrations/postgres/0008.
--
-- SQLite cannot alter a CHECK constraint, so sync_jobs is rebuilt (SQLite's documented procedure:
-- foreign keys off, one transaction, a foreign_key_check before the commit). That is why this
-- migration manages its own transaction.
PRAGMA foreign_keys = OFF;
BEGIN;

-- A connector can be disabled (no scheduled run, no run at all), and overrides the global retry
-- and mass-deprovision guard settings (NULL: the `sync.*` default of scimd.toml).
ALTER TABLE connectors ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE connectors ADD COLUMN retry_attempts INTEGER;
ALTER TABLE connectors ADD COLUMN retry_backoff_seconds INTEGER;
ALTER TABLE connectors ADD COLUMN guard_percent INTEGER;
ALTER TABLE connectors ADD COLUMN guard_count INTEGER;

-- A connector's cron schedule. Schedulers claim due rows in a write transaction (SQLite has one
-- writer), move next_run past now and queue the run in the same transaction.
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
CREATE TABLE sync_jobs_new (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('csv_sync', 'connector_sync')),
    connector_id      TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    lock_key          TEXT NOT NULL,
    trigger           TEXT NOT NULL CHECK (trigger IN ('api', 'cli', 'schedule', 'retry')),
    actor_token       TEXT,
    actor_name        TEXT,
    status            TEXT NOT NULL
        CHECK (status IN ('pending', 'running', 'completed', 'partial', 'failed', 'interrupted', 'cancelled',
                          'awaiting_approval', 'rejected', 'skipped')),
    dry_run           INTEGER NOT NULL,
    full_run          INTEGER NOT NULL,
    missing_policy    TEXT NOT NULL CHECK (missing_policy IN ('deactivate', 'keep', 'delete')),
    file_name         TEXT,
    total             INTEGER,
    processed         INTEGER NOT NULL DEFAULT 0,
    created_count     INTEGER NOT NULL DEFAULT 0,
    updated_count     INTEGER NOT NULL DEFAULT 0,
    unchanged_count   INTEGER NOT NULL DEFAULT 0,
    deactivated_count INTEGER NOT NULL DEFAULT 0,
    deleted_count     INTEGER NOT NULL DEFAULT 0,
    maintained_count  INTEGER NOT NULL DEFAULT 0,
    not_registered_count INTEGER NOT NULL DEFAULT 0,
    invalid_count     INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    lease_owner       TEXT,
    lease_expires     TEXT,
    requested         TEXT NOT NULL,
    started           TEXT,
    finished          TEXT,
    scheduled_for     TEXT,
    retry_of          TEXT,
    attempt           INTEGER NOT NULL DEFAULT 1,
    not_before        TEXT,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    approval          TEXT,
    pending_cursor    TEXT
);
INSERT INTO sync_jobs_new (id, tenant_id, kind, connector_id, lock_key, trigger, actor_token, actor_name, status,
    dry_run, full_run, missing_policy, file_name, total, processed, created_count, updated_count, unchanged_count,
    deactivated_count, deleted_count, maintained_count, not_registered_count, invalid_count, error, lease_owner,
    lease_expires, requested, started, finished)
SELECT id, tenant_id, kind, connector_id, lock_key, trigger, actor_token, actor_name, status,
    dry_run, full_run, missing_policy, file_name, total, processed, created_count, updated_count, unchanged_count,
    deactivated_count, deleted_count, maintained_count, not_registered_count, invalid_count, error, lease_owner,
    lease_expires, requested, started, finished
FROM sync_jobs;
DROP TABLE sync_jobs;
ALTER TABLE sync_jobs_new RENAME TO sync_jobs;
CREATE UNIQUE INDEX sync_jobs_lock ON sync_jobs (tenant_id, lock_key)
    WHERE status IN ('pending', 'running', 'awaiting_approval');
CREATE INDEX sync_jobs_requested ON sync_jobs (tenant_id, requested);
CREATE INDEX sync_jobs_active ON sync_jobs (status, lease_expires) WHERE status IN ('pending', 'running');
-- One job (run or skip) per connector and due time, whatever the number of schedulers.
CREATE UNIQUE INDEX sync_jobs_due ON sync_jobs (connector_id, scheduled_for) WHERE scheduled_for IS NOT NULL;

PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
