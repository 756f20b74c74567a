-- Art. 24-32: using credit information. Providers publish their identification rules and keep
-- red (守信) and black (失信) list entries resting on named records; the credit office keeps the
-- registry of joint reward and punishment measures (versioned); state organs check subjects in
-- an Art. 29 scenario and report back which measures they applied (奖惩结果反馈).

CREATE TABLE list_rules (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_org  text NOT NULL REFERENCES organisations (code),
    kind          text NOT NULL CHECK (kind IN ('red', 'black')),
    name          text NOT NULL CHECK (length(btrim(name)) > 0),
    doc_number    text NOT NULL CHECK (length(btrim(doc_number)) > 0),
    criteria      text NOT NULL CHECK (length(btrim(criteria)) > 0),
    listing_months integer CHECK (listing_months > 0),  -- default period of an entry
    published_at  timestamptz NOT NULL DEFAULT now(),
    published_by  text NOT NULL,
    UNIQUE (provider_org, doc_number)
);

CREATE TABLE list_entries (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_key   text NOT NULL REFERENCES subjects (key),
    kind          text NOT NULL CHECK (kind IN ('red', 'black')),
    rule_id       uuid NOT NULL REFERENCES list_rules (id),
    provider_org  text NOT NULL REFERENCES organisations (code),
    case_number   text NOT NULL CHECK (length(btrim(case_number)) > 0),
    reason        text NOT NULL CHECK (length(btrim(reason)) > 0),
    basis_records uuid[] NOT NULL CHECK (cardinality(basis_records) > 0),
    basis_versions integer[] NOT NULL,  -- each basis record's version when listed
    decided_on    date NOT NULL,
    listed_from   date NOT NULL,
    listed_until  date,
    state         text NOT NULL DEFAULT 'listed' CHECK (state IN ('listed', 'exited', 'removed')),
    ended_on      date,
    end_reason    text,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider_org, case_number),
    CHECK (listed_until IS NULL OR listed_until >= listed_from),
    CHECK ((state = 'listed') = (ended_on IS NULL))
);
CREATE INDEX list_entries_subject_idx ON list_entries (subject_key);
CREATE INDEX list_entries_kind_idx ON list_entries (kind, listed_from DESC, id);

CREATE TABLE measures (
    code           text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,39}$'),
    version        integer NOT NULL CHECK (version > 0),
    name           text NOT NULL CHECK (length(btrim(name)) > 0),
    kind           text NOT NULL CHECK (kind IN ('reward', 'punishment')),
    clause         text NOT NULL,            -- e.g. 'art28_3': Art. 27 (rewards) or 28 (punishments), item
    legal_basis    text NOT NULL CHECK (length(btrim(legal_basis)) > 0),  -- document and article
    originating_org text NOT NULL,
    originating_name text NOT NULL,
    implementing_bodies text[] NOT NULL CHECK (cardinality(implementing_bodies) > 0),
    target_lists   text[] NOT NULL CHECK (target_lists <@ ARRAY['red', 'black'] AND cardinality(target_lists) > 0),
    target_providers text[] NOT NULL DEFAULT '{}',  -- empty: any provider's entries
    scenarios      text[] NOT NULL CHECK (cardinality(scenarios) > 0),
    valid_from     date NOT NULL,
    valid_until    date,
    updated_by     text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'reward') = (clause LIKE 'art27_%') AND (kind = 'punishment') = (clause LIKE 'art28_%'))
);
CREATE TABLE measure_versions (LIKE measures);
ALTER TABLE measure_versions ADD PRIMARY KEY (code, version);

CREATE TABLE credit_checks (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    at            timestamptz NOT NULL,
    org_code      text NOT NULL,
    org_name      text,
    user_id       text NOT NULL,
    scenario      text NOT NULL,
    subject_key   text NOT NULL REFERENCES subjects (key),
    entries       uuid[] NOT NULL DEFAULT '{}',
    measures      text[] NOT NULL DEFAULT '{}',
    feedback_due  date NOT NULL,
    feedback_at   timestamptz,
    feedback_by   text,
    applied       jsonb      -- [{measure, applied, note}]
);
CREATE INDEX credit_checks_subject_idx ON credit_checks (subject_key, at DESC);
CREATE INDEX credit_checks_open_idx ON credit_checks (feedback_due) WHERE feedback_at IS NULL;

REVOKE DELETE, TRUNCATE ON list_rules, list_entries, measures, measure_versions, credit_checks FROM credit_app;
REVOKE UPDATE ON list_rules, measure_versions FROM credit_app;
