"""Limits on a GraphQL document, checked in time linear in its size before graphql-core validates
it and before any resolver runs.

Depth, aliases, root fields, fragment spreads (fan-out) and the number of fields once every
fragment is expanded are computed once per fragment (memoized) and added up with saturation: a
chain of fragments that each spread the next twice (2^n fields expanded) costs n steps here, not
2^n. The walk is iterative and never follows a fragment it is still inside, so a fragment cycle
cannot loop it (graphql-core's NoFragmentCycles then reports the cycle).

Also here: the subjects a document names (root fields with literal or variable keys), so that a
request refused before it runs is still logged as a refusal for each of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.types import ExecutionContext
from strawberry.schema.schema import validate_document

from api.errors import DomainError
from api.i18n import N_, _, current_locale

from .errors import to_graphql_error

CAP = 1 << 31  # counts saturate here: they are only compared with limits far below it


class QueryTooComplex(DomainError):
    code = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True)
class DocumentLimits:
    depth: int = 8  # a field's nesting in fields; root fields are at depth 0
    aliases: int = 20
    root_fields: int = 20
    fragment_spreads: int = 100  # fan-out: fragment spreads once fragments are expanded
    # fields once fragments are expanded; also bounds graphql-core's overlap check, quadratic in
    # fields of one name (1,000 repeats of one field: 0.3 s; 300: 0.04 s). GraphiQL's
    # introspection query has 229.
    expanded_fields: int = 300


# rule: what is counted (a msgid)
_WHAT = {
    "max_expanded_fields": N_("fields once fragments are expanded"),
    "max_fragment_spreads": N_("fragment spreads once expanded"),
    "max_depth": N_("depth"),
    "max_aliases": N_("aliases"),
    "max_root_fields": N_("root fields"),
}


@dataclass
class _Counts:
    """One operation or fragment: its own counts, then (in `_total`) with its spreads expanded."""

    fields: int = 0
    aliases: int = 0
    spreads: int = 0
    depth: int = 0
    root_fields: int = 0
    # the spreads written in it: (fragment name, depth of the spread, at its top level?)
    calls: list[tuple[str, int, bool]] = field(default_factory=list)


def _scan(selection_set: SelectionSetNode) -> _Counts:
    """Count one definition's own selections (spreads are only noted): each node once."""
    c = _Counts()
    stack: list[tuple[SelectionSetNode, int, bool]] = [(selection_set, 0, True)]
    while stack:
        selections, level, top = stack.pop()
        for s in selections.selections:
            if isinstance(s, FieldNode):
                c.fields += 1
                c.aliases += s.alias is not None
                c.root_fields += top
                c.depth = max(c.depth, level)
                if s.selection_set is not None:
                    # introspection's ofType chains (GraphiQL's TypeRef) add no depth
                    deeper = level if s.name.value == "ofType" else level + 1
                    stack.append((s.selection_set, deeper, False))
            elif isinstance(s, InlineFragmentNode):
                stack.append((s.selection_set, level, top))
            elif isinstance(s, FragmentSpreadNode):
                c.calls.append((s.name.value, level, top))
    return c


def _total(own: _Counts, done: dict[str, _Counts]) -> _Counts:
    """`own` with every spread replaced by the fragment's (already computed) totals."""
    t = _Counts(own.fields, own.aliases, 0, own.depth, own.root_fields)
    for name, level, top in own.calls:
        t.spreads = min(CAP, t.spreads + 1)
        sub = done.get(name)
        if sub is None:  # unknown fragment, or one we are inside (a cycle): validation says so
            continue
        t.fields = min(CAP, t.fields + sub.fields)
        t.aliases = min(CAP, t.aliases + sub.aliases)
        t.spreads = min(CAP, t.spreads + sub.spreads)
        t.depth = max(t.depth, level + sub.depth)
        if top:
            t.root_fields = min(CAP, t.root_fields + sub.root_fields)
    return t


def _expand(own: dict[str, _Counts]) -> dict[str, _Counts]:
    """Every fragment's totals, each computed once, children first (iterative, cycle-safe)."""
    done: dict[str, _Counts] = {}
    inside: set[str] = set()
    for start in own:
        if start in done:
            continue
        stack = [(start, 0)]
        inside.add(start)
        while stack:
            name, i = stack[-1]
            calls = own[name].calls
            if i < len(calls):
                stack[-1] = (name, i + 1)
                child = calls[i][0]
                if child in own and child not in done and child not in inside:
                    inside.add(child)
                    stack.append((child, 0))
                continue
            stack.pop()
            inside.discard(name)
            done[name] = _total(own[name], done)
    return done


