"""Root queries. Resolvers turn arguments into service calls and map the results."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.disclosure.rules import PURPOSES
from api.errors import Forbidden
from api.i18n import _

from .context import Context
from .errors import call, to_graphql_error
from .types import Purpose, Subject

BATCH_DOC = "Batch query (Art. 23) for credit service agencies and state organs; at most 100 keys."


@strawberry.type
class Query:
    @strawberry.field(
        description="One subject. `purpose` is required for non-public data; state organs give "
        "one of the Art. 29 purposes (see `purposes`). Logged."
    )
    async def subject(
        self, info: Info[Context, None], key: strawberry.ID, purpose: str | None = None
    ) -> Subject | None:
        ctx = info.context
        views = await call(ctx.subjects([key], purpose, "subject"))
        return Subject.of(views[0])

    @strawberry.field(description=BATCH_DOC)
    async def subjects(
        self, info: Info[Context, None], keys: list[strawberry.ID], purpose: str
    ) -> list[Subject | None]:
        ctx = info.context
        # the service refuses other roles (Art. 23) and logs the refusal per subject named
        views = await call(ctx.subjects(list(keys), purpose, "subjects"))
        return [Subject.of(v) for v in views]

    @strawberry.field(
        description="The caller's own data (role subject). Non-public data only once real-name "
        "verified (Art. 19). Logged."
    )
    async def my_credit(self, info: Info[Context, None]) -> Subject | None:
        ctx = info.context
        p = ctx.principal
        if not p.has("subject") or not p.subject_key:
            raise to_graphql_error(
                Forbidden(_("myCredit is for a subject's own token"), rule="subject_role")
            )
        views = await call(ctx.subjects([p.subject_key], None, "myCredit"))
        return Subject.of(views[0])

    @strawberry.field(description="The Art. 29 purposes a state organ names when it queries.")
    def purposes(self) -> list[Purpose]:
        return [Purpose(code=c, name=n) for c, n in PURPOSES.items()]
