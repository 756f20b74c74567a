-- Versions as a history table (the system-versioned table pattern): the records row is the
-- current version with its own who, when and why; record_versions keeps every superseded
-- version as it was. Creating a record writes one row; correcting it moves the old content
-- into record_versions in the same statement. (Art. 16, 36: nothing is overwritten unkept.)

ALTER TABLE records
    ADD COLUMN version_reason  text,   -- why the current version replaced the one before
    ADD COLUMN version_by_name text;   -- real name of whoever submitted the current version

COMMENT ON TABLE record_versions IS
    'superseded versions of records; the current version is the records row itself';

UPDATE records r
SET version_reason = v.reason, version_by_name = v.submitted_by_name,
    channel = coalesce(r.channel, v.channel)
FROM record_versions v
WHERE v.record_id = r.id AND v.version = r.version;

DELETE FROM record_versions v USING records r WHERE v.record_id = r.id AND v.version = r.version;
