-- Pages in insertion order per tenant without sorting the tenant, and prefix/equality filters on the
-- name attributes identity providers search by. The expressions are exactly those the filter
-- compiler writes (store/dialect.rs), which is what lets the planner use them.
CREATE INDEX users_tenant_seq ON users (tenant_id, seq);
CREATE INDEX groups_tenant_seq ON groups (tenant_id, seq);
CREATE INDEX users_family_name ON users (tenant_id, lower(json_extract(doc, '$."name"."familyName"')));
CREATE INDEX users_given_name ON users (tenant_id, lower(json_extract(doc, '$."name"."givenName"')));
