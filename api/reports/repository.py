"""SQL of the credit reports."""

from __future__ import annotations

import datetime as dt

import asyncpg

NEXT_NUMBER = "SELECT nextval('credit_report_seq')"

LINE_META = """
SELECT r.id::text AS id, r.version, coalesce(o.name, r.provider_org) AS provider_name, r.updated_at,
       array_remove(array_append(
           (SELECT array_agg(v.reason ORDER BY v.version) FROM record_versions v
            WHERE v.record_id = r.id AND v.version > 1), r.version_reason), NULL) AS reasons
FROM records r LEFT JOIN organisations o ON o.code = r.provider_org
WHERE r.id = ANY($1::uuid[])
"""

# What "the subject's data" is for the check: every record of the subject, by identity,
# version and status (a correction, a deletion, a repair, a new record all change it).
RECORDS_STATE = """
SELECT coalesce(string_agg(id::text || ':' || version || ':' || status, ',' ORDER BY id), '')
FROM records WHERE subject_key = $1
"""

INSERT_REPORT = """
INSERT INTO credit_reports (number, subject_key, purpose, basis, requester_user, requester_name,
    requester_org, requester_org_name, requester_roles, issued_at, document, document_sha256,
    records_sha256, signature, key_id, record_count)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
"""

REPORT = """
SELECT rep.*, pdf.pdf IS NOT NULL AS has_pdf
FROM credit_reports rep LEFT JOIN credit_report_pdfs pdf USING (number)
WHERE rep.number = $1
"""

PDF = "SELECT pdf FROM credit_report_pdfs WHERE number = $1"
INSERT_PDF = "INSERT INTO credit_report_pdfs (number, pdf) VALUES ($1, $2) ON CONFLICT (number) DO NOTHING"

ABOUT_SUBJECT = """
SELECT number, issued_at, purpose, basis, requester_org, requester_org_name, record_count
FROM credit_reports
WHERE subject_key = $1 AND ($2::timestamptz IS NULL OR (issued_at, number) < ($2, $3::text))
ORDER BY issued_at DESC, number DESC LIMIT $4
"""
COUNT_ABOUT_SUBJECT = "SELECT count(*) FROM credit_reports WHERE subject_key = $1"


async def next_number(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(NEXT_NUMBER)


async def line_meta(conn: asyncpg.Connection, record_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(LINE_META, record_ids)


async def records_state(conn: asyncpg.Connection, subject_key: str) -> str:
    return await conn.fetchval(RECORDS_STATE, subject_key)


async def insert_report(conn: asyncpg.Connection, *values) -> None:
    await conn.execute(INSERT_REPORT, *values)


async def report(conn: asyncpg.Connection, number: str) -> asyncpg.Record | None:
    return await conn.fetchrow(REPORT, number)


async def pdf(conn: asyncpg.Connection, number: str) -> bytes | None:
    return await conn.fetchval(PDF, number)


async def insert_pdf(conn: asyncpg.Connection, number: str, pdf_bytes: bytes) -> None:
    await conn.execute(INSERT_PDF, number, pdf_bytes)


async def about_subject(
    conn: asyncpg.Connection, subject_key: str, after: tuple[dt.datetime | None, object], limit: int
) -> list[asyncpg.Record]:
    """Reports on the subject, newest first, after the keyset position (issued_at, number)."""
    return await conn.fetch(ABOUT_SUBJECT, subject_key, *after, limit)


async def count_about_subject(conn: asyncpg.Connection, subject_key: str) -> int:
    return await conn.fetchval(COUNT_ABOUT_SUBJECT, subject_key)
