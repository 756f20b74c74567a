"""Reads for disclosure: subjects with their records, and the authorizations a grantee holds."""

from __future__ import annotations

import asyncpg

SUBJECTS_WITH_RECORDS = """
SELECT now() AS now, s.key, s.key_type, s.subject_type, s.name, s.status,
       r.id AS record_id, r.item_code, r.provider_org, r.decided_on, r.data, r.status AS record_status,
       (SELECT c.handlers FROM rights_cases c
        WHERE c.record_id = r.id AND c.closed_at IS NULL) AS case_handlers
FROM subjects s
LEFT JOIN records r ON r.subject_key = s.key AND r.status <> 'deleted'
WHERE s.key = ANY($1::text[])
ORDER BY s.key, r.decided_on DESC, r.id
"""

GRANTEE_AUTHORIZATIONS = """
SELECT id, subject_key, grantee_org, purpose, scope_items, scope_classes, valid_from,
       valid_until, revoked_at
FROM authorizations
WHERE subject_key = ANY($1::text[]) AND grantee_org = $2 AND purpose = $3
  AND revoked_at IS NULL AND valid_until > now()
  AND state = 'effective'
"""


async def subjects_with_records(conn: asyncpg.Connection, keys: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(SUBJECTS_WITH_RECORDS, keys)


async def grantee_authorizations(
    conn: asyncpg.Connection, keys: list[str], grantee_org: str, purpose: str
) -> list[asyncpg.Record]:
    return await conn.fetch(GRANTEE_AUTHORIZATIONS, keys, grantee_org, purpose)
