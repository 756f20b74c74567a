"""The GraphQL schema and its HTTP view."""

from __future__ import annotations

import re
from collections.abc import Callable

import orjson
import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from strawberry.asgi import GraphQL
from strawberry.extensions import MaskErrors
from strawberry.tools import merge_types

from api.app_state import AppState
from api.operations import PersistedOperations
from api.errors import DomainError
from api.i18n import _

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
    rights_pages,
    workdays,
)
from .authorizations import AuthorizationMutation, AuthorizationQuery  # Art. 19
from .entry_objections import EntryObjectionMutation  # Art. 25, 37-38
from .context import Context
from .execution import CreditExecutionContext
from .extension import CreditSteps
from .persisted import with_persisted_id
from .observe import bad_variable, log_client_errors, note_result
from .scalars import SCALAR_OVERRIDES

# Each capability contributes its own Query and Mutation classes; the roots are assembled here.
QUERIES: tuple[type, ...] = (queries.Query, audit.Query, catalog.CatalogQuery, ingestion.IngestionQuery, workdays.WorkdaysQuery, rights.RightsQuery, reports.ReportsQuery, lists.ListsQuery)
MUTATIONS: tuple[type, ...] = (mutations.Mutation, catalog.CatalogMutation, ingestion.IngestionMutation, rights.RightsMutation, reports.ReportsMutation, lists.ListsMutation)
QUERIES += (AuthorizationQuery, rights_pages.RightsPagesQuery)
MUTATIONS += (AuthorizationMutation, EntryObjectionMutation)
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


class CreditMaskErrors(MaskErrors):
    def _process_result(self, result: object) -> None:
        """MaskErrors' own test without its runtime-checkable protocol (an isinstance that lists
        the protocol's members on every request): a result with errors has them masked."""
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)


class CreditSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Expected refusals are answers, not faults: log only the unexpected."""
        unexpected = [e for e in errors if not _from_domain(e)]
        # syntax, validation, and a variable's value the schema cannot take (the client's value
        # in its message: never a fault's traceback in the log)
        client = [e for e in unexpected if e.original_error is None or bad_variable(e)]
        if client:
            log_client_errors(client)  # INFO, one line, quoted values left out (schema/observe.py)
        faults = [e for e in unexpected if e.original_error is not None and not bad_variable(e)]
        if faults:
            super().process_errors(faults, execution_context)


schema = CreditSchema(
    query=Query,
    mutation=Mutation,
    scalar_overrides=SCALAR_OVERRIDES,  # Date and DateTime: schema/scalars.py
    execution_context_class=CreditExecutionContext,  # plain leaves read directly (execution.py)
    extensions=[
        # factories: a fresh extension per request (shared instances leak state across requests)
        # the persisted operation, token limit, parser cache, document checks, text check,
        # operation label and dates' field names, in that order: schema/extension.py
        CreditSteps,
        # made per request, so the message is in the request's language
        lambda: CreditMaskErrors(
            should_mask_error=_mask, error_message=_("Internal error; nothing was disclosed.")
        ),
    ],
)


class CreditGraphQL(GraphQL):
    def __init__(self, get_state: Callable[[], AppState], operations: PersistedOperations | None = None):
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=False)
        self._get_state = get_state
        self._operations = operations

    async def parse_http_body(self, request):
        """A persisted operation may be named by `id` (the manifest's) instead of the extension."""
        data = await super().parse_http_body(request)
        if not isinstance(data, list) and request.method == "POST" and data.query is None:
            extensions = with_persisted_id(self.parse_json(await request.get_body()))
            if extensions is not None:
                data.extensions = extensions
        return data

    @property
    def graphql_ide_html(self) -> str:
        return graphiql.page()  # local assets only (schema/graphiql.py)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def process_result(self, request: Request, result):
        """Field suggestions are off with introspection: they would reveal the schema."""
        note_result(result.errors)  # the outcome, for the access log and metrics
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
            operations=self._operations,
        )


def build_graphql_app(get_state: Callable[[], AppState],
                      operations: PersistedOperations | None = None) -> CreditGraphQL:
    return CreditGraphQL(get_state, operations)
