"""The GraphQL types of authorizations (Art. 19): the authorization with its document, paper
check, dispute and uses; the grant input; the auditors' anomaly report; and the result unions
of the authorization mutations (schema/authorizations.py)."""

from __future__ import annotations

import datetime as dt
import json
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api.authorizations import views

from .mutations import UserError
from .pagination import ItemsConnection
from .types import Disclosure, Organisation


@strawberry.enum(description="pending: discloses nothing until the subject's agreement is shown.")
class AuthorizationState(Enum):
    PENDING = "pending"
    EFFECTIVE = "effective"
    REFUSED = "refused"
    REVOKED = "revoked"
    DISPUTED = "disputed"


@strawberry.input
class ScopeInput:
    items: list[str] = strawberry.field(default_factory=list)
    classes: list[Disclosure] = strawberry.field(default_factory=list)


@strawberry.input
class GrantAuthorizationInput:
    subject_key: str
    grantee_org: str
    purpose: str
    scope: ScopeInput
    valid_until: dt.datetime
    valid_from: dt.datetime | None = None
    document_id: str | None = strawberry.field(
        default=None, description="The signed authorization uploaded with POST "
        "/authorizations/documents (required when the grantee registers).")
    document_ref: str | None = strawberry.field(default=None, description="Your filing reference.")


@strawberry.type
class AuthorizationDocument:
    id: strawberry.ID
    sha256: str
    url: str = strawberry.field(description="GET it with your token; each read is logged.")


@strawberry.type
class PaperCheck:
    recorded_at: dt.datetime
    recorded_by: str | None = strawberry.field(description="Staff names: not shown to the subject.")
    note: str | None
    confirmed_at: dt.datetime | None
    confirmed_by: str | None


@strawberry.type
class UsedRecord:
    record_id: str | None
    item_code: str | None


@strawberry.type(description="One lookup that used the authorization: when, by whom, for what.")
class AuthorizationUse:
    at: dt.datetime
    organisation: Organisation | None
    purpose: str | None
    operation: str
    records: list[UsedRecord]


@strawberry.type
class AuthorizationDispute:
    id: strawberry.ID
    opened_at: dt.datetime
    statement: str | None
    closed_at: dt.datetime | None
    finding: str | None
    note: str | None

    @classmethod
    def of(cls, d) -> AuthorizationDispute:
        return cls(id=strawberry.ID(str(d["id"])), opened_at=d["opened_at"], statement=d["statement"],
                   closed_at=d["closed_at"], finding=d["finding"], note=d["note"])


@strawberry.type
class Authorization:
    id: strawberry.ID
    subject_key: str
    grantee_org: str
    purpose: str
    scope_items: list[str]
    scope_classes: list[Disclosure]
    valid_from: dt.datetime
    valid_until: dt.datetime
    granted_at: dt.datetime
    evidence: str = strawberry.field(description="self_service or signed_document")
    state: AuthorizationState
    effective_basis: str | None = strawberry.field(
        description="self_service, subject_confirmed, e_signature, paper_check or exempt")
    effective_at: dt.datetime | None
    pending_reason: str | None
    document: AuthorizationDocument | None
    signature_check: JSON | None
    paper_check: PaperCheck | None
    revoked_at: dt.datetime | None
    refused_at: dt.datetime | None
    disputed_at: dt.datetime | None
    dispute: AuthorizationDispute | None = None
    uses: list[AuthorizationUse] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, row, *, for_subject: bool = False, view: views.AuthorizationView | None = None):
        paper = None
        if row["paper_recorded_at"]:
            paper = PaperCheck(
                recorded_at=row["paper_recorded_at"], note=row["paper_note"],
                recorded_by=None if for_subject else row["paper_recorded_by_name"],
                confirmed_at=row["paper_confirmed_at"],
                confirmed_by=None if for_subject else row["paper_confirmed_by_name"])
        check = row["signature_check"]
        return cls(
            id=strawberry.ID(str(row["id"])), subject_key=row["subject_key"],
            grantee_org=row["grantee_org"], purpose=row["purpose"],
            scope_items=list(row["scope_items"]),
            scope_classes=[Disclosure(c) for c in row["scope_classes"]],
            valid_from=row["valid_from"], valid_until=row["valid_until"],
            granted_at=row["granted_at"], evidence=row["evidence_kind"],
            state=AuthorizationState(row["state"]), effective_basis=row["effective_basis"],
            effective_at=row["effective_at"], pending_reason=views.pending_reason(row),
            document=AuthorizationDocument(
                id=strawberry.ID(str(row["document_id"])), sha256=row["evidence_digest"],
                url=f"/authorizations/{row['id']}/document") if row["document_id"] else None,
            signature_check=json.loads(check) if isinstance(check, str) else check,
            paper_check=paper, revoked_at=row["revoked_at"], refused_at=row["refused_at"],
            disputed_at=row["disputed_at"],
            dispute=AuthorizationDispute.of(view.dispute) if view and view.dispute else None,
            uses=[AuthorizationUse(
                at=u.at, purpose=u.purpose, operation=u.operation,
                organisation=Organisation(code=u.org_code, name=u.org_name or "") if u.org_code else None,
                records=[UsedRecord(record_id=r["record"], item_code=r["item"]) for r in u.records])
                for u in (view.uses if view else [])],
        )


@strawberry.type(description="A grantee's authorizations, newest first; no totalCount (a large "
                 "grantee holds very many, and a count by state reads them all).")
class AuthorizationConnection(ItemsConnection[Authorization]):
    pass


@strawberry.type
class RegistrationBurst:
    organisation: str
    registrations: int
    first_at: dt.datetime
    last_at: dt.datetime


@strawberry.type
class QuickArchivedUse:
    authorization: Authorization
    used_at: dt.datetime
    record_id: str | None
    item_code: str | None


@strawberry.type(description="What auditors watch (README: Authorizations).")
class AuthorizationAnomalies:
    since: dt.datetime
    bursts: list[RegistrationBurst]
    stale_pending: list[Authorization]
    quick_archived_uses: list[QuickArchivedUse]
    disputed: list[Authorization]


AuthorizationResult = Annotated[Authorization | UserError, strawberry.union("AuthorizationResult")]
DisputeResult = Annotated[AuthorizationDispute | UserError, strawberry.union("AuthorizationDisputeResult")]
