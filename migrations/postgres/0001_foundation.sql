-- Tenants, tokens, users, groups and memberships. Kept aligned, version for version, with
-- migrations/sqlite/0001_foundation.sql. Text columns use the "C" collation so that ordering and
-- range comparisons are by code point, as in SQLite and the in-memory filter evaluator.

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

CREATE TABLE users (
    seq             BIGSERIAL PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id              TEXT COLLATE "C" NOT NULL,
    user_name       TEXT COLLATE "C" NOT NULL,
    user_name_lower TEXT COLLATE "C" NOT NULL,
    external_id     TEXT COLLATE "C",
    display_name    TEXT COLLATE "C",
    active          BOOLEAN,
    managing_entity TEXT NOT NULL,
    password_hash   TEXT,
    created         TEXT COLLATE "C" NOT NULL,
    last_modified   TEXT COLLATE "C" NOT NULL,
    version         BIGINT NOT NULL,
    doc             JSONB NOT NULL
);
CREATE UNIQUE INDEX users_id ON users (tenant_id, id);
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, user_name_lower);
CREATE INDEX users_external_id ON users (tenant_id, external_id);
CREATE INDEX users_display_name ON users (tenant_id, display_name);
CREATE INDEX users_created ON users (tenant_id, created);
CREATE INDEX users_last_modified ON users (tenant_id, last_modified);

CREATE TABLE groups (
    seq                BIGSERIAL PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id                 TEXT COLLATE "C" NOT NULL,
    display_name       TEXT COLLATE "C" NOT NULL,
    display_name_lower TEXT COLLATE "C" NOT NULL,
    external_id        TEXT COLLATE "C",
    managing_entity    TEXT NOT NULL,
    created            TEXT COLLATE "C" NOT NULL,
    last_modified      TEXT COLLATE "C" NOT NULL,
    version            BIGINT NOT NULL,
    doc                JSONB NOT NULL
);
CREATE UNIQUE INDEX groups_id ON groups (tenant_id, id);
CREATE UNIQUE INDEX groups_display_name ON groups (tenant_id, display_name_lower);
CREATE INDEX groups_external_id ON groups (tenant_id, external_id);

CREATE TABLE group_members (
    tenant_id   TEXT NOT NULL,
    group_id    TEXT COLLATE "C" NOT NULL,
    member_id   TEXT COLLATE "C" NOT NULL,
    member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (tenant_id, group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);

CREATE TABLE resource_counts (
    tenant_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    total     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

CREATE FUNCTION count_resources() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO resource_counts (tenant_id, kind, total) VALUES (NEW.tenant_id, TG_ARGV[0], 1)
        ON CONFLICT (tenant_id, kind) DO UPDATE SET total = resource_counts.total + 1;
    ELSE
        UPDATE resource_counts SET total = total - 1 WHERE tenant_id = OLD.tenant_id AND kind = TG_ARGV[0];
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_count AFTER INSERT OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION count_resources('User');
CREATE TRIGGER groups_count AFTER INSERT OR DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION count_resources('Group');
