"""The object plans of schema/execution.py answer exactly as graphql-core does, on a schema of
their own: aliases, fragments, @include/@skip, __typename, nested objects and lists, and every
way a value can stop being plain (an error, a null in a non-null place, a refused scalar, an
iterable that is not a list), each query run with the plans and without."""

from __future__ import annotations

import enum
import itertools

import pytest
import strawberry
from strawberry.extensions import ParserCache
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema import execution
from schema.execution import CreditExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Child:
    code: str
    value: int | None


@strawberry.type
class Parent:
    id: strawberry.ID
    name: str | None
    count: int
    colour: Colour
    tags: list[str]
    child: Child
    maybe_child: Child | None
    children: list[Child]
    loose: list[Child | None] | None

    @strawberry.field
    def computed(self) -> str:  # a resolver: the parent is not plain, its children may be
        return f"{self.id}!"


class Boom:
    """An attribute that raises when read."""

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        raise ValueError("cannot read")


def parents(variant: str) -> list[Parent]:
    kids = [Child(code="a", value=1), Child(code="b", value=None)]
    p = Parent(id=strawberry.ID("1"), name="甲", count=2, colour=Colour.RED, tags=["x", "y"],
               child=Child(code="c", value=3), maybe_child=None, children=kids,
               loose=[None, Child(code="d", value=4)])
    if variant == "null in non-null leaf":
        p.children = [Child(code=None, value=1)]  # type: ignore[arg-type]
    elif variant == "null in non-null object":
        p.child = None  # type: ignore[assignment]
    elif variant == "null item in non-null list":
        p.children = [kids[0], None]  # type: ignore[list-item]
    elif variant == "refused scalar":
        p.count = "many"  # type: ignore[assignment]
    elif variant == "wrong enum":
        p.colour = "green"  # type: ignore[assignment]
    elif variant == "raising attribute":
        class Raising(Child):
            code = Boom()  # type: ignore[assignment]
        p.child = Raising.__new__(Raising)
        p.child.value = 1
    elif variant == "a tuple":
        p.children = tuple(kids)  # type: ignore[assignment]
    elif variant == "a generator":
        p.children = (k for k in kids)  # type: ignore[assignment]
    elif variant == "an exception as value":
        p.maybe_child = ValueError("stored error")  # type: ignore[assignment]
    return [p, Parent(id=strawberry.ID("2"), name=None, count=0, colour=Colour.BLUE, tags=[],
                      child=Child(code="e", value=None), maybe_child=Child(code="f", value=5),
                      children=[], loose=None)]


VARIANT = {"name": "plain"}


@strawberry.type
class Query:
    @strawberry.field
    def parents(self) -> list[Parent]:
        return parents(VARIANT["name"])


plans_schema = strawberry.Schema(  # the parser cache: the same document object each time
    query=Query, execution_context_class=CreditExecutionContext, extensions=[ParserCache]
)

QUERIES = {
    "everything": """{ parents { __typename id name count colour tags
        child { __typename code value } maybeChild { code } children { code value }
        loose { code value } computed } }""",
    "aliases and merged fields": """{ parents { a: id id b: child { code } child { value }
        child { code } kids: children { c: code } } }""",
    "fragments and skip": """query($on: Boolean!, $off: Boolean!) {
        parents { ...P child @include(if: $on) { ...C } children @skip(if: $off) { ...C value } }
      }
      fragment P on Parent { id ... on Parent { name colour } tags @include(if: $off) }
      fragment C on Child { code value @skip(if: $on) }""",
    "only leaves": "{ parents { id count colour } }",
}
VARIANTS = ["plain", "null in non-null leaf", "null in non-null object",
            "null item in non-null list", "refused scalar", "wrong enum", "raising attribute",
            "a tuple", "a generator", "an exception as value"]


def run(query: str, context_class, variables) -> dict:
    plans_schema.execution_context_class = context_class
    try:
        result = plans_schema.execute_sync(query, variable_values=variables)
    finally:
        plans_schema.execution_context_class = CreditExecutionContext
    return {"data": result.data,
            "errors": [(e.message, e.path) for e in result.errors or ()]}


@pytest.mark.parametrize("query_name,variant", list(itertools.product(QUERIES, VARIANTS)))
@pytest.mark.parametrize("on,off", [(True, False), (False, True)])
def test_plans_answer_as_graphql_core(monkeypatch, query_name, variant, on, off):
    taken = []
    run_plan = execution._run_plan
    monkeypatch.setattr(execution, "_run_plan", lambda *a: taken.append(run_plan(*a)) or taken[-1])
    VARIANT["name"] = variant
    variables = {"on": on, "off": off}
    with_plans = run(QUERIES[query_name], CreditExecutionContext, variables)
    without = run(QUERIES[query_name], StrawberryGraphQLCoreExecutionContext, variables)
    assert with_plans == without
    if variant in ("plain", "a tuple"):
        assert not with_plans["errors"]
        assert any(v is not execution._NOT_PLAIN for v in taken)  # a plan did answer
    if query_name == "everything" and variant not in ("plain", "a tuple", "a generator"):
        assert with_plans["errors"]  # each broken variant is selected there


def test_a_plan_is_made_once_per_selection_and_shared_only_without_directives(monkeypatch):
    made = []
    make = CreditExecutionContext._make_plan
    monkeypatch.setattr(CreditExecutionContext, "_make_plan",
                        lambda self, t, d: made.append(t.name) or make(self, t, d))
    monkeypatch.setattr(execution, "_shared_plans", {})
    VARIANT["name"] = "plain"
    for _ in range(3):
        assert not run(QUERIES["everything"], CreditExecutionContext, {})["errors"]
    # made in the first execution only: Parent (it has a resolver field: no plan, then known as
    # such) once, Child once per selection (child, maybeChild, children, loose)
    assert made.count("Parent") == 1
    assert made.count("Child") == 4
    made.clear()
    for on in (True, False, True):  # @include/@skip: a plan per execution, never shared
        assert not run(QUERIES["fragments and skip"], CreditExecutionContext,
                       {"on": on, "off": not on})["errors"]
    assert made.count("Parent") == 3
