"""SQL of list rules and entries."""

from __future__ import annotations

import asyncpg

INSERT_RULE = """
INSERT INTO list_rules (provider_org, kind, name, doc_number, criteria, listing_months, published_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (provider_org, doc_number) DO NOTHING
RETURNING *
"""
RULES = """
SELECT ru.*, o.name AS provider_name FROM list_rules ru JOIN organisations o ON o.code = ru.provider_org
WHERE ($1::text IS NULL OR ru.provider_org = $1) AND ($2::text IS NULL OR ru.kind = $2)
ORDER BY ru.published_at DESC, ru.id LIMIT 500
"""
RULE = "SELECT * FROM list_rules WHERE id = $1"
BASIS = """
SELECT r.id::text AS id, r.subject_key, r.provider_org, r.status, r.version, c.dishonest
FROM records r JOIN catalog_items c ON c.code = r.item_code
WHERE r.id = ANY($1::uuid[])
"""
INSERT_ENTRY = """
INSERT INTO list_entries (subject_key, kind, rule_id, provider_org, case_number, reason,
    basis_records, basis_versions, decided_on, listed_from, listed_until, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (provider_org, case_number) DO NOTHING
RETURNING id
"""
END_ENTRY = """
UPDATE list_entries SET state = $2, ended_on = $3, end_reason = $4
WHERE id = $1 AND provider_org = $5 AND state = 'listed'
RETURNING subject_key
"""
# Art. 37-38: an objection to the entry itself found it wrong (api/rights/entry_objections.py)
REMOVE_ENTRY = """
UPDATE list_entries SET state = 'removed', ended_on = $2, end_reason = $3
WHERE id = $1 AND state = 'listed'
RETURNING id
"""
ENTRY_FOR_UPDATE = "SELECT * FROM list_entries WHERE id = $1 FOR UPDATE"
# Entries with what decides their standing: each basis record's status and version now.
ENTRY_COLUMNS = """
SELECT e.id::text AS id, e.subject_key, s.name AS subject_name, s.subject_type, e.kind,
       e.rule_id::text AS rule_id, ru.name AS rule_name, ru.doc_number, e.provider_org,
       o.name AS provider_name, e.case_number, e.reason, e.decided_on, e.listed_from,
       e.listed_until, e.state, e.ended_on, e.end_reason, e.basis_versions,
       e.basis_records::text[] AS basis_records,
       EXISTS (SELECT 1 FROM rights_cases c WHERE c.entry_id = e.id AND c.closed_at IS NULL) AS disputed,
       (SELECT array_agg(r.status ORDER BY u.ord) FROM unnest(e.basis_records) WITH ORDINALITY u(id, ord)
        LEFT JOIN records r ON r.id = u.id) AS basis_status,
       (SELECT array_agg(r.version ORDER BY u.ord) FROM unnest(e.basis_records) WITH ORDINALITY u(id, ord)
        LEFT JOIN records r ON r.id = u.id) AS basis_version_now
FROM list_entries e
JOIN subjects s ON s.key = e.subject_key
JOIN list_rules ru ON ru.id = e.rule_id
JOIN organisations o ON o.code = e.provider_org
"""
OF_SUBJECTS = ENTRY_COLUMNS + "WHERE e.subject_key = ANY($1::text[]) ORDER BY e.listed_from DESC, e.id"
ENTRY = ENTRY_COLUMNS + "WHERE e.id = $1"
# The public list: newest first by (listed_from, id); search by a subject's key, or by the name
# of an organisation (natural persons are found by their full identity number only).
PAGE = ENTRY_COLUMNS + """
WHERE ($1::text IS NULL OR e.kind = $1)
  AND ($2::text IS NULL OR e.subject_key = $2
       OR (s.subject_type <> 'natural_person' AND strpos(s.name, $3) > 0))
  AND ($4::text IS NULL OR e.provider_org = $4)
  AND ($5::date IS NULL OR (e.listed_from, e.id) < ($5, $6::uuid))
ORDER BY e.listed_from DESC, e.id DESC
LIMIT $7
"""


async def insert_rule(conn, *values) -> asyncpg.Record | None:
    return await conn.fetchrow(INSERT_RULE, *values)


async def rules(conn, provider: str | None, kind: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(RULES, provider, kind)


async def rule(conn, rule_id) -> asyncpg.Record | None:
    return await conn.fetchrow(RULE, rule_id)


async def basis(conn, ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(BASIS, ids)


async def insert_entry(conn, *values):
    return await conn.fetchval(INSERT_ENTRY, *values)


async def end_entry(conn, entry_id, state, day, reason, provider):
    return await conn.fetchval(END_ENTRY, entry_id, state, day, reason, provider)


async def of_subjects(conn, keys: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(OF_SUBJECTS, keys)


async def entry(conn, entry_id) -> asyncpg.Record | None:
    return await conn.fetchrow(ENTRY, entry_id)


async def page(conn, kind, key, name, provider, after_from, after_id, limit) -> list[asyncpg.Record]:
    return await conn.fetch(PAGE, kind, key, name, provider, after_from, after_id, limit)


async def remove_entry(conn, entry_id, day, reason) -> bool:
    return await conn.fetchval(REMOVE_ENTRY, entry_id, day, reason) is not None


async def entry_for_update(conn, entry_id) -> asyncpg.Record | None:
    return await conn.fetchrow(ENTRY_FOR_UPDATE, entry_id)
