-- The application logs in as its own role, and records are tamper-evident (Art. 41: 不得篡改).
--
-- 1. credit_app becomes a LOGIN role: the app connects as credit_app itself (not the owner, not a
--    superuser, a member of no role, so it cannot SET ROLE to anything else); the owner keeps
--    migrations, partition upkeep and purges. Roles are cluster-wide and several databases of
--    one cluster may run this at once: every step tolerates another having done it first.
-- 2. records, record_versions, record_tombstones and subjects carry `mac`: HMAC-SHA256 over the
--    row's content with a key derived from CREDIT_AUDIT_KEY. The database never stores it: the
--    application passes the HMAC's inner and outer padded keys as startup settings of its own
--    sessions (credit.mac_inner / credit.mac_outer), and the triggers below compute the mac of
--    every row written, so every path of the app is covered by the same code. A session without
--    the key (the owner, a superuser, psql) cannot change these rows at all; one that disables
--    the triggers leaves a row whose mac no longer matches. `credit audit verify` recomputes
--    every mac with the key (api/audit/records_check.py, which holds the same column lists) and
--    checks each record named by an act of the sealed trail against the table.
-- Rows written before this migration get their mac once, at the next start-up of the app (or
-- `credit audit seal-records`), recorded as an act; until then verify reports them.

DO $$
BEGIN
    BEGIN
        CREATE ROLE credit_app LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'credit_app') THEN
        BEGIN
            ALTER ROLE credit_app LOGIN;
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'credit_app cannot be given LOGIN here (the owner lacks CREATEROLE): '
                    'an administrator runs ALTER ROLE credit_app LOGIN PASSWORD ... (README)';
            WHEN OTHERS THEN  -- "tuple concurrently updated": another database did it meanwhile
                IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'credit_app') THEN
                    RAISE;
                END IF;
        END;
    END IF;
END $$;

-- What the app does not need. It never deletes a record, a subject or a tombstone (a deletion
-- keeps the row, Art. 38 ¶4, 40) and never changes a kept version or a tombstone; it may only
-- give a row written before this migration its mac (column grant, checked by the triggers).
REVOKE DELETE ON records, subjects, record_tombstones FROM credit_app;
REVOKE UPDATE ON record_versions, record_tombstones FROM credit_app;

ALTER TABLE records ADD COLUMN mac bytea;
ALTER TABLE record_versions ADD COLUMN mac bytea;
ALTER TABLE record_tombstones ADD COLUMN mac bytea;
ALTER TABLE subjects ADD COLUMN mac bytea;
GRANT UPDATE (mac) ON record_versions, record_tombstones TO credit_app;
-- rows still waiting for their mac (none after the first start-up): found without a scan
CREATE INDEX records_unsealed_idx ON records (id) WHERE mac IS NULL;
CREATE INDEX record_versions_unsealed_idx ON record_versions (record_id) WHERE mac IS NULL;
CREATE INDEX record_tombstones_unsealed_idx ON record_tombstones (record_id) WHERE mac IS NULL;
CREATE INDEX subjects_unsealed_idx ON subjects (key) WHERE mac IS NULL;

-- HMAC-SHA256 (RFC 2104) from the session's padded keys: sha256(outer || sha256(inner || m)).
CREATE FUNCTION credit_content_mac(content text) RETURNS bytea LANGUAGE plpgsql STABLE AS $$
DECLARE
    inner_key text := current_setting('credit.mac_inner', true);
    outer_key text := current_setting('credit.mac_outer', true);
BEGIN
    IF coalesce(inner_key, '') = '' OR coalesce(outer_key, '') = '' THEN
        RAISE EXCEPTION 'records, versions, tombstones and subjects change only through the '
            'platform (its sessions sign each change); this session cannot'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN sha256(decode(outer_key, 'hex')
                  || sha256(decode(inner_key, 'hex') || convert_to(content, 'UTF8')));
END $$;

-- The canonical contents below must match api/audit/records_check.py column for column.
-- Timestamps as epoch seconds: their text does not depend on the session's time zone. Derived
-- deadline columns (due_on, due_provisional, late) are left out: a calendar load recomputes them.
CREATE FUNCTION records_sign() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.mac := credit_content_mac(pg_catalog.jsonb_build_array('record', NEW.id, NEW.version,
        NEW.subject_key, NEW.subject_name, NEW.item_code, NEW.provider_org, NEW.source_ref,
        NEW.decided_on, NEW.data, NEW.consent_ref, NEW.catalog_year, NEW.status,
        NEW.submitted_by, extract(epoch FROM NEW.submitted_at), NEW.version_reason,
        NEW.version_by_name, NEW.channel, NEW.received_on, NEW.updated_by,
        extract(epoch FROM NEW.updated_at))::text);
    RETURN NEW;
