"""SQL of credit checks and their feedback."""

from __future__ import annotations

import asyncpg

INSERT = """
INSERT INTO credit_checks (at, org_code, org_name, user_id, scenario, subject_key, entries, measures, feedback_due)
VALUES ($1, $2, $3, $4, $5, $6, $7::uuid[], $8, $9)
RETURNING id::text
"""
FOR_FEEDBACK = "SELECT * FROM credit_checks WHERE id = $1 FOR UPDATE"
FEEDBACK = "UPDATE credit_checks SET feedback_at = $2, feedback_by = $3, applied = $4 WHERE id = $1"
OF_SUBJECT = """
SELECT c.id::text AS id, c.at, c.org_code, c.org_name, c.scenario, c.measures, c.feedback_at, c.applied
FROM credit_checks c
WHERE c.subject_key = $1 AND ($2::timestamptz IS NULL OR (c.at, c.id) < ($2, $3::uuid))
ORDER BY c.at DESC, c.id DESC LIMIT $4
"""
COUNT_OF_SUBJECT = "SELECT count(*) FROM credit_checks WHERE subject_key = $1"
OVERDUE = """
SELECT id::text AS id, at, org_code, org_name, scenario, subject_key, feedback_due
FROM credit_checks WHERE feedback_at IS NULL AND feedback_due < $1 AND ($2::text IS NULL OR org_code = $2)
ORDER BY feedback_due, id LIMIT 1000
"""
# Art. 8, 15: use of credit information per department, scenario and measure.
STATS = """
SELECT c.org_code, max(c.org_name) AS org_name, c.scenario,
       count(*) AS checks,
       count(*) FILTER (WHERE cardinality(c.entries) > 0) AS with_entries,
       count(*) FILTER (WHERE c.feedback_at IS NOT NULL) AS with_feedback,
       count(*) FILTER (WHERE c.feedback_at IS NULL AND c.feedback_due < $3) AS feedback_overdue
FROM credit_checks c WHERE c.at >= $1 AND c.at < $2
GROUP BY c.org_code, c.scenario ORDER BY c.org_code, c.scenario
"""
MEASURE_STATS = """
SELECT a->>'measure' AS measure, c.scenario,
       count(*) FILTER (WHERE (a->>'applied')::boolean) AS applied,
       count(*) FILTER (WHERE NOT (a->>'applied')::boolean) AS not_applied
FROM credit_checks c, jsonb_array_elements(c.applied) a
WHERE c.at >= $1 AND c.at < $2 AND c.applied IS NOT NULL
GROUP BY 1, 2 ORDER BY 1, 2
"""


async def insert(conn, *values) -> str:
    return await conn.fetchval(INSERT, *values)


async def for_feedback(conn, check_id) -> asyncpg.Record | None:
    return await conn.fetchrow(FOR_FEEDBACK, check_id)


async def feedback(conn, check_id, at, by, applied) -> None:
    await conn.execute(FEEDBACK, check_id, at, by, applied)


async def of_subject(conn, key: str, after: tuple, limit: int) -> list[asyncpg.Record]:
    """The checks of a subject, newest first, after the keyset position (at, id)."""
    return await conn.fetch(OF_SUBJECT, key, *after, limit)


async def count_of_subject(conn, key: str) -> int:
    return await conn.fetchval(COUNT_OF_SUBJECT, key)


async def overdue(conn, today, org: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(OVERDUE, today, org)


async def stats(conn, since, until, today) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    return await conn.fetch(STATS, since, until, today), await conn.fetch(MEASURE_STATS, since, until)
