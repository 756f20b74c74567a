"""Text the platform cannot store is refused before anything is looked up.

PostgreSQL text cannot hold NUL, and other control characters have no business in a key, a
purpose, a reference or a statement. Left to the database, such input fails half way through a
resolver: after a subject was looked up, with an internal error and no log row, so that the
difference between "exists" and "does not" leaks untraced (issue 9). This extension walks every
string of the request (variables, literal arguments, variable defaults, and the keys of JSON
objects) before execution and answers INVALID_INPUT naming the first offending field; nothing
runs. Tab, line feed and carriage return are text; every other C0/C1 control character and
lone surrogates are not. Linear in the request, iterative (no recursion on nested input)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from graphql.language import ArgumentNode, VariableDefinitionNode, Visitor, visit
from strawberry.types import ExecutionContext

from api.errors import InvalidInput
from api.i18n import _
from api.text import bad_character

from .errors import to_graphql_error
from .text_cache import TextCache

_storable = TextCache()  # document text -> its literals are storable



def strings_in_value(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) for every string in a JSON-like variable value, keys included."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, str):
            yield where, v
        elif isinstance(v, dict):
            for k, item in reversed(list(v.items())):
                key = str(k)
                shown = key if bad_character(key) is None else key.encode("unicode_escape").decode()
                yield f"{where}.{shown}", key
                stack.append((f"{where}.{shown}", item))
        elif isinstance(v, (list, tuple)):
            stack.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(v))))


def strings_in_node(node: ValueNode, path: str) -> Iterator[tuple[str, str]]:
    """The same for a literal in the document."""
    stack: list[tuple[str, ValueNode]] = [(path, node)]
    while stack:
        where, n = stack.pop()
        if isinstance(n, StringValueNode):
            yield where, n.value
        elif isinstance(n, ObjectValueNode):
            stack.extend((f"{where}.{f.name.value}", f.value) for f in reversed(n.fields))
        elif isinstance(n, ListValueNode):
            stack.extend((f"{where}[{i}]", v) for i, v in reversed(list(enumerate(n.values))))


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, ValueNode]] = []

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.found.append((node.name.value, node.value))

    def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> None:
        if node.default_value is not None:
            self.found.append((node.variable.name.value, node.default_value))


def first_bad_input(
    document: DocumentNode | None, variables: dict[str, Any] | None, text: str | None = None
) -> InvalidInput | None:
    def check(pairs: Iterator[tuple[str, str]]) -> InvalidInput | None:
        for where, text in pairs:
            bad = bad_character(text)
            if bad is not None:
                i, c = bad
                return InvalidInput(
                    _("{where}: character {n} ({code}) is a control character that cannot be "
                      "stored; nothing was looked up", where=where, n=i + 1, code=f"U+{ord(c):04X}"),
                    field=where,
                    rule="control_character",
                )
        return None

    storable = (document is not None and text is not None
                and _storable.get(text, lambda: _literals_storable(document), text))
    if document is not None and not storable:
        literals = _Literals()
        visit(document, literals)
        for name, node in literals.found:
            if (refusal := check(strings_in_node(node, name))) is not None:
                return refusal
    if variables and not _may_hold_unstorable(variables):
        return None  # the common case, decided at C speed: no string walk at all
    for name, value in (variables or {}).items():
        if (refusal := check(strings_in_value(value, name))) is not None:
            return refusal
    return None


def _literals_storable(document: DocumentNode) -> bool:
    """The document's literals hold no unstorable character (cached per document text: each
    document is walked once, not on every request)."""
    literals = _Literals()
    visit(document, literals)
    return all(
        bad_character(text) is None
        for name, node in literals.found
        for _, text in strings_in_node(node, name)
    )


# In orjson's output a control character of a string (or key) is an escape: \u0000-\u001f
# (\b and \f by name; \t, \n, \r are text), C1 characters stay raw. A match may be a false
# alarm (a backslash the client typed before "u0000"): the walk below then decides.
_ESCAPED_UNSTORABLE = re.compile(rb"\\u00[01][0-9a-fA-F]|\\[bf]|\\u007[fF]|\xc2[\x7f-\x9f]|\x7f")


def _may_hold_unstorable(variables: dict[str, Any]) -> bool:
    try:
        blob = orjson.dumps(variables, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # a lone surrogate, or something odd: walk it
        return True
    return _ESCAPED_UNSTORABLE.search(blob) is not None


KEY_ARGUMENTS = frozenset({"key", "keys", "subject", "subjects", "subjectKey", "subjectKeys"})
MAX_NAMED = 100


def named_subjects(document: DocumentNode | None, variables: dict[str, Any] | None) -> list[str]:
    """The valid subject keys a request names (arguments and input fields called key, keys,
    subject, subjects, subjectKey), canonical, at most MAX_NAMED: a refused request that names a
    subject is logged against it."""
    from api.identifiers import IdentifierError, parse_subject_key

    raw: list[str] = []
    if document is not None:
        literals = _Literals()
        visit(document, literals)
        stack = [(name, node) for name, node in literals.found]
        while stack and len(raw) < MAX_NAMED:
            name, node = stack.pop()
            if isinstance(node, ObjectValueNode):
                stack.extend((f.name.value, f.value) for f in node.fields)
            elif name in KEY_ARGUMENTS and isinstance(node, VariableNode):
                value = (variables or {}).get(node.name.value)
                raw.extend(x for x in (value if isinstance(value, list) else [value]) if isinstance(x, str))
            elif name in KEY_ARGUMENTS:
                raw.extend(text for _, text in strings_in_node(node, name))
    values: list[Any] = list((variables or {}).items())
    while values and len(raw) < MAX_NAMED:
        name, v = values.pop()
        if isinstance(v, dict):
            values.extend(v.items())
        elif name in KEY_ARGUMENTS:
            raw.extend(x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str))
        elif isinstance(v, list):
            values.extend((name, x) for x in v if isinstance(x, dict))
    keys: list[str] = []
    for text in raw[:MAX_NAMED]:
        try:
            keys.append(parse_subject_key(text).value)
        except IdentifierError:
            continue
    return list(dict.fromkeys(keys))


def _root_fields(document: DocumentNode | None) -> str:
    names = [sel.name.value for d in (document.definitions if document else ())
             for sel in getattr(getattr(d, "selection_set", None), "selections", ()) if hasattr(sel, "name")]
    return ",".join(dict.fromkeys(names))[:200] or "graphql"


async def refuse_bad_text(ctx: ExecutionContext) -> None:
    """Refuse unstorable text before execution (schema/extension.py); the refusal is logged
    against every valid subject key the request names."""
    refusal = first_bad_input(ctx.graphql_document, ctx.variables, ctx.query)
    if refusal is not None:
        keys = named_subjects(ctx.graphql_document, ctx.variables)
        errors = [to_graphql_error(refusal)]
        if keys:
            from api.disclosure.service import log_refusal
            from api.errors import DomainError

            c = ctx.context
            try:
                await log_refusal(c.state.disclosure, c.principal, c.request, keys, None,
                                   _root_fields(ctx.graphql_document), refusal)
            except DomainError as e:  # the log is down: say so too (nothing ran either way)
                errors.append(to_graphql_error(e))
        ctx.result = ExecutionResult(data=None, errors=errors)
