-- Art. 19: an authorization is effective only when the subject's agreement is shown (the subject
-- granted or confirmed it, a valid e-signature of the subject, or the credit office's paper
-- check by two people), or when a state organ's purpose is exempt by configuration. The signed
-- document itself is kept here; the subject may refuse, revoke or dispute.

CREATE TABLE authorization_documents (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    media_type   text NOT NULL CHECK (media_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    size         integer NOT NULL CHECK (size > 0),
    content      bytea NOT NULL,
    uploaded_org text NOT NULL,          -- the grantee organisation that uploaded it
    uploaded_by  text NOT NULL,
    uploaded_by_name text,
    uploaded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX authorization_documents_org_idx ON authorization_documents (uploaded_org, uploaded_at);

-- A registration names a key, not a stored subject: a grantee registers a pending authorization
-- for a key whether or not the platform holds that subject yet, so that the answer does not
-- tell it which identity numbers exist (README "Authorizations").
ALTER TABLE authorizations DROP CONSTRAINT IF EXISTS authorizations_subject_key_fkey;

ALTER TABLE authorizations
    ADD COLUMN state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'effective', 'refused', 'revoked', 'disputed')),
    -- how the agreement was shown: self_service (granted by the subject), subject_confirmed,
    -- e_signature, paper_check, exempt (a state organ's purpose exempt by configuration)
    ADD COLUMN effective_basis text
        CHECK (effective_basis IN ('self_service', 'subject_confirmed', 'e_signature',
                                   'paper_check', 'exempt')),
    ADD COLUMN effective_at timestamptz,
    ADD COLUMN grantee_role text CHECK (grantee_role IN ('credit_service', 'state_organ')),
    ADD COLUMN document_id uuid UNIQUE REFERENCES authorization_documents (id),
    ADD COLUMN signature_check jsonb,
    ADD COLUMN paper_recorded_by text,
    ADD COLUMN paper_recorded_by_name text,
    ADD COLUMN paper_recorded_at timestamptz,
    ADD COLUMN paper_note text,
    ADD COLUMN paper_confirmed_by text,
    ADD COLUMN paper_confirmed_by_name text,
    ADD COLUMN paper_confirmed_at timestamptz,
    ADD COLUMN refused_at timestamptz,
    ADD COLUMN refuse_reason text,
    ADD COLUMN disputed_at timestamptz,
    ADD COLUMN uses_notified_until bigint NOT NULL DEFAULT 0,  -- query_log id of the last use told
    ADD CONSTRAINT authorizations_effective_basis
        CHECK ((state = 'effective') <= (effective_basis IS NOT NULL AND effective_at IS NOT NULL)),
    ADD CONSTRAINT authorizations_paper_two_people
        CHECK (paper_confirmed_by IS NULL OR paper_confirmed_by IS DISTINCT FROM paper_recorded_by);

-- Existing rows: effective only when the subject granted it itself; every registration by a
-- grantee waits for the subject's confirmation, a signature or the paper check (README). An
-- exempt purpose of a state organ is applied at start-up from the configuration.
UPDATE authorizations SET
    state = CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
                 WHEN evidence_kind = 'self_service' THEN 'effective'
                 ELSE 'pending' END,
    effective_basis = CASE WHEN revoked_at IS NULL AND evidence_kind = 'self_service'
                           THEN 'self_service' END,
    effective_at = CASE WHEN revoked_at IS NULL AND evidence_kind = 'self_service'
                        THEN granted_at END;
-- Who registered it, from the trail's grant act (state organ or credit agency).
UPDATE authorizations a SET grantee_role = CASE WHEN 'state_organ' = ANY (q.roles) AND NOT 'credit_service' = ANY (q.roles)
                                               THEN 'state_organ' ELSE 'credit_service' END
FROM query_log q
WHERE a.evidence_kind = 'signed_document' AND q.kind = 'authorization'
  AND q.operation = 'authorization.grant' AND q.details ->> 'authorization' = a.id::text;

CREATE INDEX authorizations_grantee_idx ON authorizations (grantee_org, granted_at, id);
CREATE INDEX authorizations_pending_idx ON authorizations (granted_at) WHERE state = 'pending';
CREATE INDEX authorizations_subject_state_idx ON authorizations (subject_key, granted_at);

-- A dispute ("I did not sign this"): a case for the credit office, kept apart from the Art. 37-40
-- record cases (it is about an authorization, not a record).
CREATE TABLE authorization_disputes (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    authorization_id uuid NOT NULL REFERENCES authorizations (id),
    subject_key      text NOT NULL,
    statement        text,
    opened_at        timestamptz NOT NULL,
    opened_by        text NOT NULL,
    closed_at        timestamptz,
    closed_by        text,
    closed_by_name   text,
    finding          text CHECK (finding IN ('forged', 'signed', 'undetermined')),
    note             text,
    CHECK ((closed_at IS NULL) = (finding IS NULL))
);
CREATE UNIQUE INDEX authorization_disputes_open_idx
    ON authorization_disputes (authorization_id) WHERE closed_at IS NULL;

GRANT SELECT, INSERT, UPDATE ON authorization_documents, authorization_disputes TO credit_app;
