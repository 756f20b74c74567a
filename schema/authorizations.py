"""Art. 19 over GraphQL: register, confirm, refuse, revoke, dispute; the credit office's paper
check and disputes; the grantee's list; the auditors' anomaly report. The subject's own list is
`myCredit { authorizations }` (schema/types.py). Expected refusals are `UserError`s."""

from __future__ import annotations

import datetime as dt
import json
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.authorizations import anomalies as anomaly_report
from api.authorizations import lifecycle, views
from api.authorizations.common import is_self
from api.authorizations.service import GrantInput, grant_authorization
from api.errors import DomainError, Forbidden
from api.i18n import _

from .context import Context
from .errors import call, to_graphql_error
from .mutations import UserError
from .pagination import ItemsConnection, edges, page_info
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


async def _answer(awaitable) -> Authorization | UserError:
    try:
        row = await awaitable
    except DomainError as e:
        return UserError.of(e)
    return Authorization.of(row)


@strawberry.type
class AuthorizationMutation:
    @strawberry.mutation(description="Art. 19: the subject (verified) grants, effective at once; or "
                         "the grantee registers the uploaded signed document, pending until the "
                         "subject's agreement is shown.")
    async def grant_authorization(self, info: Info[Context, None],
                                  input: GrantAuthorizationInput) -> AuthorizationResult:
        ctx = info.context
        return await _answer(grant_authorization(
            ctx.state.pool, ctx.state.catalog, ctx.principal,
            GrantInput(subject_key=input.subject_key, grantee_org=input.grantee_org,
                       purpose=input.purpose, scope_items=list(input.scope.items),
                       scope_classes=[c.value for c in input.scope.classes],
                       valid_from=input.valid_from, valid_until=input.valid_until,
                       document_id=input.document_id, document_ref=input.document_ref),
            settings=ctx.state.settings.authorizations, legacy_uscc=ctx.state.settings.legacy_uscc,
            request=ctx.request))

    @strawberry.mutation(description="The subject confirms a pending authorization (self-service).")
    async def confirm_authorization(self, info: Info[Context, None], id: strawberry.ID) -> AuthorizationResult:
        ctx = info.context
        return await _answer(lifecycle.confirm(ctx.state.pool, ctx.principal, str(id), request=ctx.request))

    @strawberry.mutation(description="The subject refuses a pending authorization.")
    async def refuse_authorization(self, info: Info[Context, None], id: strawberry.ID,
                                   reason: str | None = None) -> AuthorizationResult:
        ctx = info.context
        return await _answer(lifecycle.refuse(ctx.state.pool, ctx.principal, str(id), reason,
                                              request=ctx.request))

    @strawberry.mutation(description="Revoke an authorization (the subject at any time, or the grantee).")
    async def revoke_authorization(self, info: Info[Context, None], id: strawberry.ID,
                                   reason: str | None = None) -> AuthorizationResult:
        ctx = info.context
        return await _answer(lifecycle.revoke(ctx.state.pool, ctx.principal, str(id), reason,
                                              request=ctx.request))

    @strawberry.mutation(description="\"I did not sign this\": suspends it at once and opens a case "
                         "for the credit office.")
    async def dispute_authorization(self, info: Info[Context, None], id: strawberry.ID,
                                    statement: str | None = None) -> AuthorizationResult:
        ctx = info.context
        return await _answer(lifecycle.dispute(ctx.state.pool, ctx.principal, str(id), statement,
                                               request=ctx.request))

    @strawberry.mutation(description="Credit office, first person: the paper original was checked.")
    async def record_authorization_paper_check(self, info: Info[Context, None], id: strawberry.ID,
                                               note: str | None = None) -> AuthorizationResult:
        ctx = info.context
        return await _answer(lifecycle.record_paper_check(ctx.state.pool, ctx.principal, str(id),
                                                          note, request=ctx.request))

    @strawberry.mutation(description="Credit office, a second person: confirms; then effective.")
    async def confirm_authorization_paper_check(self, info: Info[Context, None],
                                                id: strawberry.ID) -> AuthorizationResult:
        ctx = info.context
        return await _answer(lifecycle.confirm_paper_check(ctx.state.pool, ctx.principal, str(id),
                                                           request=ctx.request))

    @strawberry.mutation(description="Credit office: close a dispute with its finding "
                         "(forged, signed, undetermined); the authorization stays without effect.")
    async def close_authorization_dispute(self, info: Info[Context, None], id: strawberry.ID,
                                          finding: str, note: str | None = None) -> DisputeResult:
        ctx = info.context
        try:
            d = await lifecycle.close_dispute(ctx.state.pool, ctx.principal, str(id), finding, note,
                                              request=ctx.request)
        except DomainError as e:
            return UserError.of(e)
        return AuthorizationDispute.of(d)


@strawberry.type
class AuthorizationQuery:
    @strawberry.field(description="The grantee's own authorizations and their states, newest first.")
    async def granted_authorizations(
        self, info: Info[Context, None], first: int = 50, after: str | None = None,
        state: AuthorizationState | None = None,
    ) -> AuthorizationConnection:
        ctx = info.context
        page = await call(views.of_grantee(
            ctx.state.pool, ctx.principal, ctx.request, first=first, after=after,
            state=state.value if state else None))
        return AuthorizationConnection(edges=edges(page, lambda v: Authorization.of(v.row)),
                                       page_info=page_info(page))

    @strawberry.field(description="Auditors: bursts of registrations, stale pending ones, archived "
                      "dishonesty read right after taking effect, disputes. An act in the trail.")
    async def authorization_anomalies(self, info: Info[Context, None],
                                      since: dt.datetime | None = None) -> AuthorizationAnomalies:
        ctx = info.context
        r = await call(anomaly_report.anomalies(ctx.state.pool, ctx.principal,
                                                ctx.state.settings.authorizations, since=since,
                                                request=ctx.request))
        return AuthorizationAnomalies(
            since=r.since,
            bursts=[RegistrationBurst(organisation=b["grantee_org"], registrations=b["registrations"],
                                      first_at=b["first_at"], last_at=b["last_at"]) for b in r.bursts],
            stale_pending=[Authorization.of(a) for a in r.stale_pending],
            quick_archived_uses=[QuickArchivedUse(
                authorization=Authorization.of(u), used_at=u["used_at"],
                record_id=u["record_id"], item_code=u["item_code"]) for u in r.quick_archived_uses],
            disputed=[Authorization.of(a) for a in r.disputed],
        )


async def of_my_credit(ctx: Context, subject_key: str) -> list[Authorization]:
    """myCredit { authorizations }: every authorization naming the subject, with each use."""
    p = ctx.principal
    if not is_self(p, subject_key):
        raise to_graphql_error(Forbidden(_("complete real-name verification before viewing your authorizations"), rule="self_verified"))
    found = await call(views.of_subject(ctx.state.pool, p))
    return [Authorization.of(v.row, for_subject=True, view=v) for v in found]
