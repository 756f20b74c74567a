"""The public credit information catalog (公共信用信息资源目录, Art. 9, 10), held in memory: every
lookup and submission needs it, and it changes only when a year's catalog is published.

Catalogs have a year. The catalog in force on a date is the newest published catalog whose
year is not after that date's year; a date before the first published catalog is governed by
the first one (it is the founding catalog that back-collection of older decisions follows)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import asyncpg

from .disclosure.masking import MaskSpec
from .publicity import SeverityPolicy

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
# Art. 13: 双公示 — administrative licensing and penalty decisions.
DOUBLE_PUBLICITY_CATEGORIES = ("licensing", "penalty")
DISCLOSURE_CLASSES = ("public", "shared", "authorized")
FIELD_TYPES = ("string", "date", "amount", "code", "integer")
# Sensitivity tags of a field. id_number: an identity document number, masked for most
# viewers. person_name: a natural person's name whatever the subject (法定代表人), masked like
# Subject.name. subject_name: the subject's own name (行政相对人名称), masked when the subject is a
# natural person. free_text: prose in which identity numbers, 15-digit legacy ones too, are
# found and masked (api/disclosure/masking.py). personal: personal data, no special rule yet.
# consent_only: Art. 11 data collected only with the subject's written consent. forbidden:
# Art. 11 data never collected; a catalog names such a field only so that a record carrying
# it is recognised and refused whole.
SENSITIVITIES = (
    "id_number", "person_name", "subject_name", "free_text", "personal", "consent_only", "forbidden",
)
COLLECTION_PATHS = ("system_integration", "provider_account")  # Art. 14
UPDATE_CYCLES = ("realtime", "daily", "weekly", "monthly", "quarterly", "yearly", "on_decision")
SHARING_METHODS = ("interface", "database", "file")
LIST_MEANINGS = ("none", "red", "black")
CHINA_TIME = dt.timezone(dt.timedelta(hours=8), "CST")
REFRESH_SECONDS = 300  # how stale a process's catalog may get before get() checks the database


def china_today() -> dt.date:
    return dt.datetime.now(CHINA_TIME).date()


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: str
    type: str = "string"
    required: bool = False
    sensitivity: str | None = None
    codes: tuple[str, ...] = ()  # allowed values when type == "code"


@dataclass(frozen=True)
class CatalogItem:
    code: str
    name: str
    category: str
    disclosure: str  # the sharing attribute (共享属性) of Art. 9, as a disclosure class
    provider_org: str
    provider_name: str
    dishonest: bool
    list_meaning: str
    publicity_months: int | None
    fields: tuple[FieldDef, ...]
    year: int = 0
    collection_scope: str = ""
    collection_paths: tuple[str, ...] = COLLECTION_PATHS
    update_cycle: str = "on_decision"
    sharing_method: str = "interface"
    deadline_working_days: int | None = None
    decision_field: str | None = None  # the data field that repeats the decision date
    severity: SeverityPolicy | None = None  # penalty publicity and repair wait by severity
    _by_name: dict[str, FieldDef] = field(init=False, compare=False, repr=False)
    required_fields: tuple[FieldDef, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})
        object.__setattr__(self, "required_fields", tuple(f for f in self.fields if f.required))

    def field(self, name: str) -> FieldDef | None:
        return self._by_name.get(name)

    @property
    def fields_by_name(self) -> dict[str, FieldDef]:
        return self._by_name

    @property
    def mask_spec(self) -> MaskSpec:
        """What to mask in this item's data for viewers who may not see identity numbers."""
        spec = self.__dict__.get("_mask_spec")
        if spec is None:
            spec = MaskSpec.of({f.name: f.sensitivity for f in self.fields})
            object.__setattr__(self, "_mask_spec", spec)
        return spec

    @property
    def double_publicity(self) -> bool:
        return self.category in DOUBLE_PUBLICITY_CATEGORIES


@dataclass(frozen=True)
class CatalogYear:
    year: int
    status: str  # draft | published
    published_at: dt.datetime | None
    published_by: str | None
    note: str | None


SELECT_ENTRIES = """
SELECT e.year, e.code, e.name, e.category, e.disclosure, e.provider_org, o.name AS provider_name,
       e.collection_scope, e.collection_paths, e.update_cycle, e.sharing_method, e.dishonest,
       e.list_meaning, e.publicity_months, e.deadline_working_days, e.decision_field, e.fields,
       e.severity
FROM catalog_entries e JOIN organisations o ON o.code = e.provider_org
WHERE e.year = ANY($1::int[])
ORDER BY e.year, e.code
"""
SELECT_YEARS = """
SELECT year, status, published_at, published_by, note FROM catalogs ORDER BY year
"""
PUBLISHED_STAMP = "SELECT count(*), max(published_at) FROM catalogs WHERE status = 'published'"


def field_from_dict(f: dict) -> FieldDef:
    return FieldDef(
        name=f["name"],
        label=f.get("label") or f["name"],
        type=f.get("type", "string"),
        required=bool(f.get("required", False)),
        sensitivity=f.get("sensitivity"),
        codes=tuple(str(c) for c in f.get("codes", ())),
    )


