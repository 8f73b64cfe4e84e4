-- The audit log (DESIGN.md §5). Aligned with migrations/postgres/0007_audit_log.sql.
--
-- One row per change, numbered per tenant. Each row's hash covers the previous row's hash and its
-- own content (canonical JSON), so a changed or removed row breaks the chain (`scimd audit verify`).
-- Rows are never updated or deleted: the triggers below refuse it. There is no foreign key to
-- tenants, whose deletion would otherwise cascade into the log.
CREATE TABLE audit_events (
    tenant_id     TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    event_time    TEXT NOT NULL,
    actor         TEXT NOT NULL,
    actor_role    TEXT,
    actor_name    TEXT,
    job_id        TEXT,
    action        TEXT NOT NULL,
    resource_type TEXT,
    resource_id   TEXT,
    changes       TEXT NOT NULL,
    request_id    TEXT,
    source        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
-- Provenance and the resourceId filter read one resource's events.
CREATE INDEX audit_events_resource ON audit_events (tenant_id, resource_id, seq);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;

-- The head of each tenant's chain: the last seq and hash. Writers read and move it in the
-- transaction that appends, so appends of one tenant take turns.
CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY,
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL
) WITHOUT ROWID;
