"""Reads for disclosure: subjects with their records, and the authorizations a grantee holds.

A lookup reads both in one statement (`LOOKUP`, one round trip); the two separate reads remain
for the report service and the benchmarks."""

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

# One row per lookup: the transaction's time, then each subject found (none: one row of NULLs)
# with its records and the caller's usable authorizations as arrays of rows. The same
# conditions as SUBJECTS_WITH_RECORDS and GRANTEE_AUTHORIZATIONS; a NULL grantee or purpose
# matches no authorization. `data` comes as text: the jsonb codec does not reach into rows.
LOOKUP = """
SELECT t.now, s.key, s.key_type, s.subject_type, s.name, s.status,
  ARRAY(SELECT ROW(r.id, r.item_code, r.provider_org, r.decided_on, r.data::text, r.status,
                   (SELECT c.handlers FROM rights_cases c
                    WHERE c.record_id = r.id AND c.closed_at IS NULL))
        FROM records r WHERE r.subject_key = s.key AND r.status <> 'deleted'
        ORDER BY r.decided_on DESC, r.id) AS records,
  ARRAY(SELECT ROW(a.id, a.grantee_org, a.purpose, a.scope_items, a.scope_classes, a.valid_from,
                   a.valid_until, a.revoked_at)
        FROM authorizations a
        WHERE a.subject_key = s.key AND a.grantee_org = $2 AND a.purpose = $3
          AND a.revoked_at IS NULL AND a.valid_until > now() AND a.state = 'effective') AS auths
FROM (SELECT now() AS now) t
LEFT JOIN subjects s ON s.key = ANY($1::text[])
ORDER BY s.key
"""
# the fields of LOOKUP's record and authorization rows, in order
RECORD_FIELDS = ("id", "item_code", "provider_org", "decided_on", "data", "status", "case_handlers")
AUTH_FIELDS = ("id", "grantee_org", "purpose", "scope_items", "scope_classes", "valid_from",
               "valid_until", "revoked_at")


async def lookup(
    conn: asyncpg.Connection, keys: list[str], grantee_org: str | None, purpose: str | None
) -> list[asyncpg.Record]:
    """LOOKUP's rows: at least one (its `now`); `key` is NULL when no subject was found."""
    return await conn.fetch(LOOKUP, keys, grantee_org or None, purpose or None)


async def subjects_with_records(conn: asyncpg.Connection, keys: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(SUBJECTS_WITH_RECORDS, keys)


async def grantee_authorizations(
    conn: asyncpg.Connection, keys: list[str], grantee_org: str, purpose: str
) -> list[asyncpg.Record]:
    return await conn.fetch(GRANTEE_AUTHORIZATIONS, keys, grantee_org, purpose)
