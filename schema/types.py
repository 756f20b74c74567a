"""GraphQL types and their mapping from the domain's views."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from api.audit.service import encode_cursor, queries_of_me
from api.catalog import CatalogItem
from api.disclosure.rules import RecordView, SubjectView
from api.disclosure.rules import Withheld as WithheldView
from api.errors import Forbidden
from api.i18n import _
from api.reports.service import reports_about

from .errors import call, to_graphql_error

if TYPE_CHECKING:
    from .authorizations import Authorization


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


@strawberry.type
class Organisation:
    code: str
    name: str


@strawberry.enum
class Outcome(Enum):
    DISCLOSED = "disclosed"
    PARTIAL = "partial"
    REFUSED = "refused"
    NOT_FOUND = "not_found"


@strawberry.type(description="Art. 36: one look at your data: who, when, why, under what right.")
class QueryOfMe:
    at: dt.datetime
    organisation: Organisation | None = strawberry.field(
        description="Null when the public looked, without a token."
    )
    purpose: str | None
    rights: list[str] = strawberry.field(
        description="public, government_sharing, authorization, own_data, ..."
    )
    outcome: Outcome


@strawberry.type
class QueriesOfMe:
    items: list[QueryOfMe]
    has_next_page: bool
    end_cursor: str | None


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

    @classmethod
    def of(cls, r: RecordView) -> Record:
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
class ReportIssued:
    number: str
    issued_at: dt.datetime
    purpose: str | None
    basis: str
    organisation: Organisation | None
    records: int


@strawberry.type
class CreditUse:
    check: strawberry.ID
    at: dt.datetime
    organisation: Organisation
    scenario: str
    measures: list[str] = strawberry.field(description="the measures the check returned")
    feedback_at: dt.datetime | None
    applied: JSON | None = strawberry.field(description="[{measure, applied, note}] as the organ reported")


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
    ) -> QueriesOfMe:
        ctx = info.context
        if ctx.principal.subject_key != self._view.subject.key:
            raise to_graphql_error(
                Forbidden(_("only the subject itself sees who queried it"), rule="self_verified")
            )
        items, more = await call(queries_of_me(ctx.state.pool, ctx.principal, first=first, after=after))
        return QueriesOfMe(
            items=[
                QueryOfMe(
                    at=q.at,
                    organisation=Organisation(code=q.org_code, name=q.org_name or "")
                    if q.org_code else None,
                    purpose=q.purpose,
                    rights=list(q.rights),
                    outcome=Outcome(q.outcome),
                )
                for q in items
            ],
            has_next_page=more,
            end_cursor=encode_cursor(items[-1].id) if items else None,
        )

    @strawberry.field(
        description="Art. 19: every authorization naming you (verified subject only): grantee, "
        "purpose, scope, validity, evidence, state and every use."
    )
    async def authorizations(
        self, info: strawberry.Info
    ) -> list[Annotated[Authorization, strawberry.lazy("schema.authorizations")]]:
        from .authorizations import of_my_credit

        return await of_my_credit(info.context, self._view.subject.key)

    @strawberry.field(
        description="Who obtained a credit report on this subject, and when (Art. 36): only for "
        "the subject itself, verified."
    )
    async def reports_issued(self, info: strawberry.Info, first: int = 50) -> list[ReportIssued]:
        ctx = info.context
        if ctx.principal.subject_key != self._view.subject.key:
            raise to_graphql_error(
                Forbidden(_("only the subject itself sees who obtained its reports"), rule="self_verified")
            )
        rows = await call(reports_about(ctx.state.reports, ctx.principal, first))
        return [
            ReportIssued(
                number=r["number"], issued_at=r["issued_at"], purpose=r["purpose"], basis=r["basis"],
                organisation=Organisation(code=r["requester_org"], name=r["requester_org_name"] or "")
                if r["requester_org"] else None,
                records=r["record_count"],
            )
            for r in rows
        ]

    @strawberry.field(
        description="Each use of this subject's information in a decision (Art. 36): the credit "
        "checks made on it, by whom, in which scenario, and which measures the organ reported "
        "applying. Only for the subject itself, verified."
    )
    async def credit_uses(self, info: strawberry.Info, first: int = 50) -> list[CreditUse]:
        from api.checks.service import uses_of_me

        ctx = info.context
        if ctx.principal.subject_key != self._view.subject.key:
            raise to_graphql_error(
                Forbidden(_("only the subject itself sees the uses of its information"), rule="self_verified")
            )
        rows = await call(uses_of_me(ctx.state.pool, ctx.principal, first))
        return [
            CreditUse(check=strawberry.ID(r["id"]), at=r["at"],
                      organisation=Organisation(code=r["org_code"], name=r["org_name"] or ""),
                      scenario=r["scenario"], measures=list(r["measures"]), feedback_at=r["feedback_at"],
                      applied=r["applied"])
            for r in rows
        ]

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
