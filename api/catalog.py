"""Catalog items (Art. 9, 10), held in memory: every lookup and submission needs them, and
they change only when a catalog is published."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

CATEGORIES = (
    "registration",
    "licensing",
    "penalty",
    "enforcement",
    "confirmation",
    "inspection",
    "levy",
    "reward",
    "payment",
    "default_judgment",
    "commendation",
    "volunteer",
    "donation",
    "other",
)
DISCLOSURE_CLASSES = ("public", "shared", "authorized")
FIELD_TYPES = ("string", "date", "amount", "code", "integer")


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: str
    type: str = "string"
    required: bool = False
    sensitivity: str | None = None  # e.g. "id_number": masked for most viewers
    codes: tuple[str, ...] = ()  # allowed values when type == "code"


@dataclass(frozen=True)
class CatalogItem:
    code: str
    name: str
    category: str
    disclosure: str
    provider_org: str
    provider_name: str
    dishonest: bool
    list_meaning: str
    publicity_months: int | None
    fields: tuple[FieldDef, ...]

    def field(self, name: str) -> FieldDef | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def masked_fields(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields if f.sensitivity == "id_number")


_SELECT_ITEMS = """
SELECT i.code, i.name, i.category, i.disclosure, i.provider_org, o.name AS provider_name,
       i.dishonest, i.list_meaning, i.publicity_months, i.fields
FROM catalog_items i JOIN organisations o ON o.code = i.provider_org
"""


def _item_from_row(row: asyncpg.Record) -> CatalogItem:
    fields = tuple(
        FieldDef(
            name=f["name"],
            label=f.get("label", f["name"]),
            type=f.get("type", "string"),
            required=bool(f.get("required", False)),
            sensitivity=f.get("sensitivity"),
            codes=tuple(f.get("codes", ())),
        )
        for f in row["fields"]
    )
    return CatalogItem(
        code=row["code"],
        name=row["name"],
        category=row["category"],
        disclosure=row["disclosure"],
        provider_org=row["provider_org"],
        provider_name=row["provider_name"],
        dishonest=row["dishonest"],
        list_meaning=row["list_meaning"],
        publicity_months=row["publicity_months"],
        fields=fields,
    )


class Catalog:
    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool
        self._items: dict[str, CatalogItem] = {}

    async def reload(self, conn: asyncpg.Connection | None = None) -> None:
        if conn is None:
            async with self._pool.acquire() as c:
                rows = await c.fetch(_SELECT_ITEMS)
        else:
            rows = await conn.fetch(_SELECT_ITEMS)
        self._items = {r["code"]: _item_from_row(r) for r in rows}

    async def get(self, code: str, conn: asyncpg.Connection | None = None) -> CatalogItem | None:
        """The item, reloading once on a miss (another process may have published it)."""
        item = self._items.get(code)
        if item is None:
            await self.reload(conn)
            item = self._items.get(code)
        return item

    def items(self) -> list[CatalogItem]:
        return sorted(self._items.values(), key=lambda i: i.code)
