-- Tenants, tokens, users, groups and memberships. Kept aligned, version for version, with
-- migrations/postgres/0001_foundation.sql.

CREATE TABLE tenants (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('scim', 'admin', 'auditor')),
    client     TEXT,
    hash       TEXT NOT NULL UNIQUE,
    created    TEXT NOT NULL,
    revoked    TEXT
);

-- seq orders pages stably; id is the public SCIM id.
CREATE TABLE users (
    seq             INTEGER PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    user_name       TEXT NOT NULL,
    user_name_lower TEXT NOT NULL,
    external_id     TEXT,
    display_name    TEXT,
    active          INTEGER,
    managing_entity TEXT NOT NULL,
    password_hash   TEXT,
    created         TEXT NOT NULL,
    last_modified   TEXT NOT NULL,
    version         INTEGER NOT NULL,
    doc             TEXT NOT NULL
);
CREATE UNIQUE INDEX users_id ON users (tenant_id, id);
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, user_name_lower);
CREATE INDEX users_external_id ON users (tenant_id, external_id);
CREATE INDEX users_display_name ON users (tenant_id, display_name);
CREATE INDEX users_created ON users (tenant_id, created);
CREATE INDEX users_last_modified ON users (tenant_id, last_modified);

CREATE TABLE groups (
    seq                INTEGER PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id                 TEXT NOT NULL,
    display_name       TEXT NOT NULL,
    display_name_lower TEXT NOT NULL,
    external_id        TEXT,
    managing_entity    TEXT NOT NULL,
    created            TEXT NOT NULL,
    last_modified      TEXT NOT NULL,
    version            INTEGER NOT NULL,
    doc                TEXT NOT NULL
);
CREATE UNIQUE INDEX groups_id ON groups (tenant_id, id);
CREATE UNIQUE INDEX groups_display_name ON groups (tenant_id, display_name_lower);
CREATE INDEX groups_external_id ON groups (tenant_id, external_id);

-- One row per membership, so that changing members costs O(changed members).
CREATE TABLE group_members (
    tenant_id   TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (tenant_id, group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);

-- Row counts per tenant, so that an unfiltered list's totalResults does not scan the table.
CREATE TABLE resource_counts (
    tenant_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    total     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind)
) WITHOUT ROWID;

CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN
    INSERT INTO resource_counts (tenant_id, kind, total) VALUES (NEW.tenant_id, 'User', 1)
    ON CONFLICT (tenant_id, kind) DO UPDATE SET total = total + 1;
END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN
    UPDATE resource_counts SET total = total - 1 WHERE tenant_id = OLD.tenant_id AND kind = 'User';
END;
CREATE TRIGGER groups_count_insert AFTER INSERT ON groups BEGIN
    INSERT INTO resource_counts (tenant_id, kind, total) VALUES (NEW.tenant_id, 'Group', 1)
    ON CONFLICT (tenant_id, kind) DO UPDATE SET total = total + 1;
END;
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups BEGIN
    UPDATE resource_counts SET total = total - 1 WHERE tenant_id = OLD.tenant_id AND kind = 'Group';
END;
