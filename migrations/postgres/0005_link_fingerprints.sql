-- What a link's source record looked like when it was last applied, and the resource version that
-- left behind: a resync whose record has the same fingerprint, against a resource still at that
-- version, is UNCHANGED without reading or diffing the resource (DESIGN.md §3).
ALTER TABLE source_links ADD COLUMN record_hash TEXT;
ALTER TABLE source_links ADD COLUMN synced_version BIGINT;
