-- The audit log in a compact form (DESIGN.md §5). Aligned with migrations/postgres/0009.
--
-- An event's key is one integer, `id` = chain << 40 | seq, where `chain` numbers the tenant's head
-- row: a tenant's events are one range of the table's own B-tree, so the table needs no second
-- index on (tenant_id, seq), and its rows no tenant_id. Hashes are 32-byte blobs instead of
-- 64-character hex, and an event no longer stores the previous event's hash: that hash is the row
-- before it (readers fetch it by `id - 1`). Each event was about 830 bytes over the table and its
-- two indexes, and is about 600 now; the hashes are unchanged, so existing chains still verify.
-- A chain holds up to 2^40 events, and 2^23 tenants can have one.

-- Heads first: every tenant with events gets a chain, including one whose head row is missing
-- (the check then reports the chain broken, and no event is lost).
CREATE TABLE audit_heads_v2 (
    chain     INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL UNIQUE,
    seq       INTEGER NOT NULL,
    hash      BLOB NOT NULL
);
INSERT INTO audit_heads_v2 (tenant_id, seq, hash)
SELECT tenant_id, seq, unhex(hash) FROM audit_heads
UNION ALL
SELECT DISTINCT tenant_id, 0, zeroblob(32) FROM audit_events WHERE tenant_id NOT IN (SELECT tenant_id FROM audit_heads)
ORDER BY tenant_id;

CREATE TABLE audit_events_v2 (
    id            INTEGER PRIMARY KEY,
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
    hash          BLOB NOT NULL
);
INSERT INTO audit_events_v2
SELECT (h.chain << 40) | e.seq, e.event_time, e.actor, e.actor_role, e.actor_name, e.job_id, e.action, e.resource_type,
       e.resource_id, e.changes, e.request_id, e.source, unhex(e.hash)
FROM audit_events e JOIN audit_heads_v2 h ON h.tenant_id = e.tenant_id
ORDER BY 1;

DROP TABLE audit_events;
DROP TABLE audit_heads;
ALTER TABLE audit_events_v2 RENAME TO audit_events;
ALTER TABLE audit_heads_v2 RENAME TO audit_heads;

-- Provenance and the resourceId filter read one resource's events (resource ids are unique across
-- tenants; the id range keeps a read inside its tenant's chain).
CREATE INDEX audit_events_resource ON audit_events (resource_id, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;
-- A head only moves forward: removing it, or giving its chain to another tenant, would hide the
-- events of its chain.
CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads BEGIN
    SELECT RAISE(ABORT, 'audit_heads rows are never removed: DELETE refused');
END;
CREATE TRIGGER audit_heads_keep_chain BEFORE UPDATE OF chain, tenant_id ON audit_heads BEGIN
    SELECT RAISE(ABORT, 'an audit head keeps its chain and tenant: UPDATE refused');
END;
