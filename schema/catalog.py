"""The catalog over GraphQL (Art. 9, 10): anyone reads a published catalog; the credit office
drafts next year's, changes it with reasons, and publishes it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from api.catalog import CatalogItem as CatalogItemData
from api.catalog import CatalogYear as CatalogYearData
from api.catalog_admin import service
from api.errors import DomainError

from .context import Context
from .errors import call
from .mutations import UserError
from .types import Category, Disclosure, Organisation


@strawberry.type(description="A field of a catalog item: what providers submit.")
class CatalogField:
    name: str
    label: str
    type: str = strawberry.field(description="string, date, amount, code or integer")
    required: bool
    sensitivity: str | None = strawberry.field(
        description="id_number (masked), personal, consent_only (Art. 11, needs written consent) "
        "or forbidden (Art. 11, a record carrying it is refused)"
    )
    codes: list[str]


@strawberry.type(description="An item of the catalog with the Art. 9 elements and the platform's own.")
class CatalogItem:
    code: str
    name: str
    category: Category
    disclosure: Disclosure = strawberry.field(description="The sharing attribute (共享属性): disclosure class.")
    provider: Organisation
    collection_scope: str
    collection_paths: list[str]
    update_cycle: str
    sharing_method: str
    dishonest: bool
    list_meaning: str = strawberry.field(description="red (守信), black (失信) or none")
    publicity_months: int | None
    deadline_working_days: int | None = strawberry.field(description="Art. 13: 7 for licensing and penalty.")
    decision_field: str | None
    fields: list[CatalogField]

    @classmethod
    def of(cls, i: CatalogItemData) -> CatalogItem:
        return cls(
            code=i.code, name=i.name, category=Category(i.category), disclosure=Disclosure(i.disclosure),
            provider=Organisation(code=i.provider_org, name=i.provider_name),
            collection_scope=i.collection_scope, collection_paths=list(i.collection_paths),
            update_cycle=i.update_cycle, sharing_method=i.sharing_method, dishonest=i.dishonest,
            list_meaning=i.list_meaning, publicity_months=i.publicity_months,
            deadline_working_days=i.deadline_working_days, decision_field=i.decision_field,
            fields=[
                CatalogField(name=f.name, label=f.label, type=f.type, required=f.required,
                             sensitivity=f.sensitivity, codes=list(f.codes))
                for f in i.fields
            ],
        )


@strawberry.type
class CatalogYear:
    year: int
    status: str = strawberry.field(description="draft or published")
    published_at: dt.datetime | None
    note: str | None

    @classmethod
    def of(cls, y: CatalogYearData) -> CatalogYear:
        return cls(year=y.year, status=y.status, published_at=y.published_at, note=y.note)


@strawberry.type
class Catalog(CatalogYear):
    items: list[CatalogItem]


@strawberry.input
class CatalogFieldInput:
    name: str
    label: str | None = None
    type: str = "string"
    required: bool = False
    sensitivity: str | None = None
    codes: list[str] | None = None


@strawberry.input
class CatalogItemInput:
    code: str
    name: str
    category: Category
    disclosure: Disclosure
    provider: str
    collection_scope: str
    collection_paths: list[str]
    update_cycle: str
    sharing_method: str
    fields: list[CatalogFieldInput]
    dishonest: bool = False
    list_meaning: str = "none"
    publicity_months: int | None = None
    deadline_working_days: int | None = None
    decision_field: str | None = None

    def definition(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "code", "name", "provider", "collection_scope", "collection_paths", "update_cycle",
            "sharing_method", "dishonest", "list_meaning", "publicity_months",
            "deadline_working_days", "decision_field",
        ) if getattr(self, k) is not None}
        d["category"] = self.category.value
        d["disclosure"] = self.disclosure.value
        d["fields"] = [
            {k: v for k, v in vars(f).items() if v is not None} for f in self.fields
        ]
        return d


CatalogYearResult = Annotated[CatalogYear | UserError, strawberry.union("CatalogYearResult")]
CatalogItemResult = Annotated[CatalogItem | UserError, strawberry.union("CatalogItemResult")]


@strawberry.type
class CatalogQuery:
    @strawberry.field(
        description="The catalog of a year (default: the one in force). Published catalogs are "
        "public; drafts only for the credit office and data office."
    )
    async def catalog(self, info: Info[Context, None], year: int | None = None) -> Catalog | None:
        ctx = info.context
        found = await call(service.read_catalog(ctx.state.pool, ctx.state.catalog, ctx.principal, year))
        if found is None:
            return None
        y, items = found
        return Catalog(
            year=y.year, status=y.status, published_at=y.published_at, note=y.note,
            items=[CatalogItem.of(i) for i in items],
        )

    @strawberry.field(description="The catalog years (drafts only for the offices).")
    async def catalog_years(self, info: Info[Context, None]) -> list[CatalogYear]:
        ctx = info.context
        return [CatalogYear.of(y) for y in await call(service.catalog_years(ctx.state.pool, ctx.principal))]


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(description="Credit office: start next year's draft, copied from the catalog in force.")
    async def draft_catalog(
        self, info: Info[Context, None], year: int, note: str | None = None
    ) -> CatalogYearResult:
        ctx = info.context
        try:
            y = await service.draft_catalog(
                ctx.state.pool, ctx.state.catalog, ctx.principal, year, note=note, request=ctx.request
            )
        except DomainError as e:
            return UserError.of(e)
        return CatalogYear.of(y)

    @strawberry.mutation(description="Credit office: add or change an item of a draft, with the reason (Art. 9).")
    async def put_catalog_item(
        self, info: Info[Context, None], year: int, item: CatalogItemInput, reason: str
    ) -> CatalogItemResult:
        ctx = info.context
        try:
            stored = await service.put_item(
                ctx.state.pool, ctx.principal, year, item.definition(), reason=reason, request=ctx.request
            )
        except DomainError as e:
            return UserError.of(e)
        return CatalogItem.of(stored)

    @strawberry.mutation(description="Credit office: withdraw an item from a draft, with the reason (Art. 9).")
    async def remove_catalog_item(
        self, info: Info[Context, None], year: int, code: str, reason: str
    ) -> CatalogYearResult:
        ctx = info.context
        try:
            await service.remove_item(ctx.state.pool, ctx.principal, year, code, reason=reason, request=ctx.request)
            found = await service.read_catalog(ctx.state.pool, ctx.state.catalog, ctx.principal, year)
        except DomainError as e:
            return UserError.of(e)
        return CatalogYear.of(found[0])

    @strawberry.mutation(description="Credit office: publish a draft; from then on it does not change.")
    async def publish_catalog(self, info: Info[Context, None], year: int) -> CatalogYearResult:
        ctx = info.context
        try:
            y = await service.publish_catalog(
                ctx.state.pool, ctx.state.catalog, ctx.principal, year, request=ctx.request
            )
        except DomainError as e:
            return UserError.of(e)
        return CatalogYear.of(y)
