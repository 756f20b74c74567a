"""SQL of the measures registry."""

from __future__ import annotations

import asyncpg

COLUMNS = ("code", "name", "kind", "clause", "legal_basis", "originating_org", "originating_name",
           "implementing_bodies", "target_lists", "target_providers", "scenarios", "valid_from",
           "valid_until", "updated_by")
# A change keeps the version it replaces, as it was, in measure_versions (same statement).
PUT = f"""
WITH old AS (
    INSERT INTO measure_versions SELECT * FROM measures WHERE code = $1 RETURNING version
)
INSERT INTO measures (version, {", ".join(COLUMNS)})
VALUES (coalesce((SELECT version FROM old), 0) + 1, {", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))})
ON CONFLICT (code) DO UPDATE SET version = measures.version + 1, updated_at = now(),
    {", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c != "code")}
RETURNING *
"""
LIST = """
SELECT * FROM measures
WHERE ($1::text IS NULL OR $1 = ANY(scenarios)) AND ($2::text IS NULL OR kind = $2)
  AND ($3::date IS NULL OR (valid_from <= $3 AND (valid_until IS NULL OR valid_until >= $3)))
ORDER BY kind, code
"""
VERSIONS = "SELECT * FROM measure_versions WHERE code = $1 ORDER BY version"


async def put(conn: asyncpg.Connection, values: dict) -> asyncpg.Record:
    return await conn.fetchrow(PUT, *(values[c] for c in COLUMNS))


async def listing(conn, scenario: str | None, kind: str | None, on) -> list[asyncpg.Record]:
    return await conn.fetch(LIST, scenario, kind, on)


async def versions(conn, code: str) -> list[asyncpg.Record]:
    return await conn.fetch(VERSIONS, code)
