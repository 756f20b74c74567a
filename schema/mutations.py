"""Root mutations. Expected failures are members of result unions, not raised errors."""

from __future__ import annotations

import strawberry

from api.errors import DomainError


@strawberry.type
class UserError:
    code: str
    message: str
    field: str | None
    rule: str | None

    @classmethod
    def of(cls, e: DomainError) -> UserError:
        return cls(code=e.code, message=e.message, field=e.field, rule=e.rule)


@strawberry.type(description="Capabilities add their own mutation classes (schema/__init__.py); "
                  "grant and revoke are in schema/authorizations.py.")
class Mutation:
    pass
