-- Catalog and collection: yearly catalogs (Art. 9-10), versioned records (Art. 16, 36),
-- written consent references (Art. 11), timeliness (Art. 13, 15) and subject changes (Art. 35).
-- catalog_items stays the registry of item codes that records reference; the definition of an
-- item in a given year lives in catalog_entries.

CREATE TABLE catalogs (
    year         integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 2999),
    status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    note         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text,
    published_at timestamptz,
    published_by text,
    CHECK ((status = 'published') = (published_at IS NOT NULL))
);

CREATE TABLE catalog_entries (
    year                  integer NOT NULL REFERENCES catalogs (year) ON DELETE CASCADE,
    code                  text NOT NULL CHECK (code ~ '^[A-Z][A-Z0-9_]{1,63}$'),
    name                  text NOT NULL CHECK (length(btrim(name)) > 0),
    category              text NOT NULL CHECK (category IN ('registration', 'licensing', 'penalty',
                              'enforcement', 'confirmation', 'inspection', 'levy', 'reward',
                              'payment', 'default_judgment', 'commendation', 'volunteer',
                              'donation', 'other')),
    disclosure            text NOT NULL CHECK (disclosure IN ('public', 'shared', 'authorized')),
    provider_org          text NOT NULL REFERENCES organisations (code),
    collection_scope      text NOT NULL CHECK (length(btrim(collection_scope)) > 0),
    collection_paths      text[] NOT NULL CHECK (cardinality(collection_paths) > 0 AND
                              collection_paths <@ ARRAY['system_integration', 'provider_account']),
    update_cycle          text NOT NULL CHECK (update_cycle IN ('realtime', 'daily', 'weekly',
                              'monthly', 'quarterly', 'yearly', 'on_decision')),
    sharing_method        text NOT NULL CHECK (sharing_method IN ('interface', 'database', 'file')),
    dishonest             boolean NOT NULL DEFAULT false,
    list_meaning          text NOT NULL DEFAULT 'none' CHECK (list_meaning IN ('none', 'red', 'black')),
    publicity_months      integer CHECK (publicity_months > 0),
    deadline_working_days integer CHECK (deadline_working_days > 0),
    decision_field        text,
    fields                jsonb NOT NULL CHECK (jsonb_typeof(fields) = 'array'),
    PRIMARY KEY (year, code)
);
CREATE INDEX catalog_entries_code_idx ON catalog_entries (code, year);

-- A published catalog is never changed (Art. 9: a change made during a year goes into the
-- next year's catalog). Drafts can be edited and dropped.
CREATE FUNCTION catalog_published_is_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    y integer := CASE WHEN TG_OP = 'INSERT' THEN NEW.year ELSE OLD.year END;
BEGIN
    IF TG_TABLE_NAME = 'catalogs' THEN
        IF OLD.status = 'published' THEN
            RAISE EXCEPTION 'the % catalog is published and cannot be changed', OLD.year
                USING ERRCODE = 'check_violation';
        END IF;
    ELSIF EXISTS (SELECT 1 FROM catalogs WHERE year = y AND status = 'published') THEN
        RAISE EXCEPTION 'the % catalog is published and cannot be changed', y
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER catalogs_frozen BEFORE UPDATE OR DELETE ON catalogs
    FOR EACH ROW EXECUTE FUNCTION catalog_published_is_frozen();
CREATE TRIGGER catalog_entries_frozen BEFORE INSERT OR UPDATE OR DELETE ON catalog_entries
    FOR EACH ROW EXECUTE FUNCTION catalog_published_is_frozen();

-- The current version of a record stays in records (what disclosure reads); every version,
-- the first included, is kept in record_versions with who, when and why (Art. 16, 36).
ALTER TABLE records
    ADD COLUMN subject_name    text,
    ADD COLUMN version         integer NOT NULL DEFAULT 1 CHECK (version > 0),
    ADD COLUMN consent_ref     text,
    ADD COLUMN catalog_year    integer,
    ADD COLUMN channel         text,
    ADD COLUMN received_on     date,      -- local (China) date the first version arrived
    ADD COLUMN due_on          date,      -- Art. 13 deadline, for items that have one
    ADD COLUMN due_provisional boolean NOT NULL DEFAULT false,
    ADD COLUMN late            boolean,   -- NULL: the item has no deadline
    ADD COLUMN updated_at      timestamptz,
    ADD COLUMN updated_by      text;
CREATE INDEX records_received_idx ON records (received_on, provider_org);

CREATE TABLE record_versions (
    record_id         uuid NOT NULL REFERENCES records (id),
    version           integer NOT NULL CHECK (version > 0),
    subject_key       text NOT NULL,
    subject_name      text,
    item_code         text NOT NULL,
    decided_on        date NOT NULL,
    data              jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    consent_ref       text,
    catalog_year      integer,
    reason            text,
    submitted_by      text NOT NULL,
    submitted_by_name text,
    submitted_at      timestamptz NOT NULL DEFAULT now(),
    channel           text NOT NULL,
    request_id        uuid,
    PRIMARY KEY (record_id, version),
    CHECK (version = 1 OR length(btrim(reason)) > 0)
);

CREATE FUNCTION record_versions_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a record version is never changed (Art. 16); submit a new version'
        USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER record_versions_kept BEFORE UPDATE ON record_versions
    FOR EACH ROW EXECUTE FUNCTION record_versions_are_kept();

-- Art. 35: a subject's renames and deregistration, as registration records brought them.
CREATE TABLE subject_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_key text NOT NULL REFERENCES subjects (key),
    kind        text NOT NULL CHECK (kind IN ('rename', 'deregister', 'reactivate')),
    old_value   text,
    new_value   text,
    record_id   uuid REFERENCES records (id),
    effective   date NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subject_changes_subject_idx ON subject_changes (subject_key, changed_at);

-- A database that already holds items and records: their definitions become the published
-- catalog of the current year, and each record gets its first version.
INSERT INTO catalogs (year, status, note, created_by, published_at, published_by)
SELECT extract(year FROM now() AT TIME ZONE 'Asia/Shanghai')::int, 'draft',
       'carried over from catalog_items by migration 0003', 'migration', NULL, NULL
WHERE EXISTS (SELECT 1 FROM catalog_items);
INSERT INTO catalog_entries (year, code, name, category, disclosure, provider_org,
    collection_scope, collection_paths, update_cycle, sharing_method, dishonest, list_meaning,
    publicity_months, fields)
SELECT extract(year FROM now() AT TIME ZONE 'Asia/Shanghai')::int, code, name, category,
       disclosure, provider_org, 'as defined before yearly catalogs',
       ARRAY['system_integration', 'provider_account'], 'on_decision', 'interface', dishonest,
       list_meaning, publicity_months, fields
FROM catalog_items;
UPDATE catalogs SET status = 'published', published_at = now(), published_by = 'migration';
UPDATE records SET received_on = (submitted_at AT TIME ZONE 'Asia/Shanghai')::date;
INSERT INTO record_versions (record_id, version, subject_key, item_code, decided_on, data,
    submitted_by, submitted_at, channel)
SELECT id, 1, subject_key, item_code, decided_on, data, submitted_by, submitted_at, 'legacy'
FROM records;
