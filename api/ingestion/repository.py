"""SQL of collection: a batch is copied into a temporary staging table and merged set-wise into
records (the current versions) and record_versions (the superseded ones). Repositories never
commit; the service owns the transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

STAGE_COLUMNS = (
    "idx", "subject_key", "key_type", "subject_type", "subject_name", "item_code", "source_ref",
    "decided_on", "data", "consent_ref", "reason", "catalog_year", "due_on", "due_provisional",
    "late",
)
CREATE_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS ingest_stage (
    idx integer, subject_key text, key_type text, subject_type text, subject_name text,
    item_code text, source_ref text, decided_on date, data text, consent_ref text, reason text,
    catalog_year integer, due_on date, due_provisional boolean, late boolean
) ON COMMIT DELETE ROWS
"""
CLEAR_STAGE = "DELETE FROM ingest_stage"
# Known subjects are left out before the insert: each row offered to subjects is signed by its
# trigger (migrations/0007) even when ON CONFLICT then drops it.
UPSERT_SUBJECTS = """
INSERT INTO subjects (key, key_type, subject_type, name)
SELECT DISTINCT ON (subject_key) subject_key, key_type, subject_type, subject_name
FROM ingest_stage s
WHERE NOT EXISTS (SELECT 1 FROM subjects k WHERE k.key = s.subject_key)
ORDER BY subject_key, idx
ON CONFLICT (key) DO NOTHING
"""
# Only rows that are not plainly new come back: existing references and subject-type clashes.
# Each row is looked up through the indexes (LATERAL ... LIMIT 1 keeps the planner from hashing
# the whole of records or subjects for every batch: the cost of a batch stays flat as they grow).
CLASSIFY = """
SELECT s.idx, sub.subject_type AS known_type, r.id, r.version, r.status,
       r.subject_key <> s.subject_key OR r.item_code <> s.item_code AS identity_changed,
       r.decided_on = s.decided_on AND r.data = s.data::jsonb
           AND r.consent_ref IS NOT DISTINCT FROM s.consent_ref AS same
FROM ingest_stage s
CROSS JOIN LATERAL (
    SELECT subject_type FROM subjects WHERE key = s.subject_key LIMIT 1
) sub
LEFT JOIN LATERAL (
    SELECT id, version, status, subject_key, item_code, decided_on, data, consent_ref
    FROM records WHERE provider_org = $1 AND source_ref = s.source_ref LIMIT 1
) r ON true
WHERE r.id IS NOT NULL OR sub.subject_type <> s.subject_type
"""
INSERT_NEW = """
INSERT INTO records (subject_key, subject_name, item_code, provider_org, source_ref, decided_on,
    data, submitted_by, version_by_name, consent_ref, catalog_year, channel, received_on, due_on,
    due_provisional, late)
SELECT s.subject_key, s.subject_name, s.item_code, $1, s.source_ref, s.decided_on, s.data::jsonb,
    $2, $6, s.consent_ref, s.catalog_year, $3, $4, s.due_on, coalesce(s.due_provisional, false),
    s.late
FROM ingest_stage s
WHERE $5::int[] IS NULL OR s.idx = ANY($5::int[])
ON CONFLICT (provider_org, source_ref) DO NOTHING
RETURNING source_ref, id
"""
# One statement: the version being replaced is copied into record_versions as it was (both
# parts read the same snapshot), then the records row becomes the new version.
UPDATE_CHANGED = """
WITH wanted AS (
    SELECT * FROM unnest($4::int[], $5::uuid[], $6::int[]) AS w(idx, id, expected)
), superseded AS (
    INSERT INTO record_versions (record_id, version, subject_key, subject_name, item_code,
        decided_on, data, consent_ref, catalog_year, reason, submitted_by, submitted_by_name,
        submitted_at, channel)
    SELECT r.id, r.version, r.subject_key, r.subject_name, r.item_code, r.decided_on, r.data,
        r.consent_ref, r.catalog_year, r.version_reason, coalesce(r.updated_by, r.submitted_by),
        r.version_by_name, coalesce(r.updated_at, r.submitted_at), coalesce(r.channel, 'legacy')
    FROM records r JOIN wanted w ON r.id = w.id AND r.version = w.expected
)
UPDATE records r
SET decided_on = s.decided_on, data = s.data::jsonb, consent_ref = s.consent_ref,
    subject_name = s.subject_name, catalog_year = s.catalog_year, version = r.version + 1,
    version_reason = s.reason, version_by_name = $2, channel = $3, updated_at = now(),
    updated_by = $1, due_on = s.due_on, due_provisional = coalesce(s.due_provisional, false),
    late = CASE WHEN s.due_on IS NULL OR r.received_on IS NULL THEN NULL
                ELSE r.received_on > s.due_on END
FROM wanted w JOIN ingest_stage s ON s.idx = w.idx
WHERE r.id = w.id AND r.version = w.expected
RETURNING s.idx, r.id, r.version, r.late, r.due_on, r.due_provisional
"""


async def stage(conn: asyncpg.Connection, rows: list[tuple[Any, ...]], *, first: bool) -> None:
    if first:
        await conn.execute(CREATE_STAGE)
    else:
        await conn.execute(CLEAR_STAGE)
    await conn.copy_records_to_table("ingest_stage", records=rows, columns=STAGE_COLUMNS)


async def upsert_subjects(conn: asyncpg.Connection) -> None:
    await conn.execute(UPSERT_SUBJECTS)


async def classify(conn: asyncpg.Connection, provider_org: str) -> list[asyncpg.Record]:
    return await conn.fetch(CLASSIFY, provider_org)


async def insert_new(
    conn: asyncpg.Connection,
    *,
    provider_org: str,
    user_id: str,
    user_name: str | None,
    channel: str,
    received_on: dt.date,
    indexes: list[int] | None,
) -> dict[str, str]:
    """source_ref -> new record id, for the staged rows at `indexes` (None: all staged rows)."""
    rows = await conn.fetch(INSERT_NEW, provider_org, user_id, channel, received_on, indexes, user_name)
    return {r["source_ref"]: str(r["id"]) for r in rows}


async def update_changed(
    conn: asyncpg.Connection,
    *,
    user_id: str,
    user_name: str | None,
    channel: str,
    changes: list[tuple[int, str, int]],
) -> list[asyncpg.Record]:
    """New versions of stored records: (stage index, record id, version expected) each."""
    idx, ids, expected = zip(*changes, strict=True)
    return await conn.fetch(UPDATE_CHANGED, user_id, user_name, channel, list(idx), list(ids), list(expected))


STORED_DATA = "SELECT id, data FROM records WHERE id = ANY($1::uuid[])"


async def stored_data(conn: asyncpg.Connection, ids: list[str]) -> dict[str, Any]:
    """The stored content of these records, by id (a correction compared with it)."""
    return {str(r["id"]): r["data"] for r in await conn.fetch(STORED_DATA, ids)}
