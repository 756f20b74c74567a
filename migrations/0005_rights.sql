-- Subjects' rights (Art. 37-40): objection and credit-repair cases with every step taken, the
-- notifications outbox the portals read, and the tombstones of deleted records.

CREATE SEQUENCE rights_case_number_seq;

-- One case: an objection (Art. 37-38) or a credit-repair application (Art. 39) about one record.
-- The columns stage .. paused_since describe the one open step: what must be done next, by which
-- role and organisation, counted from which day, due when (api/rights/workflow.py).
CREATE TABLE rights_cases (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number            text NOT NULL UNIQUE,      -- OBJ-2026-000001, REP-2026-000002
    kind              text NOT NULL CHECK (kind IN ('objection', 'repair')),
    record_id         uuid NOT NULL REFERENCES records (id),
    subject_key       text NOT NULL REFERENCES subjects (key),
    item_code         text NOT NULL,
    category          text NOT NULL,
    provider_org      text NOT NULL,
    credit_office_org text NOT NULL,
    data_office_org   text NOT NULL,
    -- 'role:org' entries that may see the record while the case is open (the case_handler
    -- relation of the disclosure policy)
    handlers          text[] NOT NULL DEFAULT '{}',
    ground            text CHECK (ground IN ('error_or_omission', 'trade_secret_or_privacy',
                          'dishonesty_expired')),
    statement         text,
    evidence_refs     text[] NOT NULL CHECK (cardinality(evidence_refs) > 0),
    filed_by          text NOT NULL,
    filed_by_name     text,
    filed_at          timestamptz NOT NULL,
    received_on       date NOT NULL,
    status_before     text NOT NULL,             -- the record's status when the case was filed
    stage             text NOT NULL,             -- the open step, or 'closed'
    stage_role        text,
    stage_org         text,
    stage_since       date,
    due_days          integer CHECK (due_days > 0),
    due_on            date,
    due_provisional   boolean NOT NULL DEFAULT false,
    due_basis         text,
    pauses            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(pauses) = 'array'),
    paused_since      date,
    pause_kind        text,
    outcome           text CHECK (outcome IN ('corrected', 'upheld', 'deleted', 'repaired',
                          'rejected')),
    outcome_note      text,
    closed_at         timestamptz,
    closed_on         date,
    steps             integer NOT NULL DEFAULT 0,
    CHECK ((kind = 'objection') = (ground IS NOT NULL)),
    CHECK ((stage = 'closed') = (closed_at IS NOT NULL)),
    CHECK (stage = 'closed' OR (stage_role IS NOT NULL AND stage_since IS NOT NULL
                                AND due_days IS NOT NULL AND due_on IS NOT NULL))
);
-- One open case per record (an objection and a repair would undo each other's status); the
-- partial index also serves the disclosure's "who handles an open case on this record".
CREATE UNIQUE INDEX rights_cases_open_idx ON rights_cases (record_id) WHERE closed_at IS NULL;
CREATE INDEX rights_cases_subject_idx ON rights_cases (subject_key, filed_at);
CREATE INDEX rights_cases_provider_idx ON rights_cases (provider_org, filed_at);
CREATE INDEX rights_cases_due_idx ON rights_cases (due_on) WHERE closed_at IS NULL;

-- Every step taken: who, when, what. Kept as taken: the application may only add steps.
CREATE TABLE rights_steps (
    case_id         uuid NOT NULL REFERENCES rights_cases (id),
    seq             integer NOT NULL CHECK (seq > 0),
    step            text NOT NULL,
    actor_id        text,
    actor_name      text,
    actor_org       text,
    actor_role      text NOT NULL,
    at              timestamptz NOT NULL,
    on_date         date NOT NULL,               -- the (China) day it was done
    due_on          date,                        -- when it was due, for a step that had a deadline
    due_provisional boolean,
    on_time         boolean,
    details         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    PRIMARY KEY (case_id, seq)
);

-- The outbox: what the platform must tell someone. Portals read their own through the API;
-- nothing is e-mailed from here.
CREATE TABLE rights_notifications (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at     timestamptz NOT NULL,
    recipient_role text NOT NULL CHECK (recipient_role IN ('subject', 'provider', 'credit_office',
                       'data_office')),
    recipient      text NOT NULL,                -- a subject key, or an organisation code
    topic          text NOT NULL,
    message        text NOT NULL,
    case_id        uuid REFERENCES rights_cases (id),
    record_id      uuid,
    details        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    read_at        timestamptz,
    read_by        text
);
CREATE INDEX rights_notifications_recipient_idx
    ON rights_notifications (recipient_role, recipient, id);

-- What remains of a deleted record (Art. 38 unverifiable, Art. 40 on request): what kind of
-- record it was, when, at whose request. Its data and versions are gone.
CREATE TABLE record_tombstones (
    record_id         uuid PRIMARY KEY REFERENCES records (id),
    subject_key       text NOT NULL,
    item_code         text NOT NULL,
    category          text NOT NULL,
    provider_org      text NOT NULL,
    basis             text NOT NULL CHECK (basis IN ('art38_unverifiable', 'art40_request')),
    case_id           uuid REFERENCES rights_cases (id),
    requested_by      text NOT NULL,
    requested_by_name text,
    decided_by        text NOT NULL,
    decided_by_name   text,
    decided_by_org    text,
    decided_by_role   text NOT NULL,
    deleted_at        timestamptz NOT NULL,
    deleted_on        date NOT NULL,
    versions_wiped    integer NOT NULL
);
CREATE INDEX record_tombstones_subject_idx ON record_tombstones (subject_key, deleted_at);

-- Steps and tombstones are written once (the default privileges gave the app role more).
REVOKE UPDATE, DELETE ON rights_steps, record_tombstones FROM credit_app;
