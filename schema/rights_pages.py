"""The rights lists as Relay connections (README: Pagination): the cases the caller may see,
and its notifications. The plain-list fields in schema/rights.py are kept one release."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.rights import cases as rights_cases
from api.rights import notifications

from .context import Context
from .errors import call
from .pagination import Connection, CountedConnection, edges, page_info
from .rights import _env
from .rights_types import CaseKind, Notification, RightsCase


@strawberry.type(description="Cases, newest first; no totalCount (an office sees every case of "
                 "the province over the years, filtered by who may see each).")
class RightsCaseConnection(Connection[RightsCase]):
    pass


@strawberry.type(description="Notifications, newest first.")
class NotificationConnection(CountedConnection[Notification]):
    pass


@strawberry.type
class RightsPagesQuery:
    @strawberry.field(description="The cases the caller may see, newest first: the subject its own "
                      "(verified), the offices those they handle, a provider those about its records. "
                      "Each case shown is logged as read.")
    async def rights_cases_connection(
        self, info: Info[Context, None], kind: CaseKind | None = None, open: bool | None = None,
        first: int = 50, after: str | None = None,
    ) -> RightsCaseConnection:
        env = _env(info)
        page = await call(rights_cases.list_cases(
            env, info.context.principal, kind=kind.value if kind else None, open_only=open,
            first=first, after=after, request=info.context.request,
        ))
        today = env.today()
        return RightsCaseConnection(edges=edges(page, lambda c: RightsCase.of(c, today)),
                                    page_info=page_info(page))

    @strawberry.field(description="The caller's notifications, newest first: the subject's "
                      "(verified), or its organisation's in the roles it holds. Logged per subject named.")
    async def notifications_connection(
        self, info: Info[Context, None], unread_only: bool = False, first: int = 50,
        after: str | None = None,
    ) -> NotificationConnection:
        page = await call(notifications.my_notifications(
            info.context.state.pool, info.context.principal, unread_only=unread_only, first=first,
            after=after, request=info.context.request,
        ))
        return NotificationConnection(edges=edges(page, Notification.of), page_info=page_info(page),
                                      _count=page.count)
