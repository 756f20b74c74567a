"""Your own data's trail, as Subject shows it to the subject itself (Art. 36): who queried
you, who obtained a report on you, and each use of your information in a decision. The
unbounded ones are connections (README: Pagination)."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.audit.service import QueryOfMe as QueryOfMeRow

from .pagination import CountedConnection, ItemsConnection


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

    @classmethod
    def of(cls, q: QueryOfMeRow) -> QueryOfMe:
        return cls(
            at=q.at,
            organisation=Organisation(code=q.org_code, name=q.org_name or "") if q.org_code else None,
            purpose=q.purpose,
            rights=list(q.rights),
            outcome=Outcome(q.outcome),
        )


@strawberry.type(description="Who queried you, newest first; no totalCount (a much-queried "
                 "subject's trail is long).")
class QueryOfMeConnection(ItemsConnection[QueryOfMe]):
    pass


@strawberry.type
class ReportIssued:
    number: str
    issued_at: dt.datetime
    purpose: str | None
    basis: str
    organisation: Organisation | None
    records: int

    @classmethod
    def of(cls, r: Any) -> ReportIssued:
        return cls(number=r["number"], issued_at=r["issued_at"], purpose=r["purpose"], basis=r["basis"],
                   organisation=Organisation(code=r["requester_org"], name=r["requester_org_name"] or "")
                   if r["requester_org"] else None,
                   records=r["record_count"])


@strawberry.type(description="Reports issued on you, newest first.")
class ReportIssuedConnection(CountedConnection[ReportIssued]):
    pass


@strawberry.type
class CreditUse:
    check: strawberry.ID
    at: dt.datetime
    organisation: Organisation
    scenario: str
    measures: list[str] = strawberry.field(description="the measures the check returned")
    feedback_at: dt.datetime | None
    applied: JSON | None = strawberry.field(description="[{measure, applied, note}] as the organ reported")

    @classmethod
    def of(cls, r: Any) -> CreditUse:
        return cls(check=strawberry.ID(r["id"]), at=r["at"],
                   organisation=Organisation(code=r["org_code"], name=r["org_name"] or ""),
                   scenario=r["scenario"], measures=list(r["measures"]), feedback_at=r["feedback_at"],
                   applied=r["applied"])


@strawberry.type(description="The uses of your information in decisions, newest first.")
class CreditUseConnection(CountedConnection[CreditUse]):
    pass
