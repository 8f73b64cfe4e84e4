-- Aligned with migrations/sqlite/0002: paging per tenant, and the name attributes identity providers
-- search by. The expressions are exactly those the filter compiler writes (store/dialect.rs).
CREATE INDEX users_tenant_seq ON users (tenant_id, seq);
CREATE INDEX groups_tenant_seq ON groups (tenant_id, seq);
CREATE INDEX users_family_name ON users (tenant_id, lower((doc #>> ARRAY['name','familyName']::text[]) COLLATE "C"));
CREATE INDEX users_given_name ON users (tenant_id, lower((doc #>> ARRAY['name','givenName']::text[]) COLLATE "C"));
