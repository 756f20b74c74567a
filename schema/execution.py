"""GraphQL execution with short paths for plain fields and plain objects.

A lookup's answer is mostly leaves read off an object: a record's id, status, decidedOn, an
item's code and name. graphql-core resolves each through the same steps as a field with a
resolver (a resolve-info object, the field's path, argument coercion, awaitable checks), which
costs several times the read itself. Two short paths, both taken only where Strawberry marks a
field basic (no resolver, no field extension, no arguments: the attribute of the object):

- a basic field whose type is a scalar or an enum, nullable or not, is read and serialized
  directly, by the same resolver and the same `coerce_output_value` graphql-core would call;
- an object whose selected fields are all basic (leaves, objects of the same kind, or lists of
  either; `__typename`) is completed by a plan made once per execution and selection: the
  selection graphql-core collected (fragments, aliases, `@include`/`@skip` applied), walked in
  its order with the same resolvers and serializers.

Whatever would not be a plain value (an error, a null in a non-null place, an awaitable, a value
the scalar refuses, something not a list where a list is due) abandons the short path for that
field or object, with nothing written: graphql-core then completes it its own way and produces
exactly its answer and error, paths included. Reads are attribute reads, so reading twice
changes nothing. Types with an `is_type_of` check, abstract types and deferred or streamed
selections always go graphql-core's way. Schema extensions that wrap resolvers (a `resolve`
hook) turn both short paths off for the request."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    is_leaf_type,
)
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_NOT_PLAIN = object()
_PLAIN_DIRECTIVES = frozenset({"include", "skip"})  # applied by collection; nothing later
# kinds of a plan's entries
_TYPENAME, _LEAF, _OBJECT, _LIST = range(4)


def _probe(*_: Any) -> None:  # a resolver no middleware knows: tells whether any is installed
    return None


def _leaf_plan(field: GraphQLField) -> tuple[Any, GraphQLLeafType, bool] | None:
    """(resolver, leaf type, non-null) for a basic Strawberry field of scalar or enum type."""
    known = _plans.get(id(field))
    if known is not None and known[0] is field:  # the id of a live field: that field's plan
        return known[1]
    resolve = field.resolve
    kind = field.type
    non_null = isinstance(kind, GraphQLNonNull)
    if non_null:
        kind = kind.of_type
    plan = None
    if _is_basic(field) and is_leaf_type(kind):
        plan = (resolve, kind, non_null)
    _plans[id(field)] = (field, plan)  # fields are not hashable; the entry keeps it alive
    return plan


def _is_basic(field: GraphQLField) -> bool:
    return getattr(field.resolve, "_is_default", False) and not field.args


_plans: dict[int, tuple[GraphQLField, tuple[Any, GraphQLLeafType, bool] | None]] = {}


class CreditExecutionContext(StrawberryGraphQLCoreExecutionContext):
    _plain_resolvers: bool | None = None
    _object_plans: dict[tuple[GraphQLObjectType, int], tuple[Any, tuple | None]] | None = None

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        if not node.arguments:
            field = parent_type.fields.get(node.name.value)  # meta fields (__typename): not here
            plan = _leaf_plan(field) if field is not None else None
            if plan is not None and self._no_middleware():
                value = _plain_value(plan, source, self.is_awaitable)
                if value is not _NOT_PLAIN:
                    return value
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if return_type.is_type_of is None and self._no_middleware():
            plan = self._object_plan(return_type, field_details_list)
            if plan is not None:
                value = _run_plan(plan, result, self.is_awaitable)
                if value is not _NOT_PLAIN:
                    return value
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _no_middleware(self) -> bool:
        if self._plain_resolvers is None:
            manager = self.middleware_manager
            self._plain_resolvers = manager is None or manager.get_field_resolver(_probe) is _probe
        return self._plain_resolvers

    def _object_plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> tuple | None:
        """The plan for completing `object_type` with this selection, or None. Memoized per
        execution as graphql-core memoizes collection (on the selection's identity, kept alive
        with the entry so that the identity is not reused), and across executions of the same
        parsed document when it has no directive (then no variable can change the selection):
        by the selection's field nodes, kept alive with the entry and compared by identity."""
        plans = self._object_plans
        if plans is None:
            plans = self._object_plans = {}
        key = (object_type, id(field_details_list))
        known = plans.get(key)
        if known is not None:
            return known[1]
        plans[key] = (field_details_list, None)  # a selection that reaches itself: no plan
        if _directive_free(self.operation, self.fragments):
            nodes = tuple(d.node for d in field_details_list)
            shared_key = (object_type, tuple(map(id, nodes)))
            shared = _shared_plans.get(shared_key)
            if shared is not None and all(a is b for a, b in zip(shared[0], nodes, strict=True)):
                plan = shared[1]
            else:
                plan = self._make_plan(object_type, field_details_list)
                if len(_shared_plans) >= _SHARED_PLANS_MAX:
                    _shared_plans.clear()
                _shared_plans[shared_key] = (nodes, plan)
        else:
            plan = self._make_plan(object_type, field_details_list)
        plans[key] = (field_details_list, plan)
        return plan

    def _make_plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> tuple | None:
        grouped, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if defer_usages:
            return None
        entries = []
        for response_key, details in grouped.items():
            if not all(_plain_selection(d) for d in details):
                return None
            name = details[0].node.name.value
            if name == "__typename":
                entries.append((response_key, _TYPENAME, object_type.name, None, False))
                continue
            field = object_type.fields.get(name)
            if field is None or not _is_basic(field):
                return None
            kind, non_null = _unwrap(field.type)
            if isinstance(kind, GraphQLList):
                item, item_non_null = _unwrap(kind.of_type)
                inner = self._value_plan(item, details)
                if inner is None:
                    return None
                entries.append((response_key, _LIST, field.resolve, (inner, item_non_null), non_null))
                continue
            inner = self._value_plan(kind, details)
            if inner is None:
                return None
            entries.append((response_key, inner[0], field.resolve, inner[1], non_null))
        return tuple(entries)

    def _value_plan(self, kind: Any, details: Any) -> tuple[int, Any] | None:
        """(_LEAF, leaf type) or (_OBJECT, its plan) for a named type, or None."""
        if is_leaf_type(kind):
            return (_LEAF, kind)
        if isinstance(kind, GraphQLObjectType) and kind.is_type_of is None:
            plan = self._object_plan(kind, details)
            return None if plan is None else (_OBJECT, plan)
        return None  # abstract types, lists of lists