def _over(t: _Counts, limits: DocumentLimits, *, operation: bool) -> QueryTooComplex | None:
    checks = [
        ("max_expanded_fields", t.fields, limits.expanded_fields),
        ("max_fragment_spreads", t.spreads, limits.fragment_spreads),
    ]
    if operation:
        checks += [
            ("max_depth", t.depth, limits.depth),
            ("max_aliases", t.aliases, limits.aliases),
            ("max_root_fields", t.root_fields, limits.root_fields),
        ]
    for rule, n, limit in checks:
        if n > limit:
            return QueryTooComplex(
                _("query too complex: more {what} than the limit of {limit}",
                  what=_(_WHAT[rule]), limit=limit),
                field="query",
                rule=rule,
            )
    return None


def check_document(document: DocumentNode, limits: DocumentLimits) -> QueryTooComplex | None:
    """The first limit the document goes over, or None. Linear in the document's size."""
    own: dict[str, _Counts] = {}
    operations: list[_Counts] = []
    for d in document.definitions:
        if isinstance(d, FragmentDefinitionNode):
            own.setdefault(d.name.value, _scan(d.selection_set))  # duplicates: validation
        elif isinstance(d, OperationDefinitionNode):
            operations.append(_scan(d.selection_set))
    done = _expand(own)
    for t in [_total(op, done) for op in operations]:
        if problem := _over(t, limits, operation=True):
            return problem
    for t in done.values():  # unused fragments too: nothing expands past the limits
        if problem := _over(t, limits, operation=False):
            return problem
    return None


# --- the subjects a document names ------------------------------------------------------------

# root fields that look subjects up, and the argument that names them
SUBJECT_FIELDS = {"subject": "key", "subjects": "keys", "jointPunishmentBasis": "key"}
# keys read from one document at most: 20 root fields of 100 keys. Past it the request is over
# a limit anyway, and validating (and logging) a million keys from a variable would hold the
# event loop: those past it are neither examined nor logged.
NAMED_MAX = 2000


@dataclass(frozen=True)
class NamedSubject:
    operation: str  # the root field, as the query log names the operation
    key: str  # as given, not yet validated
    purpose: str | None
    at: int = 0  # which field of the document named it (a field's keys share one)


def named_subjects(
    document: DocumentNode,
    operation_name: str | None,
    variables: Any,
    own_key: str | None,
) -> list[NamedSubject]:
    """Subjects named by the root fields of the query that would run (every query of the
    document when none is chosen), through inline fragments and spreads; each fragment is read
    once; at most NAMED_MAX. `own_key` is the caller's subject key, which `myCredit` names."""
    variables = variables if isinstance(variables, dict) else {}
    fragments: dict[str, FragmentDefinitionNode] = {}
    operations = []
    for d in document.definitions:
        if isinstance(d, FragmentDefinitionNode):
            fragments.setdefault(d.name.value, d)
        elif isinstance(d, OperationDefinitionNode) and d.operation == OperationType.QUERY:
            chosen = operation_name is None or (d.name is not None and d.name.value == operation_name)
            if chosen:
                operations.append(d)
    found: list[NamedSubject] = []
    for op in operations:
        defaults = {v.variable.name.value: v.default_value for v in op.variable_definitions or ()}
        seen: set[str] = set()
        stack = [op.selection_set]
        while stack:
            for s in stack.pop().selections:
                if isinstance(s, FieldNode) and len(found) < NAMED_MAX:
                    found += _named_by(s, variables, defaults, own_key, NAMED_MAX - len(found))
                elif isinstance(s, InlineFragmentNode):
                    stack.append(s.selection_set)
                elif isinstance(s, FragmentSpreadNode):
                    name = s.name.value
                    if name in fragments and name not in seen:
                        seen.add(name)
                        stack.append(fragments[name].selection_set)
    return found


def _named_by(
    f: FieldNode, variables: dict, defaults: dict, own_key: str | None, cap: int
) -> list[NamedSubject]:
    name = f.name.value
    if name == "myCredit":
        return [NamedSubject(name, own_key, None, id(f))] if own_key else []
    if name not in SUBJECT_FIELDS:
        return []
    args = {a.name.value: a.value for a in f.arguments or ()}
    purposes = _strings(args.get("purpose"), variables, defaults)
    purpose = purposes[0] if purposes else None
    keys = _strings(args.get(SUBJECT_FIELDS[name]), variables, defaults, cap)
    return [NamedSubject(name, k, purpose, id(f)) for k in keys]


