"""GraphQL types and their mapping from the domain's views."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from api.audit.service import queries_of_me
from api.catalog import CatalogItem
from api.disclosure.views import RecordView, SubjectView
from api.disclosure.views import Withheld as WithheldView
from api.errors import Forbidden
from api.i18n import N_, _
from api.reports.service import reports_about

from .errors import call, to_graphql_error
from .own_data import (
    CreditUse,
    CreditUseConnection,
    Organisation,
    QueryOfMe,
    QueryOfMeConnection,
    ReportIssued,
    ReportIssuedConnection,
)
from .pagination import DEPRECATED_ONE_RELEASE, edges, page_info

if TYPE_CHECKING:
    from .authorizations_types import Authorization


@strawberry.enum(description="Disclosure class of a catalog item (Art. 17-19).")
class Disclosure(Enum):
    PUBLIC = "public"
    SHARED = "shared"
    AUTHORIZED = "authorized"


@strawberry.enum(description="Art. 10 categories; administrative acts split by kind.")
class Category(Enum):
    REGISTRATION = "registration"
    LICENSING = "licensing"
    PENALTY = "penalty"
    ENFORCEMENT = "enforcement"
    CONFIRMATION = "confirmation"
    INSPECTION = "inspection"
    LEVY = "levy"
    REWARD = "reward"
    PAYMENT = "payment"
    DEFAULT_JUDGMENT = "default_judgment"
    COMMENDATION = "commendation"
    VOLUNTEER = "volunteer"
    DONATION = "donation"
    OTHER = "other"


@strawberry.enum
class RecordStatus(Enum):
    ACTIVE = "active"
    DISPUTED = "disputed"
    REPAIRED = "repaired"
    ARCHIVED = "archived"
    DELETED = "deleted"


@strawberry.enum(description="A penalty's severity (行政处罚失信行为严重程度).")
class Severity(Enum):
    MINOR = "minor"
    GENERAL = "general"
    SERIOUS = "serious"


@strawberry.enum
class SubjectType(Enum):
    NATURAL_PERSON = "natural_person"
    LEGAL_PERSON = "legal_person"
    UNINCORPORATED_ORG = "unincorporated_org"
    INDIVIDUAL_BUSINESS = "individual_business"


@strawberry.enum
class WithheldScope(Enum):
    RECORDS = "records"
    FIELDS = "fields"


@strawberry.type
class Item:
    code: str
    name: str
    category: Category
    disclosure: Disclosure
    dishonest: bool

    @classmethod
    def of(cls, item: CatalogItem) -> Item:
        return cls(
            code=item.code,
            name=item.name,
            category=Category(item.category),
            disclosure=Disclosure(item.disclosure),
            dishonest=item.dishonest,
        )


@strawberry.type
class Record:
    id: strawberry.ID
    item: Item
    disclosure: Disclosure
    dishonest: bool
    decided_on: dt.date
    provider: Organisation
    data: JSON
    status: RecordStatus
    disputed: bool = strawberry.field(description="Under objection (Art. 38): shown with this mark.")
    basis: str = strawberry.field(
        description="The right it was disclosed under: public, government_sharing, "
        "authorization, own_data, own_provision or case_handling."
    )
    fields_withheld: int = strawberry.field(
        description="Fields of this record left out because they are outside your entitlement."
    )
    severity: Severity | None = strawberry.field(
        default=None, description="A penalty's severity (轻微/一般/严重) as its provider stated it; "
        "null when the record does not state one (its item's fixed publicity period applies).")
    public_until: dt.date | None = strawberry.field(
        default=None, description="The last day it is public; from the next day it leaves public "
        "view (the item's rule for its severity). Null: no end.")
    repairable_from: dt.date | None = strawberry.field(
        default=None, description="The first day credit repair may be applied for (Art. 39, the "
        "minimum period of its severity). Null: not a dishonesty record.")
    archives_on: dt.date | None = strawberry.field(
        default=None, description="Art. 20: the day dishonesty information is archived, after five "
        "years. Null: not dishonesty information.")

    @classmethod
    def of(cls, r: RecordView) -> Record:
        p = r.periods
        return cls(
            id=strawberry.ID(r.id),
            item=Item.of(r.item),
            disclosure=Disclosure(r.item.disclosure),
            dishonest=r.item.dishonest,
            decided_on=r.decided_on,
            provider=Organisation(code=r.item.provider_org, name=r.item.provider_name),
            data=r.data,
            status=RecordStatus(r.status),
            disputed=r.status == "disputed",
            basis=r.basis,
            fields_withheld=r.fields_withheld,
            severity=Severity(p.severity) if p and p.severity else None,
            public_until=p.public_until if p else None,
            repairable_from=p.repairable_from if p else None,
            archives_on=p.archives_on if p else None,
        )


@strawberry.type(description="What exists but was not disclosed, and how to obtain it; never content.")
class Withheld:
    disclosure: Disclosure
    count: int
    reason: str
    code: str
    scope: WithheldScope
    item_code: str | None

    @classmethod
    def of(cls, w: WithheldView) -> Withheld:
        return cls(
            disclosure=Disclosure(w.disclosure),
            count=w.count,
            reason=w.reason,
            code=w.reason_code,
            scope=WithheldScope(w.scope),
            item_code=w.item_code,
        )


@strawberry.type
class Subject:
    key: strawberry.ID
    type: SubjectType
    key_type: str
    name: str
    status: str
    _view: strawberry.Private[SubjectView]

    @strawberry.field
    def records(self, category: Category | None = None) -> list[Record]:
        return [
            Record.of(r)
            for r in self._view.records
            if category is None or r.item.category == category.value
        ]

    @strawberry.field
    def withheld(self) -> list[Withheld]:
        return [Withheld.of(w) for w in self._view.withheld]

    @strawberry.field(
        description="Who queried this subject (Art. 36): only for the subject itself, verified. "
        "Staff names are not shown."
    )
    async def queried_by(
        self, info: strawberry.Info, first: int = 50, after: str | None = None
    ) -> QueryOfMeConnection:
        ctx = info.context
        self._only_self(ctx, N_("only the subject itself sees who queried it"))
        page = await call(queries_of_me(ctx.state.pool, ctx.principal, first=first, after=after))
        return QueryOfMeConnection(edges=edges(page, QueryOfMe.of), page_info=page_info(page))

    @strawberry.field(
        description="Art. 19: every authorization naming you (verified subject only): grantee, "
        "purpose, scope, validity, evidence, state and every use."
    )
    async def authorizations(
        self, info: strawberry.Info
    ) -> list[Annotated[Authorization, strawberry.lazy("schema.authorizations_types")]]:
        from .authorizations import of_my_credit

        return await of_my_credit(info.context, self._view.subject.key)

    @strawberry.field(
        description="Who obtained a credit report on this subject, and when (Art. 36): only for "
        "the subject itself, verified.",
        deprecation_reason="Use reportsIssuedConnection; " + DEPRECATED_ONE_RELEASE,
    )
    async def reports_issued(self, info: strawberry.Info, first: int = 50) -> list[ReportIssued]:
        return [e.node for e in (await self._reports_issued(info, first, None)).edges]

    @strawberry.field(
        description="Who obtained a credit report on this subject, and when (Art. 36), newest "
        "first: only for the subject itself, verified."
    )
    async def reports_issued_connection(
        self, info: strawberry.Info, first: int = 50, after: str | None = None
    ) -> ReportIssuedConnection:
        return await self._reports_issued(info, first, after)

    async def _reports_issued(self, info: strawberry.Info, first: int, after: str | None) -> ReportIssuedConnection:
        ctx = info.context
        self._only_self(ctx, N_("only the subject itself sees who obtained its reports"))
        page = await call(reports_about(ctx.state.reports, ctx.principal, first=first, after=after))
        return ReportIssuedConnection(edges=edges(page, ReportIssued.of), page_info=page_info(page),
                                      _count=page.count)

    @strawberry.field(
        description="Each use of this subject's information in a decision (Art. 36): the credit "
        "checks made on it, by whom, in which scenario, and which measures the organ reported "
        "applying. Only for the subject itself, verified.",
        deprecation_reason="Use creditUsesConnection; " + DEPRECATED_ONE_RELEASE,
    )
    async def credit_uses(self, info: strawberry.Info, first: int = 50) -> list[CreditUse]:
        return [e.node for e in (await self._credit_uses(info, first, None)).edges]

    @strawberry.field(
        description="Each use of this subject's information in a decision (Art. 36), newest "
        "first: the credit checks made on it, by whom, in which scenario, and which measures the "
        "organ reported applying. Only for the subject itself, verified."
    )
    async def credit_uses_connection(
        self, info: strawberry.Info, first: int = 50, after: str | None = None
    ) -> CreditUseConnection:
        return await self._credit_uses(info, first, after)

    async def _credit_uses(self, info: strawberry.Info, first: int, after: str | None) -> CreditUseConnection:
        from api.checks.service import uses_of_me

        ctx = info.context
        self._only_self(ctx, N_("only the subject itself sees the uses of its information"))
        page = await call(uses_of_me(ctx.state.pool, ctx.principal, first=first, after=after))
        return CreditUseConnection(edges=edges(page, CreditUse.of), page_info=page_info(page),
                                   _count=page.count)

    def _only_self(self, ctx: Any, message: str) -> None:
        if ctx.principal.subject_key != self._view.subject.key:
            raise to_graphql_error(Forbidden(_(message), rule="self_verified"))

    @classmethod
    def of(cls, v: SubjectView | None) -> Subject | None:
        if v is None:
            return None
        s = v.subject
        return cls(
            key=strawberry.ID(v.key or s.key),
            type=SubjectType(s.subject_type),
            key_type=s.key_type,
            name=v.name,
            status=s.status,
            _view=v,
        )


@strawberry.type
class Purpose:
    code: str
    name: str