_shared_plans: dict[tuple, tuple[tuple, tuple | None]] = {}
_SHARED_PLANS_MAX = 2048  # selections of the documents in use; emptied when full
_free_documents: dict[int, tuple[Any, bool]] = {}  # id(operation) -> (operation, no directive)


def _directive_free(operation: Any, fragments: Any) -> bool:
    """Whether an operation and the fragments beside it carry no directive anywhere (so the
    selection collected for a set of field nodes is the same in every execution)."""
    known = _free_documents.get(id(operation))
    if known is not None and known[0] is operation:
        return known[1]
    roots = [operation, *(f.definition if hasattr(f, "definition") else f
                          for f in (fragments or {}).values())]
    free = not any(_has_directive(root) for root in roots)
    if len(_free_documents) >= _SHARED_PLANS_MAX:
        _free_documents.clear()
    _free_documents[id(operation)] = (operation, free)
    return free


def _has_directive(node: Any) -> bool:
    stack = [node]
    while stack:
        node = stack.pop()
        if getattr(node, "directives", None):
            return True
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return False


def _unwrap(kind: Any) -> tuple[Any, bool]:
    if isinstance(kind, GraphQLNonNull):
        return kind.of_type, True
    return kind, False


def _plain_selection(details: Any) -> bool:
    """A field selection with nothing for execution to do but read: no arguments, no directive
    beyond @include/@skip (already applied), not deferred, no fragment variables."""
    node = details.node
    if node.arguments or details.defer_usage is not None:
        return False
    if details.fragment_variable_values is not None:
        return False
    return all(d.name.value in _PLAIN_DIRECTIVES for d in node.directives or ())


def _run_plan(plan: tuple, source: Any, is_awaitable: Any) -> Any:
    """The completed object, or _NOT_PLAIN when graphql-core's own path must decide."""
    out: dict[str, Any] = {}
    for key, kind, resolve, inner, non_null in plan:
        if kind == _TYPENAME:
            out[key] = resolve
            continue
        try:
            value = resolve(source, None)
        except Exception:
            return _NOT_PLAIN
        value = _complete(value, kind, inner, non_null, is_awaitable)
        if value is _NOT_PLAIN:
            return _NOT_PLAIN
        out[key] = value
    return out


def _complete(value: Any, kind: int, inner: Any, non_null: bool, is_awaitable: Any) -> Any:
    if value is None or value is Undefined:
        return _NOT_PLAIN if non_null else None
    if isinstance(value, Exception) or is_awaitable(value):
        return _NOT_PLAIN
    if kind == _LEAF:
        try:
            out = inner.coerce_output_value(value)
        except Exception:
            return _NOT_PLAIN
        return _NOT_PLAIN if out is None or out is Undefined else out
    if kind == _OBJECT:
        return _run_plan(inner, value, is_awaitable)
    if not isinstance(value, (list, tuple)):  # other iterables: graphql-core decides
        return _NOT_PLAIN
    (item_kind, item_inner), item_non_null = inner
    items = []
    for item in value:
        done = _complete(item, item_kind, item_inner, item_non_null, is_awaitable)
        if done is _NOT_PLAIN:
            return _NOT_PLAIN
        items.append(done)
    return items


def _plain_value(plan: tuple[Any, GraphQLLeafType, bool], source: Any, is_awaitable) -> Any:
    """The serialized value, or _NOT_PLAIN when graphql-core's own path must decide."""
    resolve, leaf, non_null = plan
    try:
        value = resolve(source, None)
    except Exception:
        return _NOT_PLAIN
    return _complete(value, _LEAF, leaf, non_null, is_awaitable)
