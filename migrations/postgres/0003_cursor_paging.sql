-- Cursor paging (RFC 9865). Aligned with migrations/sqlite/0003.
--
-- A page after a cursor is a range of an index on (tenant_id, sort key, seq): seq, the tiebreaker,
-- is added to the indexes on the sortable columns, which serve equality and prefix filters as before.
-- userName is unique per tenant and needs no tiebreaker. A user's displayName sorts (and filters)
-- case-insensitively, as lower(display_name): the old index on the raw column served neither.
DROP INDEX users_external_id;
CREATE INDEX users_external_id ON users (tenant_id, external_id, seq);
DROP INDEX users_display_name;
CREATE INDEX users_display_name ON users (tenant_id, lower(display_name), seq);
DROP INDEX users_created;
CREATE INDEX users_created ON users (tenant_id, created, seq);
DROP INDEX users_last_modified;
CREATE INDEX users_last_modified ON users (tenant_id, last_modified, seq);
DROP INDEX groups_external_id;
CREATE INDEX groups_external_id ON groups (tenant_id, external_id, seq);
CREATE INDEX groups_created ON groups (tenant_id, created, seq);
CREATE INDEX groups_last_modified ON groups (tenant_id, last_modified, seq);

-- Secrets shared by every replica, made on first use (store/secrets.rs): the cursor HMAC key.
CREATE TABLE server_secrets (
    name    TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    created TEXT NOT NULL
);
