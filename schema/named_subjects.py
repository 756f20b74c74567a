"""The subjects a document names: the root fields that look subjects up, with literal or variable
keys, read without running anything, so that a request refused before it runs is still logged as
a refusal for each of them."""

from __future__ import annotations

from dataclasses import dataclass
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
    StringValueNode,
    ValueNode,
    VariableNode,
)

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
