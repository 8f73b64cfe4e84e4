-- The audit log (DESIGN.md §5). Aligned with migrations/sqlite/0007_audit_log.sql.
--
-- One row per change, numbered per tenant. Each row's hash covers the previous row's hash and its
-- own content (canonical JSON), so a changed or removed row breaks the chain (`scimd audit verify`).
-- Rows are never updated, deleted or truncated: the triggers below refuse it. There is no foreign
-- key to tenants, whose deletion would otherwise cascade into the log. `changes` is TEXT, not
-- JSONB: the hash covers the text scimd wrote, and JSONB would re-format it.
CREATE TABLE audit_events (
    tenant_id     TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    event_time    TEXT COLLATE "C" NOT NULL,
    actor         TEXT NOT NULL,
    actor_role    TEXT,
    actor_name    TEXT,
    job_id        TEXT,
    action        TEXT NOT NULL,
    resource_type TEXT,
    resource_id   TEXT COLLATE "C",
    changes       TEXT NOT NULL,
    request_id    TEXT,
    source        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_resource ON audit_events (tenant_id, resource_id, seq);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The head of each tenant's chain: the last seq and hash. Writers lock it (the upsert that reads
-- it takes the row lock) and move it in the transaction that appends, so appends of one tenant
-- take turns across connections and replicas.
CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY,
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL
);
