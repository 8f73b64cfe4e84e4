-- The sync engine (DESIGN.md §1, §3, §4). Aligned with migrations/sqlite/0004.
--
-- Users gain the lower-cased primary (else first) email, which sources correlate on, and the reason
-- of the last deactivation. A membership records the connector that added it, so a sync removes
-- only the memberships its source owns.
ALTER TABLE users ADD COLUMN email_lower TEXT COLLATE "C";
ALTER TABLE users ADD COLUMN deactivation_reason TEXT;
UPDATE users SET email_lower = (
    SELECT lower(e.value ->> 'value')
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(users.doc -> 'emails') = 'array'
                                   THEN users.doc -> 'emails' ELSE '[]'::jsonb END) WITH ORDINALITY AS e(value, n)
    ORDER BY (e.value -> 'primary') = 'true'::jsonb DESC, e.n LIMIT 1);
CREATE INDEX users_email ON users (tenant_id, email_lower);
ALTER TABLE group_members ADD COLUMN source TEXT;

-- A source scimd syncs from. The CSV source of a tenant is a connector named 'csv'.
CREATE TABLE connectors (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('csv', 'ldap', 'azure', 'google')),
    config         TEXT NOT NULL,
    missing_policy TEXT NOT NULL CHECK (missing_policy IN ('deactivate', 'keep', 'delete')),
    cursor         TEXT,
    created        TEXT NOT NULL
);
CREATE UNIQUE INDEX connectors_name ON connectors (tenant_id, name);

-- A resource's entry in a source, by the source's stable key.
CREATE TABLE source_links (
    tenant_id     TEXT NOT NULL,
    connector_id  TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL CHECK (resource_type IN ('User', 'Group')),
    resource_id   TEXT NOT NULL,
    external_key  TEXT NOT NULL,
    linked        TEXT NOT NULL,
    PRIMARY KEY (connector_id, external_key)
);
CREATE UNIQUE INDEX source_links_resource ON source_links (tenant_id, resource_id, connector_id);

-- Every run: CSV imports and connector syncs (later: backups and restores). The partial unique
-- index is the lock: one pending or running job per lock key ('csv', 'connector:<id>') and tenant.
-- Counts: not_registered are records lost to system errors; invalid are records with data errors
-- (CSV row errors, unknown groups, resources another source manages).
CREATE TABLE sync_jobs (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('csv_sync', 'connector_sync')),
    connector_id      TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    lock_key          TEXT NOT NULL,
    trigger           TEXT NOT NULL CHECK (trigger IN ('api', 'cli', 'schedule')),
    actor_token       TEXT,
    actor_name        TEXT,
    status            TEXT NOT NULL
        CHECK (status IN ('pending', 'running', 'completed', 'partial', 'failed', 'interrupted')),
    dry_run           BOOLEAN NOT NULL,
    full_run          BOOLEAN NOT NULL,
    missing_policy    TEXT NOT NULL CHECK (missing_policy IN ('deactivate', 'keep', 'delete')),
    file_name         TEXT,
    total             BIGINT,
    processed         BIGINT NOT NULL DEFAULT 0,
    created_count     BIGINT NOT NULL DEFAULT 0,
    updated_count     BIGINT NOT NULL DEFAULT 0,
    unchanged_count   BIGINT NOT NULL DEFAULT 0,
    deactivated_count BIGINT NOT NULL DEFAULT 0,
    deleted_count     BIGINT NOT NULL DEFAULT 0,
    maintained_count  BIGINT NOT NULL DEFAULT 0,
    not_registered_count BIGINT NOT NULL DEFAULT 0,
    invalid_count     BIGINT NOT NULL DEFAULT 0,
    error             TEXT,
    lease_owner       TEXT,
    lease_expires     TEXT,
    requested         TEXT NOT NULL,
    started           TEXT,
    finished          TEXT
);
CREATE UNIQUE INDEX sync_jobs_lock ON sync_jobs (tenant_id, lock_key) WHERE status IN ('pending', 'running');
CREATE INDEX sync_jobs_requested ON sync_jobs (tenant_id, requested);
CREATE INDEX sync_jobs_active ON sync_jobs (status, lease_expires) WHERE status IN ('pending', 'running');

-- One row per record a job handled, in source order (seq), then one per missing resource.
CREATE TABLE sync_outcomes (
    job_id         TEXT NOT NULL REFERENCES sync_jobs(id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    status         TEXT NOT NULL,
    resource_type  TEXT,
    resource_id    TEXT,
    source_key     TEXT,
    line           BIGINT,
    changed_fields TEXT,
    error          TEXT,
    -- The record's values as the source gave them (a JSON array), repeated in result files.
    report         TEXT,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX sync_outcomes_resource ON sync_outcomes (job_id, resource_id);