def field_to_dict(f: FieldDef) -> dict:
    out: dict = {"name": f.name, "label": f.label, "type": f.type, "required": f.required}
    if f.sensitivity:
        out["sensitivity"] = f.sensitivity
    if f.codes:
        out["codes"] = list(f.codes)
    return out


def item_from_row(row: asyncpg.Record | dict) -> CatalogItem:
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
        fields=tuple(field_from_dict(f) for f in row["fields"]),
        year=row["year"],
        collection_scope=row["collection_scope"],
        collection_paths=tuple(row["collection_paths"]),
        update_cycle=row["update_cycle"],
        sharing_method=row["sharing_method"],
        deadline_working_days=row["deadline_working_days"],
        decision_field=row["decision_field"],
        severity=SeverityPolicy.from_json(row.get("severity")),
    )


async def read_entries(conn: asyncpg.Connection, years: list[int]) -> list[CatalogItem]:
    return [item_from_row(r) for r in await conn.fetch(SELECT_ENTRIES, years)]


async def read_years(conn: asyncpg.Connection) -> list[CatalogYear]:
    return [CatalogYear(**dict(r)) for r in await conn.fetch(SELECT_YEARS)]


class Catalog:
    """The published catalogs, by year. Drafts are not held here: nothing is collected or
    disclosed under a draft."""

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool
        self._years: dict[int, dict[str, CatalogItem]] = {}
        self._stamp: tuple | None = None
        self._in_force: dict[int, int | None] = {}  # calendar year -> catalog year in force
        self._checked = 0.0  # monotonic time of the last look at the database

    @classmethod
    def of(cls, years: dict[int, list[CatalogItem]]) -> Catalog:
        """A catalog held without a database (pure tests, tools)."""
        catalog = cls(None)  # type: ignore[arg-type]
        catalog._years = {y: {i.code: i for i in items} for y, items in years.items()}
        catalog._in_force = {}
        return catalog

    async def reload(self, conn: asyncpg.Connection | None = None) -> None:
        if conn is None:
            async with self._pool.acquire() as c:
                await self._load(c)
        else:
            await self._load(conn)

    async def _load(self, conn: asyncpg.Connection) -> None:
        stamp = tuple(await conn.fetchrow(PUBLISHED_STAMP))
        published = [y.year for y in await read_years(conn) if y.status == "published"]
        years: dict[int, dict[str, CatalogItem]] = {y: {} for y in published}
        for item in await read_entries(conn, published):
            years[item.year][item.code] = item
        self._years, self._stamp, self._in_force = years, stamp, {}
        self._checked = time.monotonic()

    async def refresh(self, conn: asyncpg.Connection) -> None:
        """Reload if a catalog was published since the last load (by any process)."""
        if tuple(await conn.fetchrow(PUBLISHED_STAMP)) != self._stamp:
            await self._load(conn)
        self._checked = time.monotonic()

    @property
    def published_years(self) -> list[int]:
        return sorted(self._years)

    def year_in_force(self, on: dt.date | None = None) -> int | None:
        year = (on or china_today()).year
        found = self._in_force.get(year, -1)
        if found == -1:
            years = self.published_years
            earlier = [y for y in years if y <= year]
            found = earlier[-1] if earlier else years[0] if years else None
            self._in_force[year] = found
        return found

    def items_of(self, year: int) -> list[CatalogItem]:
        return sorted(self._years.get(year, {}).values(), key=lambda i: i.code)

    def item_for(self, code: str, on: dt.date) -> CatalogItem | None:
        """The item as the catalog in force on `on` defines it; None if that catalog has no
        such item (Art. 9: only catalog information is collected)."""
        year = self._in_force.get(on.year, -1)
        if year == -1:
            year = self.year_in_force(on)
        return None if year is None else self._years[year].get(code)

    def years_with(self, code: str) -> list[int]:
        return [y for y in self.published_years if code in self._years[y]]

    def current(self, code: str) -> CatalogItem | None:
        year = self.year_in_force()
        item = self._years[year].get(code) if year is not None else None
        if item is None:  # withdrawn since, or not yet in force: its newest definition
            years = self.years_with(code)
            item = self._years[years[-1]][code] if years else None
        return item

    async def get(self, code: str, conn: asyncpg.Connection | None = None) -> CatalogItem | None:
        """The item as the catalog in force today defines it (or, for an item no longer in the
        catalog, its last definition: its records still exist). Reloads once on a miss: another
        process may have published it."""
        if conn is not None and time.monotonic() - self._checked > REFRESH_SECONDS:
            await self.refresh(conn)  # another process may have published since
        item = self.current(code)
        if item is None:
            await self.reload(conn)
            item = self.current(code)
        return item

    def items(self) -> list[CatalogItem]:
        year = self.year_in_force()
        return [] if year is None else self.items_of(year)
