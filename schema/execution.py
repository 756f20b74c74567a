"""GraphQL execution with a short path for plain leaf fields.

A lookup's answer is mostly leaves read off an object: a record's id, status, decidedOn, an
item's code and name. graphql-core resolves each through the same steps as a field with a
resolver (a resolve-info object, the field's path, argument coercion, awaitable checks), which
costs several times the read itself. Here a field that Strawberry marks basic (no resolver, no
field extension, no arguments: the attribute of the object) and whose type is a scalar or an
enum, nullable or not, is read and serialized directly, by the same resolver and the same
`coerce_output_value` graphql-core would call. Whatever would not be a plain value (an error, a
null in a non-null field, an awaitable, a value the scalar refuses) goes the normal way, which
then produces exactly graphql-core's answer and error. Schema extensions that wrap resolvers
(a `resolve` hook) turn the short path off for the request."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    is_leaf_type,
)
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_NOT_PLAIN = object()


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
    if getattr(resolve, "_is_default", False) and not field.args and is_leaf_type(kind):
        plan = (resolve, kind, non_null)
    _plans[id(field)] = (field, plan)  # fields are not hashable; the entry keeps it alive
    return plan


_plans: dict[int, tuple[GraphQLField, tuple[Any, GraphQLLeafType, bool] | None]] = {}


class CreditExecutionContext(StrawberryGraphQLCoreExecutionContext):
    _plain_resolvers: bool | None = None

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

    def _no_middleware(self) -> bool:
        if self._plain_resolvers is None:
            manager = self.middleware_manager
            self._plain_resolvers = manager is None or manager.get_field_resolver(_probe) is _probe
        return self._plain_resolvers


def _plain_value(plan: tuple[Any, GraphQLLeafType, bool], source: Any, is_awaitable) -> Any:
    """The serialized value, or _NOT_PLAIN when graphql-core's own path must decide."""
    resolve, leaf, non_null = plan
    try:
        value = resolve(source, None)
    except Exception:
        return _NOT_PLAIN
    if value is None or value is Undefined:
        return _NOT_PLAIN if non_null else None
    if isinstance(value, Exception) or is_awaitable(value):
        return _NOT_PLAIN
    try:
        out = leaf.coerce_output_value(value)
    except Exception:
        return _NOT_PLAIN
    return _NOT_PLAIN if out is None or out is Undefined else out
