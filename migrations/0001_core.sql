-- The disclosure core: subjects, organisations, catalog items, records, written
-- authorizations and the query log.

CREATE TABLE organisations (
    code          text PRIMARY KEY,           -- unified social credit code
    name          text NOT NULL,
    division_code text,                       -- administrative division (county) it belongs to
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subjects (
    key          text PRIMARY KEY,            -- resident ID number, USCC or other document number
    key_type     text NOT NULL CHECK (key_type IN ('resident_id', 'uscc', 'passport',
                     'hk_macao_permit', 'taiwan_permit', 'foreign_permanent_residence')),
    subject_type text NOT NULL CHECK (subject_type IN ('natural_person', 'legal_person',
                     'unincorporated_org', 'individual_business')),
    name         text NOT NULL CHECK (length(btrim(name)) > 0),
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deregistered')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((key_type = 'uscc') = (subject_type <> 'natural_person'))
);

CREATE TABLE catalog_items (
    code             text PRIMARY KEY,
    name             text NOT NULL,
    category         text NOT NULL CHECK (category IN ('registration', 'licensing', 'penalty',
                         'enforcement', 'confirmation', 'inspection', 'levy', 'reward', 'payment',
                         'default_judgment', 'commendation', 'volunteer', 'donation', 'other')),
    disclosure       text NOT NULL CHECK (disclosure IN ('public', 'shared', 'authorized')),
    provider_org     text NOT NULL REFERENCES organisations (code),
    dishonest        boolean NOT NULL DEFAULT false,
    list_meaning     text NOT NULL DEFAULT 'none' CHECK (list_meaning IN ('none', 'red', 'black')),
    -- months of public display counted from the decision date; NULL means no limit of the
    -- item's own (Art. 20's five years still apply to dishonesty information)
    publicity_months integer CHECK (publicity_months > 0),
    fields           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(fields) = 'array'),
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE records (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_key  text NOT NULL REFERENCES subjects (key),
    item_code    text NOT NULL REFERENCES catalog_items (code),
    provider_org text NOT NULL REFERENCES organisations (code),
    source_ref   text NOT NULL CHECK (length(btrim(source_ref)) > 0),
    decided_on   date NOT NULL,
    data         jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disputed',
                     'repaired', 'archived', 'deleted')),
    submitted_by text NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider_org, source_ref)
);
CREATE INDEX records_subject_idx ON records (subject_key);

-- Art. 19: a subject's written authorization for one grantee organisation and one purpose.
CREATE TABLE authorizations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_key     text NOT NULL REFERENCES subjects (key),
    grantee_org     text NOT NULL,
    purpose         text NOT NULL CHECK (length(btrim(purpose)) > 0),
    scope_items     text[] NOT NULL DEFAULT '{}',
    scope_classes   text[] NOT NULL DEFAULT '{}'
                        CHECK (scope_classes <@ ARRAY['public', 'shared', 'authorized']),
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz NOT NULL,
    evidence_kind   text NOT NULL CHECK (evidence_kind IN ('self_service', 'signed_document')),
    evidence_digest text,
    evidence_ref    text,
    granted_by      text NOT NULL,
    granted_by_name text NOT NULL,
    granted_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    revoked_by      text,
    revoke_reason   text,
    CHECK (valid_until > valid_from),
    CHECK (cardinality(scope_items) + cardinality(scope_classes) > 0),
    CHECK (evidence_kind = 'self_service'
           OR (evidence_digest IS NOT NULL AND evidence_ref IS NOT NULL))
);
CREATE INDEX authorizations_subject_idx ON authorizations (subject_key, grantee_org);

-- The application's own database role. The app connects as the owner and then SET ROLE
-- credit_app (or logs in as a member of it): it may read and insert audit rows, never change or
-- delete them (Art. 41). Purging and partition upkeep run as the owner.
DO $$
BEGIN
    CREATE ROLE credit_app NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$
BEGIN
    EXECUTE format('GRANT credit_app TO %I', current_user);
EXCEPTION WHEN others THEN NULL;  -- a superuser needs no membership
END $$;
GRANT USAGE ON SCHEMA public TO credit_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON organisations, subjects, catalog_items, records,
    authorizations TO credit_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO credit_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO credit_app;

