"""Relay connections: the one wire shape of every unbounded list (README: Pagination).

Each list names its own subclass (`RightsCaseConnection(CountedConnection[RightsCase])`):
`edges { cursor node }` and `pageInfo`, plus `totalCount` only on `CountedConnection`, where
counting is cheap (README: Pagination lists where it is omitted and why)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

from api.pagination import Page

T = TypeVar("T")

DEPRECATED_ONE_RELEASE = "kept one release; removed in the next (README: Pagination)"


@strawberry.type(description="Where a page sits in its list (Relay).")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = strawberry.field(
        default=False, description="Forward paging: true once `after` was given."
    )
    start_cursor: str | None = None


@strawberry.type
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque; pass as `after` to read on from here.")
    node: T


@strawberry.type
class Connection(Generic[T]):
    """A page of a list too long to count cheaply: no totalCount."""

    edges: list[Edge[T]]
    page_info: PageInfo


@strawberry.type
class CountedConnection(Connection[T], Generic[T]):
    """A page of a list whose count is cheap (an indexed count over one subject or recipient).
    Counted only when `totalCount` is asked for."""

    _count: strawberry.Private[Callable[[], Awaitable[int]] | None] = None

    @strawberry.field(description="How many items the whole list holds (not the page).")
    async def total_count(self) -> int:
        assert self._count is not None, "a counted list's service gives its count"
        return await self._count()


@strawberry.type
class ItemsConnection(Connection[T], Generic[T]):
    """A list that had its own page shape (`items`, `hasNextPage`, `endCursor`) before the
    connections: those fields kept one release, deprecated."""

    @strawberry.field(deprecation_reason="Use edges { node }; " + DEPRECATED_ONE_RELEASE)
    def items(self) -> list[T]:
        return [e.node for e in self.edges]

    @strawberry.field(deprecation_reason="Use pageInfo { hasNextPage }; " + DEPRECATED_ONE_RELEASE)
    def has_next_page(self) -> bool:
        return self.page_info.has_next_page

    @strawberry.field(deprecation_reason="Use pageInfo { endCursor }; " + DEPRECATED_ONE_RELEASE)
    def end_cursor(self) -> str | None:
        return self.page_info.end_cursor


def page_info(page: Page[Any]) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next,
        end_cursor=page.cursors[-1] if page.cursors else None,
        has_previous_page=page.has_previous,
        start_cursor=page.cursors[0] if page.cursors else None,
    )


def edges(page: Page[Any], node: Callable[[Any], T]) -> list[Edge[T]]:
    return [Edge(cursor=c, node=node(item)) for c, item in zip(page.cursors, page.items, strict=True)]
