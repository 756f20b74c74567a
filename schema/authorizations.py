"""Art. 19 over GraphQL: register, confirm, refuse, revoke, dispute; the credit office's paper
check and disputes; the grantee's list; the auditors' anomaly report. The subject's own list is
`myCredit { authorizations }` (schema/types.py). Expected refusals are `UserError`s. Resolvers
here; their types in schema/authorizations_types.py."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from api.authorizations import anomalies as anomaly_report
from api.authorizations import lifecycle, views
from api.authorizations.common import is_self
from api.authorizations.service import GrantInput, grant_authorization
from api.errors import DomainError, Forbidden
from api.i18n import _

from .authorizations_types import (
    Authorization,
    AuthorizationAnomalies,
    AuthorizationConnection,
    AuthorizationDispute,
    AuthorizationResult,
    AuthorizationState,
    DisputeResult,
    GrantAuthorizationInput,
    QuickArchivedUse,
    RegistrationBurst,
)
from .context import Context
from .errors import call, to_graphql_error
from .mutations import UserError
from .pagination import edges, page_info


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
