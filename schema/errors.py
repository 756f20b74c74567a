"""Domain errors to GraphQL errors, in one place."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from graphql import GraphQLError

from api.errors import DomainError

T = TypeVar("T")


def to_graphql_error(e: DomainError) -> GraphQLError:
    extensions = {"code": e.code}
    if e.field:
        extensions["field"] = e.field
    if e.rule:
        extensions["rule"] = e.rule
    return GraphQLError(e.message, extensions=extensions, original_error=e)


async def call(awaitable: Awaitable[T]) -> T:
    """Await a service call; a domain error becomes a GraphQL error with code, field, rule."""
    try:
        return await awaitable
    except DomainError as e:
        raise to_graphql_error(e) from e
