"""Root queries. Resolvers turn arguments into service calls and map the results."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.audit.repository import LogFilter
from api.audit.service import encode_cursor, query_log_page
from api.disclosure.rules import PURPOSES
from api.errors import Forbidden

from .context import Context
from .errors import call, to_graphql_error
from .types import Purpose, Subject

BATCH_DOC = "Batch query (Art. 23) for credit service agencies and state organs; at most 100 keys."


@strawberry.enum
class Outcome(Enum):
    DISCLOSED = "disclosed"
    PARTIAL = "partial"
    REFUSED = "refused"
    NOT_FOUND = "not_found"


@strawberry.input
class QueryLogFilter:
    subject_key: str | None = None
    org_code: str | None = None
    user_id: str | None = None
    role: str | None = None
    purpose: str | None = None
    outcome: Outcome | None = None
    authorization_id: strawberry.ID | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@strawberry.type
class QueryLogEntry:
    id: strawberry.ID
    at: dt.datetime
    request_id: str
    user_id: str | None
    user_name: str | None
    org_code: str | None
    org_name: str | None
    roles: list[str]
    operation: str
    subject_key: str
    purpose: str | None
    outcome: Outcome
    reason: str | None
    disclosed: JSON
    withheld: JSON
    authorization_ids: list[strawberry.ID]
    client_addr: str | None
    channel: str
    retention: str


@strawberry.type
class QueryLogEdge:
    cursor: str
    node: QueryLogEntry


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class QueryLogConnection:
    edges: list[QueryLogEdge]
    page_info: PageInfo


def _entry(row) -> QueryLogEntry:
    return QueryLogEntry(
        id=strawberry.ID(str(row["id"])),
        at=row["at"],
        request_id=str(row["request_id"]),
        user_id=row["user_id"],
        user_name=row["user_name"],
        org_code=row["org_code"],
        org_name=row["org_name"],
        roles=list(row["roles"]),
        operation=row["operation"],
        subject_key=row["subject_key"],
        purpose=row["purpose"],
        outcome=Outcome(row["outcome"]),
        reason=row["reason"],
        disclosed=row["disclosed"],
        withheld=row["withheld"],
        authorization_ids=[strawberry.ID(str(a)) for a in row["authorization_ids"]],
        client_addr=row["client_addr"],
        channel=row["channel"],
        retention=row["retention"],
    )


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
        if not (ctx.principal.has("credit_service") or ctx.principal.has("state_organ")):
            raise to_graphql_error(
                Forbidden(
                    "batch queries are for credit service agencies and state organs (Art. 23)",
                    rule="batch_role",
                )
            )
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
                Forbidden("myCredit is for a subject's own token", rule="subject_role")
            )
        views = await call(ctx.subjects([p.subject_key], None, "myCredit"))
        return Subject.of(views[0])

    @strawberry.field(description="The Art. 29 purposes a state organ names when it queries.")
    def purposes(self) -> list[Purpose]:
        return [Purpose(code=c, name=n) for c, n in PURPOSES.items()]

    @strawberry.field(description="The query log, newest first (auditors only).")
    async def query_log(
        self,
        info: Info[Context, None],
        filter: QueryLogFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> QueryLogConnection:
        ctx = info.context
        f = filter or QueryLogFilter()
        rows, more = await call(
            query_log_page(
                ctx.state.pool,
                ctx.principal,
                LogFilter(
                    subject_key=f.subject_key,
                    org_code=f.org_code,
                    user_id=f.user_id,
                    role=f.role,
                    purpose=f.purpose,
                    outcome=f.outcome.value if f.outcome else None,
                    authorization_id=str(f.authorization_id) if f.authorization_id else None,
                    since=f.since,
                    until=f.until,
                ),
                first=first,
                after=after,
            )
        )
        edges = [QueryLogEdge(cursor=encode_cursor(r["id"]), node=_entry(r)) for r in rows]
        return QueryLogConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        )
