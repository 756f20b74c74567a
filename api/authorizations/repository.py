"""SQL of the authorization flow. Functions take an open connection; the services commit."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import asyncpg

INSERT = """
INSERT INTO authorizations (subject_key, grantee_org, purpose, scope_items, scope_classes,
    valid_from, valid_until, evidence_kind, evidence_digest, evidence_ref, granted_by,
    granted_by_name, grantee_role, document_id, signature_check, state, effective_basis,
    effective_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::text::jsonb, $16, $17,
    CASE WHEN $16 = 'effective' THEN now() END)
RETURNING *
"""
LOCK = "SELECT * FROM authorizations WHERE id = $1 FOR UPDATE"
MAKE_EFFECTIVE = """
UPDATE authorizations SET state = 'effective', effective_basis = $2, effective_at = now()
WHERE id = $1 AND state = 'pending' RETURNING *
"""
REFUSE = """
UPDATE authorizations SET state = 'refused', refused_at = now(), refuse_reason = $2
WHERE id = $1 AND state = 'pending' RETURNING *
"""
REVOKE = """
UPDATE authorizations SET state = 'revoked', revoked_at = now(), revoked_by = $2, revoke_reason = $3
WHERE id = $1 AND state IN ('pending', 'effective') RETURNING *
"""
DISPUTE = """
UPDATE authorizations SET state = 'disputed', disputed_at = now()
WHERE id = $1 AND state IN ('pending', 'effective') RETURNING *
"""
PAPER_RECORD = """
UPDATE authorizations SET paper_recorded_by = $2, paper_recorded_by_name = $3,
    paper_recorded_at = now(), paper_note = $4
WHERE id = $1 AND state = 'pending' RETURNING *
"""
PAPER_CONFIRM = """
UPDATE authorizations SET paper_confirmed_by = $2, paper_confirmed_by_name = $3,
    paper_confirmed_at = now(), state = 'effective', effective_basis = 'paper_check',
    effective_at = now()
WHERE id = $1 AND state = 'pending' AND paper_recorded_by IS NOT NULL RETURNING *
"""
OPEN_DISPUTE = """
INSERT INTO authorization_disputes (authorization_id, subject_key, statement, opened_at, opened_by)
VALUES ($1, $2, $3, now(), $4) RETURNING *
"""
CLOSE_DISPUTE = """
UPDATE authorization_disputes SET closed_at = now(), closed_by = $2, closed_by_name = $3,
    finding = $4, note = $5
WHERE id = $1 AND closed_at IS NULL RETURNING *
"""
DOCUMENT_FOR_GRANT = """
SELECT d.id, d.sha256, d.media_type, d.uploaded_org, d.content,
       EXISTS (SELECT 1 FROM authorizations a WHERE a.document_id = d.id) AS attached
FROM authorization_documents d WHERE d.id = $1
"""
# The uses of an authorization: the query-log rows whose decision used it (authorization_ids),
# newest first; looked up through the subject's index.
USES = """
SELECT q.id, q.at, q.org_code, q.org_name, q.purpose, q.operation, q.disclosed, q.authorization_ids
FROM query_log q
WHERE q.subject_key = $1 AND q.kind = 'query' AND q.authorization_ids && $2::uuid[]
  AND q.operation NOT LIKE 'authorization.%'
ORDER BY q.id DESC LIMIT $3
"""
GRANTEE_PAGE = """
SELECT * FROM authorizations
WHERE grantee_org = $1 AND ($2::text IS NULL OR state = $2)
  AND ($3::timestamptz IS NULL OR (granted_at, id) < ($3, $4::uuid))
ORDER BY granted_at DESC, id DESC LIMIT $5
"""
OF_SUBJECT = "SELECT * FROM authorizations WHERE subject_key = $1 ORDER BY granted_at DESC, id DESC LIMIT $2"


async def lock(conn: asyncpg.Connection, authorization_id: str) -> asyncpg.Record | None:
    try:
        return await conn.fetchrow(LOCK, uuid.UUID(authorization_id))
    except ValueError:
        return None


async def document_for_grant(conn, document_id: str) -> asyncpg.Record | None:
    try:
        return await conn.fetchrow(DOCUMENT_FOR_GRANT, uuid.UUID(document_id))
    except ValueError:
        return None


async def insert(conn, **v) -> asyncpg.Record:
    return await conn.fetchrow(
        INSERT, v["subject_key"], v["grantee_org"], v["purpose"], v["scope_items"],
        v["scope_classes"], v["valid_from"], v["valid_until"], v["evidence_kind"],
        v["evidence_digest"], v["evidence_ref"], v["granted_by"], v["granted_by_name"],
        v["grantee_role"], v["document_id"],
        json.dumps(v["signature_check"], ensure_ascii=False) if v["signature_check"] else None,
        v["state"], v["effective_basis"],
    )


async def uses(conn, subject_key: str, ids: list[uuid.UUID], limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(USES, subject_key, ids, limit)


async def grantee_page(
    conn, org: str, state: str | None, after: tuple[dt.datetime, str] | None, limit: int
) -> list[asyncpg.Record]:
    at, aid = after if after else (None, None)
    return await conn.fetch(GRANTEE_PAGE, org, state, at, aid, limit)


async def of_subject(conn, subject_key: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(OF_SUBJECT, subject_key, limit)