def _strings(node: ValueNode | None, variables: dict, defaults: dict, cap: int = 1) -> list[str]:
    """At most `cap` strings a (list of) ID or String argument gives: literals, variables (or
    their defaults), and literals or variables inside a list literal."""
    if isinstance(node, VariableNode):
        name = node.name.value
        if name not in variables:
            default = defaults.get(name)
            return [] if isinstance(default, VariableNode) else _strings(default, {}, {}, cap)
        value = variables[name]
        items = value[:cap] if isinstance(value, list) else [value]
        return [str(v) for v in items if isinstance(v, str | int) and not isinstance(v, bool)]
    if isinstance(node, StringValueNode | IntValueNode):
        return [node.value][:cap]
    out: list[str] = []
    if isinstance(node, ListValueNode):
        for v in node.values or ():
            if len(out) >= cap:
                break
            if not isinstance(v, ListValueNode):  # [[...]] is not a key list; validation says so
                out += _strings(v, variables, defaults, cap - len(out))
    return out


# --- the extension ------------------------------------------------------------------------------

# the longest document text a cache keeps (the parser's, and the TextCaches below): a body may
# carry a 1 MiB document (a comment, a long string: the token limit does not bound its length),
# and 256 of them held 540 MB in each process; longer documents are parsed and checked each time
MAX_CACHED_TEXT = 32 << 10


class TextCache:
    """Results that depend on a document alone, keyed by its text and whatever else they
    depend on. Not keyed by the parsed document: graphql-core's nodes are frozen dataclasses,
    whose hash walks the whole tree on every call (~20 us for a small lookup query). A text
    longer than MAX_CACHED_TEXT is not kept."""

    def __init__(self, maxsize: int = 256):
        self.maxsize = maxsize
        self.entries: dict[Any, Any] = {}

    def get(self, key: Any, compute: Callable[[], Any], text: str) -> Any:
        if len(text) > MAX_CACHED_TEXT:
            return compute()
        try:
            return self.entries[key]
        except KeyError:
            pass
        value = compute()
        if len(self.entries) >= self.maxsize:
            self.entries.pop(next(iter(self.entries)))  # the oldest
        self.entries[key] = value
        return value


# documents validate once per language: (schema, text, rules, locale) -> errors
_validated = TextCache()
# the limits' verdict on a document within them (one over a limit is checked again, so that
# each refusal gets its own error)
_within_limits = TextCache()


def _validate(schema, document: DocumentNode, rules: tuple, text: str | None, locale: str) -> list:
    """Once per document and language: a literal's error (a bad Date, schema/scalars.py) is
    written in the language of the request."""
    if text is None:
        return validate_document(schema, document, rules)
    return _validated.get((schema, text, rules, locale), lambda: validate_document(schema, document, rules), text)


def _over_limits(
    document: DocumentNode, limits: DocumentLimits, text: str | None
) -> QueryTooComplex | None:
    if text is not None and _within_limits.get(
        (text, limits), lambda: check_document(document, limits) is None, text
    ):
        return None
    return check_document(document, limits)


LIMITS = DocumentLimits()


async def check_request(ec: ExecutionContext) -> None:
    """The validation step (schema/extension.py), in place of strawberry's ValidationCache: the
    limits above first, then the request's subject count (the batch maximum across all fields),
    and only then graphql-core's validation, with introspection refused unless the settings turn
    it on. A refusal names the limit and is logged for every subject the document named."""
    ctx = ec.context
    document = ec.graphql_document
    assert document is not None  # parsed, or strawberry answered already
    named = named_subjects(
        document, ec.operation_name, ec.variables, ctx.principal.subject_key
    )
    refusal: DomainError | None = (
        ctx.operation_refusal or _over_limits(document, LIMITS, ec.query) or ctx.over_batch(named)
    )
    if refusal is not None:
        try:
            await ctx.refuse(named, refusal)
        except DomainError as e:  # the refusal could not be logged: say so
            refusal = e
        ec.pre_execution_errors = [to_graphql_error(refusal)]
    else:
        rules = tuple(ec.validation_rules)
        if not ctx.state.settings.graphql_introspection:
            rules = (*rules, NoSchemaIntrospectionCustomRule)
        ec.pre_execution_errors = _validate(ec.schema._schema, document, rules, ec.query, current_locale())