-- Art. 21, 22, 33, 41: the query log and the audit trail, one table. One row per subject looked
-- up per request (kind 'query'), written in the transaction that read the data; and one row per
-- act (collection, catalog publication, authorization, correction, deletion, purge, ...).
-- Partitioned by retention class, then by month, so a purge drops whole expired partitions.
-- Each row carries an HMAC (`mac`) of its content made by the application with a key the
-- database never holds; committed rows are sealed in batches into audit_seals, a chain.
CREATE SEQUENCE query_log_id_seq AS bigint;
CREATE TABLE query_log (
    id                bigint NOT NULL DEFAULT nextval('query_log_id_seq'),
    entry             uuid NOT NULL,          -- made by the application, covered by the mac
    at                timestamptz NOT NULL,
    xact              xid8 NOT NULL DEFAULT pg_current_xact_id(),  -- for sealing in commit order
    request_id        uuid NOT NULL,
    user_id           text,                   -- NULL for anonymous
    user_name         text,
    org_code          text,
    org_name          text,
    roles             text[] NOT NULL,
    kind              text NOT NULL DEFAULT 'query',
    operation         text NOT NULL,
    subject_key       text,                   -- NULL for an act about no one subject
    purpose           text,
    outcome           text NOT NULL CHECK (outcome IN ('disclosed', 'partial', 'refused',
                          'not_found', 'recorded')),
    reason            text,                   -- why refused, in words
    disclosed         jsonb NOT NULL DEFAULT '[]',   -- [{record, item, basis, fields}]
    withheld          jsonb NOT NULL DEFAULT '{}',   -- {records|fields: {class: count}}
    authorization_ids uuid[] NOT NULL DEFAULT '{}',
    client_addr       text,
    channel           text NOT NULL,
    details           jsonb,                  -- what an act did
    retention         text NOT NULL,
    mac               bytea NOT NULL
) PARTITION BY LIST (retention);
ALTER SEQUENCE query_log_id_seq OWNED BY query_log.id;
CREATE TABLE query_log_three_years PARTITION OF query_log FOR VALUES IN ('three_years')
    PARTITION BY RANGE (at);
CREATE TABLE query_log_long_term PARTITION OF query_log FOR VALUES IN ('long_term')
    PARTITION BY RANGE (at);
-- (subject, id) and (org, id): the auditors' and the subject's views read newest first by id
CREATE INDEX query_log_subject_idx ON query_log (subject_key, id);
CREATE INDEX query_log_org_idx ON query_log (org_code, id);
CREATE INDEX query_log_at_idx ON query_log (at);
CREATE INDEX query_log_id_idx ON query_log (id);
CREATE INDEX query_log_xact_idx ON query_log (xact);
REVOKE ALL ON query_log, query_log_three_years, query_log_long_term FROM credit_app;
GRANT SELECT, INSERT ON query_log TO credit_app;

-- Month partitions are made ahead of time (start-up, `credit audit maintain`); the app role
-- gets no rights on them directly, so it cannot bypass the parent's insert-only grant.
CREATE FUNCTION credit_audit_partitions(first_month date, last_month date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', first_month)::date;
    made integer := 0;
    cls text;
    part text;
BEGIN
    WHILE m <= last_month LOOP
        FOREACH cls IN ARRAY ARRAY['three_years', 'long_term'] LOOP
            part := format('query_log_%s_%s', cls, to_char(m, 'YYYY_MM'));
            IF to_regclass(part) IS NULL
               AND NOT EXISTS (SELECT 1 FROM audit_purges p WHERE p.partition = part) THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    part, 'query_log_' || cls,
                    m::timestamp AT TIME ZONE 'UTC',
                    (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
                EXECUTE format('REVOKE ALL ON %I FROM credit_app', part);
                made := made + 1;
            END IF;
        END LOOP;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END $$;

-- Seals: each covers the rows of one partition written by transactions in [xact_from, xact_to),
-- all finished when it was made. `ids` lists the covered row ids (varint deltas), `digest`
-- commits to their macs in id order, and each seal's mac commits to the previous seal's.
CREATE TABLE audit_seals (
    seq        bigint PRIMARY KEY,
    sealed_at  timestamptz NOT NULL DEFAULT now(),
    partition  text NOT NULL,
    xact_from  xid8 NOT NULL,
    xact_to    xid8 NOT NULL,
    row_count  integer NOT NULL,
    ids        bytea NOT NULL,
    digest     bytea NOT NULL,
    prev_mac   bytea NOT NULL,
    mac        bytea NOT NULL
);
CREATE INDEX audit_seals_partition_idx ON audit_seals (partition);
REVOKE ALL ON audit_seals FROM credit_app;
GRANT SELECT, INSERT ON audit_seals TO credit_app;

-- Partitions dropped by a purge (Art. 21: three years), with the root of their seals, so that
-- verification still spans the gap.
CREATE TABLE audit_purges (
    partition  text PRIMARY KEY,
    purged_at  timestamptz NOT NULL DEFAULT now(),
    row_count  bigint NOT NULL,
    seal_count integer NOT NULL,
    root       bytea NOT NULL
);
REVOKE ALL ON audit_purges FROM credit_app;
GRANT SELECT ON audit_purges TO credit_app;

SELECT credit_audit_partitions((now() - interval '1 month')::date, (now() + interval '3 months')::date);
