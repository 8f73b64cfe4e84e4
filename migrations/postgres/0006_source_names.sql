-- A link remembers the entry's name in its source (an LDAP DN, normalized by the connector), so a
-- group record can name its members by it: a run that reads only the groups that changed resolves
-- member DNs here, without reading the unchanged users again.
ALTER TABLE source_links ADD COLUMN external_name TEXT;
CREATE INDEX source_links_name ON source_links (connector_id, external_name);
