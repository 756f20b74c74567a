-- Art. 18, 36: credit reports issued by the platform. A report is kept as issued: its JSON
-- document exactly as signed (the digest printed on it is taken of these bytes), the platform's
-- Ed25519 signature, a digest of the subject's records at issue (so a public check can say
-- whether they changed since, without disclosing them), and the signed PDF rendered from it.
-- The application may read and add reports, never change or remove them.
CREATE SEQUENCE credit_report_seq AS bigint;

CREATE TABLE credit_reports (
    number          text PRIMARY KEY,
    subject_key     text NOT NULL REFERENCES subjects (key),
    purpose         text,
    basis           text NOT NULL CHECK (basis IN ('self', 'authorization', 'duty')),
    requester_user  text NOT NULL,
    requester_name  text,
    requester_org   text,
    requester_org_name text,
    requester_roles text[] NOT NULL,
    issued_at       timestamptz NOT NULL,
    document        bytea NOT NULL,
    document_sha256 bytea NOT NULL CHECK (length(document_sha256) = 32),
    records_sha256  bytea NOT NULL CHECK (length(records_sha256) = 32),
    signature       bytea NOT NULL,
    key_id          text NOT NULL,
    record_count    integer NOT NULL
);
CREATE INDEX credit_reports_subject_idx ON credit_reports (subject_key, issued_at DESC);

-- The PDF is derived from the document: rendered after the report is issued (outside the
-- issuing transaction, in a worker thread), stored once.
CREATE TABLE credit_report_pdfs (
    number   text PRIMARY KEY REFERENCES credit_reports (number),
    pdf      bytea NOT NULL,
    made_at  timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON credit_reports, credit_report_pdfs FROM credit_app;
GRANT SELECT, INSERT ON credit_reports, credit_report_pdfs TO credit_app;
GRANT USAGE ON SEQUENCE credit_report_seq TO credit_app;
