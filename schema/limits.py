"""Limits on a GraphQL document, checked in time linear in its size before graphql-core validates
it and before any resolver runs.

Depth, aliases, root fields, fragment spreads (fan-out) and the number of fields once every
fragment is expanded are computed once per fragment (memoized) and added up with saturation: a
chain of fragments that each spread the next twice (2^n fields expanded) costs n steps here, not
2^n. The walk is iterative and never follows a fragment it is still inside, so a fragment cycle
cannot loop it (graphql-core's NoFragmentCycles then reports the cycle)."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from api.errors import DomainError
from api.i18n import N_, _

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
