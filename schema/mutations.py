"""Root mutations. Expected failures are members of result unions, not raised errors."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from api.authorizations.service import GrantInput, grant_authorization, revoke_authorization
from api.errors import DomainError

from .context import Context
from .types import Disclosure


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
    document_digest: str | None = strawberry.field(
        default=None, description="SHA-256 (hex) of the signed authorization, when the grantee registers it."
    )
    document_ref: str | None = None


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
    evidence: str
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, row) -> Authorization:
        return cls(
            id=strawberry.ID(str(row["id"])),
            subject_key=row["subject_key"],
            grantee_org=row["grantee_org"],
            purpose=row["purpose"],
            scope_items=list(row["scope_items"]),
            scope_classes=[Disclosure(c) for c in row["scope_classes"]],
            valid_from=row["valid_from"],
            valid_until=row["valid_until"],
            evidence=row["evidence_kind"],
            revoked_at=row["revoked_at"],
        )


@strawberry.type
class UserError:
    code: str
    message: str
    field: str | None
    rule: str | None

    @classmethod
    def of(cls, e: DomainError) -> UserError:
        return cls(code=e.code, message=e.message, field=e.field, rule=e.rule)


AuthorizationResult = Annotated[Authorization | UserError, strawberry.union("AuthorizationResult")]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Art. 19: the subject (real-name verified) grants, or the grantee organisation "
        "registers the signed document by digest and reference."
    )
    async def grant_authorization(
        self, info: Info[Context, None], input: GrantAuthorizationInput
    ) -> AuthorizationResult:
        ctx = info.context
        try:
            row = await grant_authorization(
                ctx.state.pool,
                ctx.state.catalog,
                ctx.principal,
                GrantInput(
                    subject_key=input.subject_key,
                    grantee_org=input.grantee_org,
                    purpose=input.purpose,
                    scope_items=list(input.scope.items),
                    scope_classes=[c.value for c in input.scope.classes],
                    valid_from=input.valid_from,
                    valid_until=input.valid_until,
                    document_digest=input.document_digest,
                    document_ref=input.document_ref,
                ),
                legacy_uscc=ctx.state.settings.legacy_uscc,
                request=ctx.request,
            )
        except DomainError as e:
            return UserError.of(e)
        return Authorization.of(row)

    @strawberry.mutation(description="Revoke an authorization (the subject or the grantee).")
    async def revoke_authorization(
        self, info: Info[Context, None], id: strawberry.ID, reason: str | None = None
    ) -> AuthorizationResult:
        ctx = info.context
        try:
            row = await revoke_authorization(
                ctx.state.pool, ctx.principal, str(id), reason, request=ctx.request
            )
        except DomainError as e:
            return UserError.of(e)
        return Authorization.of(row)