END $$;

CREATE FUNCTION record_versions_sign() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.mac IS NOT NULL OR (to_jsonb(NEW) - 'mac') <> (to_jsonb(OLD) - 'mac')) THEN
        RAISE EXCEPTION 'a record version is never changed (Art. 16); submit a new version'
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.mac := credit_content_mac(pg_catalog.jsonb_build_array('version', NEW.record_id,
        NEW.version, NEW.subject_key, NEW.subject_name, NEW.item_code, NEW.decided_on, NEW.data,
        NEW.consent_ref, NEW.catalog_year, NEW.reason, NEW.submitted_by, NEW.submitted_by_name,
        extract(epoch FROM NEW.submitted_at), NEW.channel, NEW.request_id)::text);
    RETURN NEW;
END $$;

CREATE FUNCTION record_tombstones_sign() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.mac IS NOT NULL OR (to_jsonb(NEW) - 'mac') <> (to_jsonb(OLD) - 'mac')) THEN
        RAISE EXCEPTION 'a tombstone is written once' USING ERRCODE = 'check_violation';
    END IF;
    NEW.mac := credit_content_mac(pg_catalog.jsonb_build_array('tombstone', NEW.record_id,
        NEW.subject_key, NEW.item_code, NEW.category, NEW.provider_org, NEW.basis, NEW.case_id,
        NEW.requested_by, NEW.requested_by_name, NEW.decided_by, NEW.decided_by_name,
        NEW.decided_by_org, NEW.decided_by_role, extract(epoch FROM NEW.deleted_at),
        NEW.deleted_on, NEW.versions_wiped)::text);
    RETURN NEW;
END $$;

CREATE FUNCTION subjects_sign() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.mac := credit_content_mac(pg_catalog.jsonb_build_array('subject', NEW.key, NEW.key_type,
        NEW.subject_type, NEW.name, NEW.status, extract(epoch FROM NEW.created_at),
        extract(epoch FROM NEW.updated_at))::text);
    RETURN NEW;
END $$;

-- A version row may now be updated once, to receive its mac (the check moved into the signing
-- trigger above); every other change is still refused.
DROP TRIGGER record_versions_kept ON record_versions;
-- "zz_": BEFORE triggers run in name order, so the mac is made last, over the final row.
CREATE TRIGGER zz_records_sign BEFORE INSERT OR UPDATE ON records
    FOR EACH ROW EXECUTE FUNCTION records_sign();
CREATE TRIGGER zz_record_versions_sign BEFORE INSERT OR UPDATE ON record_versions
    FOR EACH ROW EXECUTE FUNCTION record_versions_sign();
CREATE TRIGGER zz_record_tombstones_sign BEFORE INSERT OR UPDATE ON record_tombstones
    FOR EACH ROW EXECUTE FUNCTION record_tombstones_sign();
CREATE TRIGGER zz_subjects_sign BEFORE INSERT OR UPDATE ON subjects
    FOR EACH ROW EXECUTE FUNCTION subjects_sign();

-- Nobody deletes a record, a subject or a tombstone (a deletion empties the record and keeps
-- the row): a session must drop this guard first, and verify then names what went.
CREATE FUNCTION credit_rows_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted (Art. 41); a record is deleted by emptying it '
        '(Art. 38 ¶4, 40)', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER records_kept BEFORE DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION credit_rows_are_kept();
CREATE TRIGGER subjects_kept BEFORE DELETE ON subjects
    FOR EACH ROW EXECUTE FUNCTION credit_rows_are_kept();
CREATE TRIGGER record_tombstones_kept BEFORE DELETE ON record_tombstones
    FOR EACH ROW EXECUTE FUNCTION credit_rows_are_kept();

-- Whether the one-time signing of rows written before this migration has run (start-up).
CREATE TABLE record_macs_backfilled (
    done_at timestamptz NOT NULL DEFAULT now(),
    rows    jsonb NOT NULL
);
REVOKE ALL ON record_macs_backfilled FROM credit_app;
GRANT SELECT, INSERT ON record_macs_backfilled TO credit_app;
