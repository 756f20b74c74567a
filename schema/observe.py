"""What the access log and the metrics learn from GraphQL (api/observe/access.py): the root
field of the operation run (a name from the schema, so a bounded label; "multiple" when an
operation asks for several), the outcome (the first error's code), and client mistakes logged
as what they are: one INFO line, no source excerpt."""

from __future__ import annotations

import logging
import re

from graphql import FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.types import ExecutionContext

from api.observe.access import current

log = logging.getLogger("credit.graphql")
_CODE = re.compile(r"^[A-Z][A-Z_]{0,39}$")


def root_field(document, operation_name: str | None) -> str:
    names: set[str] = set()
    for d in document.definitions:
        if isinstance(d, OperationDefinitionNode) and (
            operation_name is None or (d.name is not None and d.name.value == operation_name)
        ):
            for s in d.selection_set.selections:
                names.add(s.name.value if isinstance(s, FieldNode) else "fragment")
            break
    if len(names) == 1:
        return names.pop()
    return "multiple" if names else "invalid"


def label_operation(ctx: ExecutionContext) -> None:
    """The operation's label; runs only for a document that parsed and validated."""
    rec = current()
    if rec is not None:
        rec.operation = root_field(ctx.graphql_document, ctx.operation_name)


def outcome_of(errors) -> str:
    """"ok", or the first error's code in lower case ("invalid" for a document the schema
    refused, "error" for a masked internal failure)."""
    if not errors:
        return "ok"
    first = errors[0]
    code = (first.extensions or {}).get("code")
    if isinstance(code, str) and _CODE.match(code):
        return code.lower()
    return "invalid" if first.original_error is None else "error"


def note_result(errors) -> None:
    rec = current()
    if rec is not None:
        rec.outcome = outcome_of(errors)


# what graphql-core quotes in its messages is what the client typed (a string literal, a
# variable's value: a subject's key or name); only a $variable's own name is kept, and a
# variable's refused value (quoted or not) is cut off
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_VARIABLE_VALUE = re.compile(r"^(Variable '\$[_A-Za-z][_0-9A-Za-z]*' (?:got|has) invalid value).*")


def _unquoted(message: str) -> str:
    message = _VARIABLE_VALUE.sub(r"\1 …", message)
    return _QUOTED.sub(lambda m: m[0] if re.fullmatch(r"'\$[_A-Za-z][_0-9A-Za-z]*'", m[0]) else "'…'",
                       message)


def bad_variable(error: GraphQLError) -> bool:
    """graphql-core's refusal of a variable's value, made before anything runs."""
    return error.path is None and error.message.startswith("Variable '$")


def log_client_errors(errors: list[GraphQLError]) -> None:
    """A document that does not parse or validate, or a variable the schema cannot take, is the
    client's mistake: INFO, one line, with what the client quoted left out."""
    first = errors[0]
    message = _unquoted(first.message.splitlines()[0]) if first.message else ""
    where = first.locations[0] if first.locations else None
    log.info("graphql document refused: %s%s%s", message,
             f" (line {where.line}, column {where.column})" if where else "",
             f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
