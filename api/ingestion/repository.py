"""SQL of collection: a batch is copied into a temporary staging table and merged set-wise into
records and record_versions. Repositories never commit; the service owns the transaction."""

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
UPSERT_SUBJECTS = """
INSERT INTO subjects (key, key_type, subject_type, name)
SELECT DISTINCT ON (subject_key) subject_key, key_type, subject_type, subject_name
FROM ingest_stage ORDER BY subject_key, idx
ON CONFLICT (key) DO NOTHING
"""
# Only rows that are not plainly new come back: existing references and subject-type clashes.
CLASSIFY = """
SELECT s.idx, sub.subject_type AS known_type, r.id, r.version, r.status,
       r.subject_key <> s.subject_key OR r.item_code <> s.item_code AS identity_changed,
       r.decided_on = s.decided_on AND r.data = s.data::jsonb
           AND r.consent_ref IS NOT DISTINCT FROM s.consent_ref AS same
FROM ingest_stage s
JOIN subjects sub ON sub.key = s.subject_key
LEFT JOIN records r ON r.provider_org = $1 AND r.source_ref = s.source_ref
WHERE r.id IS NOT NULL OR sub.subject_type <> s.subject_type
"""
INSERT_NEW = """
WITH ins AS (
    INSERT INTO records (subject_key, subject_name, item_code, provider_org, source_ref,
        decided_on, data, submitted_by, consent_ref, catalog_year, channel, received_on, due_on,
        due_provisional, late)
    SELECT s.subject_key, s.subject_name, s.item_code, $1, s.source_ref, s.decided_on,
        s.data::jsonb, $2, s.consent_ref, s.catalog_year, $3, $4, s.due_on,
        coalesce(s.due_provisional, false), s.late
    FROM ingest_stage s
    WHERE $5::int[] IS NULL OR s.idx = ANY($5::int[])
    ORDER BY s.source_ref
    ON CONFLICT (provider_org, source_ref) DO NOTHING
    RETURNING id, subject_key, subject_name, item_code, source_ref, decided_on, data, consent_ref,
        catalog_year
), versions AS (
    INSERT INTO record_versions (record_id, version, subject_key, subject_name, item_code,
        decided_on, data, consent_ref, catalog_year, submitted_by, submitted_by_name, channel,
        request_id)
    SELECT id, 1, subject_key, subject_name, item_code, decided_on, data, consent_ref,
        catalog_year, $2, $6, $3, $7 FROM ins
)
SELECT source_ref, id FROM ins
"""
UPDATE_CHANGED = """
WITH wanted AS (
    SELECT * FROM unnest($4::int[], $5::uuid[], $6::int[]) AS w(idx, id, expected)
), upd AS (
    UPDATE records r
    SET decided_on = s.decided_on, data = s.data::jsonb, consent_ref = s.consent_ref,
        subject_name = s.subject_name,
        catalog_year = s.catalog_year, version = r.version + 1, updated_at = now(),
        updated_by = $1, due_on = s.due_on, due_provisional = coalesce(s.due_provisional, false),
        late = CASE WHEN s.due_on IS NULL OR r.received_on IS NULL THEN NULL
                    ELSE r.received_on > s.due_on END
    FROM wanted w JOIN ingest_stage s ON s.idx = w.idx
    WHERE r.id = w.id AND r.version = w.expected
    RETURNING r.id, r.version, r.subject_key, r.subject_name, r.item_code, r.decided_on, r.data,
        r.consent_ref, r.catalog_year, s.reason, s.idx, r.late, r.due_on, r.due_provisional
), versions AS (
    INSERT INTO record_versions (record_id, version, subject_key, subject_name, item_code,
        decided_on, data, consent_ref, catalog_year, reason, submitted_by, submitted_by_name,
        channel, request_id)
    SELECT id, version, subject_key, subject_name, item_code, decided_on, data, consent_ref,
        catalog_year, reason, $1, $2, $3, $7 FROM upd
)
SELECT idx, id, version, late, due_on, due_provisional FROM upd
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
    request_id: str | None,
) -> dict[str, str]:
    """source_ref -> new record id, for the staged rows at `indexes` (None: all staged rows)."""
    rows = await conn.fetch(
        INSERT_NEW, provider_org, user_id, channel, received_on, indexes, user_name, request_id
    )
    return {r["source_ref"]: str(r["id"]) for r in rows}


async def update_changed(
    conn: asyncpg.Connection,
    *,
    user_id: str,
    user_name: str | None,
    channel: str,
    changes: list[tuple[int, str, int]],
    request_id: str | None,
) -> list[asyncpg.Record]:
    """New versions of stored records: (stage index, record id, version expected) each."""
    idx, ids, expected = zip(*changes, strict=True)
    return await conn.fetch(
        UPDATE_CHANGED, user_id, user_name, channel, list(idx), list(ids), list(expected), request_id
    )
