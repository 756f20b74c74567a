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

-- Art. 21, 22: one row per subject looked up per request, written in the transaction that
-- read the data.
CREATE TABLE query_log (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at                timestamptz NOT NULL DEFAULT now(),
    request_id        uuid NOT NULL,
    user_id           text,                   -- NULL for anonymous
    user_name         text,
    org_code          text,
    org_name          text,
    roles             text[] NOT NULL,
    kind              text NOT NULL DEFAULT 'query',  -- query, or an act: collection, catalog, ...
    operation         text NOT NULL,
    subject_key       text,                   -- NULL for an act about no one subject
    purpose           text,
    outcome           text NOT NULL CHECK (outcome IN ('disclosed', 'partial', 'refused',
                          'not_found')),
    reason            text,                   -- why refused, in words
    disclosed         jsonb NOT NULL DEFAULT '[]',   -- [{record, item, fields}]
    withheld          jsonb NOT NULL DEFAULT '{}',   -- {class: count}
    authorization_ids uuid[] NOT NULL DEFAULT '{}',
    client_addr       text,
    channel           text NOT NULL DEFAULT 'graphql',
    details           jsonb,                  -- what an act did
    retention         text NOT NULL CHECK (retention IN ('three_years', 'long_term'))
);
CREATE INDEX query_log_subject_idx ON query_log (subject_key, at);
CREATE INDEX query_log_org_idx ON query_log (org_code, at);
CREATE INDEX query_log_at_idx ON query_log (at);
