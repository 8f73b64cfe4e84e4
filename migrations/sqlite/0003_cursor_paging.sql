-- Cursor paging (RFC 9865). Aligned with migrations/postgres/0003.
--
-- A page after a cursor is a range of an index on (tenant_id, sort key, seq). Every SQLite index
-- ends with the rowid, which is seq, so the existing indexes on userName, externalId, created and
-- lastModified serve as they are. A user's displayName sorts (and filters) case-insensitively, as
-- lower(display_name): the old index on the raw column served neither.
DROP INDEX users_display_name;
CREATE INDEX users_display_name ON users (tenant_id, lower(display_name));
CREATE INDEX groups_created ON groups (tenant_id, created);
CREATE INDEX groups_last_modified ON groups (tenant_id, last_modified);

-- Secrets shared by every replica, made on first use (store/secrets.rs): the cursor HMAC key.
CREATE TABLE server_secrets (
    name    TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    created TEXT NOT NULL
);
