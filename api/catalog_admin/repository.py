"""SQL for catalogs by year. Repositories never commit: the service owns the transaction."""

from __future__ import annotations

import asyncpg

from ..catalog import CatalogItem, CatalogYear, read_entries
from .definition import ItemDefinition, Provider

UPSERT_PROVIDER = """
INSERT INTO organisations (code, name, division_code) VALUES ($1, $2, $3)
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,
    division_code = COALESCE(EXCLUDED.division_code, organisations.division_code)
"""
MISSING_ORGS = """
SELECT c FROM unnest($1::text[]) AS c WHERE NOT EXISTS (SELECT 1 FROM organisations WHERE code = c)
"""
YEAR = "SELECT year, status, published_at, published_by, note FROM catalogs WHERE year = $1"
YEAR_FOR_UPDATE = YEAR + " FOR UPDATE"
CREATE_DRAFT = "INSERT INTO catalogs (year, note, created_by) VALUES ($1, $2, $3)"
CLEAR_ENTRIES = "DELETE FROM catalog_entries WHERE year = $1"
DELETE_ENTRY = "DELETE FROM catalog_entries WHERE year = $1 AND code = $2"
UPSERT_ENTRY = """
INSERT INTO catalog_entries (year, code, name, category, disclosure, provider_org,
    collection_scope, collection_paths, update_cycle, sharing_method, dishonest, list_meaning,
    publicity_months, deadline_working_days, decision_field, fields, severity)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (year, code) DO UPDATE SET name = EXCLUDED.name, category = EXCLUDED.category,
    disclosure = EXCLUDED.disclosure, provider_org = EXCLUDED.provider_org,
    collection_scope = EXCLUDED.collection_scope, collection_paths = EXCLUDED.collection_paths,
    update_cycle = EXCLUDED.update_cycle, sharing_method = EXCLUDED.sharing_method,
    dishonest = EXCLUDED.dishonest, list_meaning = EXCLUDED.list_meaning,
    publicity_months = EXCLUDED.publicity_months,
    deadline_working_days = EXCLUDED.deadline_working_days,
    decision_field = EXCLUDED.decision_field, fields = EXCLUDED.fields,
    severity = EXCLUDED.severity
"""
COPY_ENTRIES = """
INSERT INTO catalog_entries (year, code, name, category, disclosure, provider_org,
    collection_scope, collection_paths, update_cycle, sharing_method, dishonest, list_meaning,
    publicity_months, deadline_working_days, decision_field, fields, severity)
SELECT $2, code, name, category, disclosure, provider_org, collection_scope, collection_paths,
    update_cycle, sharing_method, dishonest, list_meaning, publicity_months,
    deadline_working_days, decision_field, fields, severity
FROM catalog_entries WHERE year = $1
"""
PUBLISH = """
UPDATE catalogs SET status = 'published', published_at = now(), published_by = $2
WHERE year = $1 AND status = 'draft'
"""
# catalog_items is the registry of codes that records reference; its definition columns hold
# the newest published definition (the Catalog class reads catalog_entries).
REGISTER_ITEMS = """
INSERT INTO catalog_items (code, name, category, disclosure, provider_org, dishonest,
    list_meaning, publicity_months, fields)
SELECT code, name, category, disclosure, provider_org, dishonest, list_meaning,
    publicity_months, fields
FROM catalog_entries WHERE year = $1
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, category = EXCLUDED.category,
    disclosure = EXCLUDED.disclosure, provider_org = EXCLUDED.provider_org,
    dishonest = EXCLUDED.dishonest, list_meaning = EXCLUDED.list_meaning,
    publicity_months = EXCLUDED.publicity_months, fields = EXCLUDED.fields
WHERE $1 >= (SELECT max(year) FROM catalogs WHERE status = 'published')
"""
PROVIDERS_OF = """
SELECT DISTINCT o.code, o.name, o.division_code FROM catalog_entries e
JOIN organisations o ON o.code = e.provider_org WHERE e.year = $1 ORDER BY o.code
"""


async def upsert_providers(conn: asyncpg.Connection, providers: list[Provider]) -> None:
    if providers:
        await conn.executemany(UPSERT_PROVIDER, [(p.code, p.name, p.division) for p in providers])


async def missing_organisations(conn: asyncpg.Connection, codes: list[str]) -> list[str]:
    return [r["c"] for r in await conn.fetch(MISSING_ORGS, codes)]


async def get_year(conn: asyncpg.Connection, year: int, *, lock: bool = False) -> CatalogYear | None:
    row = await conn.fetchrow(YEAR_FOR_UPDATE if lock else YEAR, year)
    return CatalogYear(**dict(row)) if row else None


async def create_draft(conn: asyncpg.Connection, year: int, note: str | None, by: str | None) -> None:
    await conn.execute(CREATE_DRAFT, year, note, by)


async def copy_entries(conn: asyncpg.Connection, from_year: int, to_year: int) -> None:
    await conn.execute(COPY_ENTRIES, from_year, to_year)


async def replace_entries(conn: asyncpg.Connection, year: int, items: list[ItemDefinition]) -> None:
    await conn.execute(CLEAR_ENTRIES, year)
    await conn.executemany(UPSERT_ENTRY, [i.row(year) for i in items])


async def put_entry(conn: asyncpg.Connection, year: int, item: ItemDefinition) -> None:
    await conn.execute(UPSERT_ENTRY, *item.row(year))


async def delete_entry(conn: asyncpg.Connection, year: int, code: str) -> bool:
    return (await conn.execute(DELETE_ENTRY, year, code)) != "DELETE 0"


async def publish(conn: asyncpg.Connection, year: int, by: str | None) -> None:
    await conn.execute(PUBLISH, year, by)
    await conn.execute(REGISTER_ITEMS, year)


async def entries(conn: asyncpg.Connection, year: int) -> list[CatalogItem]:
    return await read_entries(conn, [year])


async def providers_of(conn: asyncpg.Connection, year: int) -> list[Provider]:
    return [Provider(r["code"], r["name"], r["division_code"]) for r in await conn.fetch(PROVIDERS_OF, year)]
