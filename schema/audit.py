"""Auditors' view of the trail: queryLog (filters, cursor pages) and daily totals. The streamed
export is an HTTP endpoint (api/app.py, /audit/export)."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.audit.repository import LogFilter
from api.audit.service import query_log_page, query_log_totals

from .context import Context
from .errors import call
from .pagination import Connection, edges, page_info
from .own_data import Outcome


@strawberry.enum(description="What a trail entry records: a query, or an act.")
class TrailKind(Enum):
    QUERY = "query"
    COLLECTION = "collection"
    CATALOG = "catalog"
    POLICY = "policy"
    CORRECTION = "correction"
    DELETION = "deletion"
    AUTHORIZATION = "authorization"
    OBJECTION = "objection"
    REPAIR = "repair"
    SUBJECT_CHANGE = "subject_change"
    PURGE = "purge"
    CALENDAR = "calendar"
    AUDIT_READ = "audit_read"


@strawberry.input
class QueryLogFilter:
    subject_key: str | None = None
    org_code: str | None = None
    user_id: str | None = None
    role: str | None = None
    purpose: str | None = None
    outcome: Outcome | None = None
    authorization_id: strawberry.ID | None = None
    kind: TrailKind | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def to_domain(self) -> LogFilter:
        return LogFilter(
            subject_key=self.subject_key,
            org_code=self.org_code,
            user_id=self.user_id,
            role=self.role,
            purpose=self.purpose,
            outcome=self.outcome.value if self.outcome else None,
            authorization_id=str(self.authorization_id) if self.authorization_id else None,
            kind=self.kind.value if self.kind else None,
            since=self.since,
            until=self.until,
        )


@strawberry.type
class QueryLogEntry:
    id: strawberry.ID
    at: dt.datetime
    kind: TrailKind
    request_id: str
    user_id: str | None
    user_name: str | None
    org_code: str | None
    org_name: str | None
    roles: list[str]
    operation: str
    subject_key: str | None
    purpose: str | None
    outcome: str
    reason: str | None
    disclosed: JSON
    withheld: JSON
    authorization_ids: list[strawberry.ID]
    client_addr: str | None
    channel: str
    details: JSON | None
    retention: str

    @classmethod
    def of(cls, row) -> QueryLogEntry:
        return cls(
            id=strawberry.ID(str(row["id"])),
            at=row["at"],
            kind=TrailKind(row["kind"]),
            request_id=str(row["request_id"]),
            user_id=row["user_id"],
            user_name=row["user_name"],
            org_code=row["org_code"],
            org_name=row["org_name"],
            roles=list(row["roles"]),
            operation=row["operation"],
            subject_key=row["subject_key"],
            purpose=row["purpose"],
            outcome=row["outcome"],
            reason=row["reason"],
            disclosed=row["disclosed"],
            withheld=row["withheld"],
            authorization_ids=[strawberry.ID(str(a)) for a in row["authorization_ids"]],
            client_addr=row["client_addr"],
            channel=row["channel"],
            details=row["details"],
            retention=row["retention"],
        )


@strawberry.type(description="The trail, newest first; no totalCount (millions of rows).")
class QueryLogConnection(Connection[QueryLogEntry]):
    pass


@strawberry.type
class DailyTotal:
    day: dt.date
    org_code: str | None
    org_name: str | None
    total: int
    disclosed: int
    partial: int
    refused: int
    not_found: int


@strawberry.type
class Query:
    @strawberry.field(description="The trail, newest first (auditors only; logs, never content).")
    async def query_log(
        self,
        info: Info[Context, None],
        filter: QueryLogFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> QueryLogConnection:
        ctx = info.context
        page = await call(
            query_log_page(
                ctx.state.pool,
                ctx.principal,
                (filter or QueryLogFilter()).to_domain(),
                first=first,
                after=after,
                request=ctx.request,
            )
        )
        return QueryLogConnection(edges=edges(page, QueryLogEntry.of), page_info=page_info(page))

    @strawberry.field(description="Queries per organisation per day (China time), by outcome.")
    async def query_log_totals(
        self, info: Info[Context, None], filter: QueryLogFilter | None = None
    ) -> list[DailyTotal]:
        ctx = info.context
        f = (filter or QueryLogFilter(kind=TrailKind.QUERY)).to_domain()
        rows = await call(query_log_totals(ctx.state.pool, ctx.principal, f, request=ctx.request))
        return [DailyTotal(**dict(r)) for r in rows]
