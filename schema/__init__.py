"""The GraphQL schema and its HTTP view."""

from __future__ import annotations

import re
from collections.abc import Callable

import orjson
import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from strawberry.asgi import GraphQL
from strawberry.extensions import AddValidationRules, MaskErrors, MaxTokensLimiter, ParserCache
from strawberry.tools import merge_types

from api.app_state import AppState
from api.errors import DomainError

from . import (
    audit,
    catalog,
    graphiql,
    ingestion,
    lists,
    mutations,
    queries,
    reports,
    rights,
    workdays,
)
from .authorizations import AuthorizationMutation, AuthorizationQuery  # Art. 19
from .context import Context
from .execution import CreditExecutionContext
from .limits import DocumentChecks
from .scalars import SCALAR_OVERRIDES, TemporalFieldNames, TemporalLiteralRule
from .text_input import TextInputCheck

# Each capability contributes its own Query and Mutation classes; the roots are assembled here.
QUERIES: tuple[type, ...] = (queries.Query, audit.Query, catalog.CatalogQuery, ingestion.IngestionQuery, workdays.WorkdaysQuery, rights.RightsQuery, reports.ReportsQuery, lists.ListsQuery)
MUTATIONS: tuple[type, ...] = (mutations.Mutation, catalog.CatalogMutation, ingestion.IngestionMutation, rights.RightsMutation, reports.ReportsMutation, lists.ListsMutation)
QUERIES += (AuthorizationQuery,)
MUTATIONS += (AuthorizationMutation,)
Query = merge_types("Query", QUERIES)
Mutation = merge_types("Mutation", MUTATIONS)


def _mask(error: GraphQLError) -> bool:
    """Hide unexpected failures (they may carry SQL or internals); keep our own errors and
    GraphQL's validation messages."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    return not (error.extensions and "code" in error.extensions)


# graphql-core's "Did you mean ...?" hints name fields the caller did not ask for
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def _from_domain(error: BaseException | None) -> bool:
    """A located GraphQL error wraps ours, which wraps the DomainError: look down the chain."""
    while error is not None:
        if isinstance(error, DomainError):
            return True
        error = getattr(error, "original_error", None)
    return False


class CreditSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Expected refusals are answers, not faults: log only the unexpected."""
        unexpected = [e for e in errors if not _from_domain(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = CreditSchema(
    query=Query,
    mutation=Mutation,
    scalar_overrides=SCALAR_OVERRIDES,  # Date and DateTime: schema/scalars.py
    execution_context_class=CreditExecutionContext,  # plain leaves read directly (execution.py)
    extensions=[
        # factories: a fresh extension per request (shared instances leak state across requests)
        lambda: MaxTokensLimiter(max_token_count=2000),
        lambda: ParserCache(maxsize=256),
        # linear-cost limits, then the (cached) validation; see schema/limits.py
        DocumentChecks,
        lambda: AddValidationRules([TemporalLiteralRule]),  # dates in the query: INVALID_INPUT
        TemporalFieldNames,  # dates in variables: name the field
        TextInputCheck,  # unstorable text refused before anything runs (issue 9)
        lambda: MaskErrors(
            should_mask_error=_mask, error_message="Internal error; nothing was disclosed."
        ),
    ],
)


class CreditGraphQL(GraphQL):
    def __init__(self, get_state: Callable[[], AppState]):
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=False)
        self._get_state = get_state

    @property
    def graphql_ide_html(self) -> str:
        return graphiql.page()  # local assets only (schema/graphiql.py)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def process_result(self, request: Request, result):
        """Field suggestions are off with introspection: they would reveal the schema."""
        out = await super().process_result(request, result)
        if not self._get_state().settings.graphql_introspection:
            for error in out.get("errors") or ():
                error["message"] = SUGGESTION.sub("", error["message"])
        return out

    async def get_context(self, request: Request, response) -> Context:
        return Context(
            state=self._get_state(),
            principal=request.scope["state"]["principal"],
            request=request.scope["state"]["request_info"],
        )


def build_graphql_app(get_state: Callable[[], AppState]) -> CreditGraphQL:
    return CreditGraphQL(get_state)
