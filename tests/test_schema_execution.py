"""The short path for plain leaf fields (schema/execution.py) answers exactly as graphql-core's
own execution: the same data, errors and log rows for the README's lookups, batches, one's own
data, refusals and error cases, each run once with the short path and once without."""

from __future__ import annotations

import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api import demo
from schema import schema
from schema import execution
from schema.execution import CreditExecutionContext
from tests.conftest import log_rows

ALL_LEAVES = """
fragment R on Record {
  __typename id disclosure dishonest decidedOn data status disputed basis fieldsWithheld
  item { code name category disclosure dishonest } provider { code name }
}
query($k: ID!, $p: String, $with: Boolean!) {
  subject(key: $k, purpose: $p) {
    __typename key type keyType name status
    records { ...R }
    shown: records @include(if: $with) { id ... on Record { status } }
    withheld { disclosure count reason code scope itemCode }
  }
}
"""
README = """
query {
  subject(key: "91130902MA0DEM0135", purpose: "government_procurement") {
    key name status
    records { item { code name disclosure } decidedOn provider { name } data status disputed basis }
    withheld { disclosure count reason code }
  }
}
"""
BATCH = """
query($ks: [ID!]!, $p: String!) {
  subjects(keys: $ks, purpose: $p) { key name type records { id item { code } status data } }
}
"""
MINE = "{ myCredit { key name records { id basis data fieldsWithheld } withheld { count code } } }"

CASES = [
    ("README, state organ", README, {}, {"as_": "state_organ"}),
    ("company, agency, authorization", ALL_LEAVES,
     {"k": demo.COMPANY, "p": "loan_review", "with": True}, {"as_": "credit_service"}),
    ("person, public (masked)", ALL_LEAVES,
     {"k": demo.PERSON, "p": None, "with": False}, {}),
    ("not found", ALL_LEAVES, {"k": "91130902MA0DEM0143", "p": "loan_review", "with": True},
     {"as_": "credit_service"}),
    ("batch", BATCH, {"ks": [demo.COMPANY, demo.PERSON, demo.PERSON2], "p": "loan_review"},
     {"as_": "credit_service"}),
    ("own data", MINE, {}, {"as_": "subject", "subject_key": demo.PERSON}),
    ("refused: state organ without purpose", README.replace(', purpose: "government_procurement"', ""),
     {}, {"as_": "state_organ"}),
    ("refused: batch by the public", BATCH, {"ks": [demo.COMPANY], "p": "loan_review"}, {}),
    ("invalid key", ALL_LEAVES, {"k": "not-a-key", "p": None, "with": True}, {}),
    ("unknown field", "{ subject(key: \"%s\") { key nope } }" % demo.COMPANY, {}, {}),
]


def _log_shape(rows) -> list[tuple]:
    return [(r["operation"], r["subject_key"], r["purpose"], r["outcome"], r["reason"],
             r["disclosed"], r["withheld"]) for r in rows]


@pytest.mark.parametrize("name,query,variables,who", CASES, ids=[c[0] for c in CASES])
async def test_the_short_path_answers_as_graphql_core(gql, pool, monkeypatch, name, query, variables, who):
    assert schema.execution_context_class is CreditExecutionContext
    taken = []
    plain_value = execution._plain_value
    monkeypatch.setattr(
        execution, "_plain_value", lambda *a: taken.append(plain_value(*a)) or taken[-1]
    )
    answers, logs = [], []
    try:
        for context_class in (CreditExecutionContext, StrawberryGraphQLCoreExecutionContext):
            schema.execution_context_class = context_class
            before = len(await log_rows(pool))
            answers.append(await gql(query, variables, **who))
            logs.append(_log_shape((await log_rows(pool))[before:]))
    finally:
        schema.execution_context_class = CreditExecutionContext
    assert answers[0] == answers[1]
    assert logs[0] == logs[1]
    if name.startswith(("README", "company", "person", "batch", "own")):
        assert answers[0].get("data") and not answers[0].get("errors"), answers[0]
        assert any(v is not execution._NOT_PLAIN for v in taken)  # the short path did answer
    if name.startswith(("refused", "invalid", "unknown")):
        assert answers[0].get("errors"), answers[0]


async def test_a_null_in_a_non_null_leaf_is_graphql_cores_error(gql):
    """A value the short path does not take (here: a non-null field read as null) is left to
    graphql-core, whose error and null propagation the answer then carries."""
    from schema.types import Subject

    original = Subject.of

    def broken(view):
        subject = original(view)
        if subject is not None:
            subject.name = None  # Subject.name is String!
        return subject

    answers = []
    try:
        Subject.of = broken
        for context_class in (CreditExecutionContext, StrawberryGraphQLCoreExecutionContext):
            schema.execution_context_class = context_class
            answers.append(await gql("{ subject(key: \"%s\") { key name } }" % demo.COMPANY))
    finally:
        Subject.of = original
        schema.execution_context_class = CreditExecutionContext
    assert answers[0] == answers[1]
    assert answers[0]["data"] == {"subject": None}
    assert [e["path"] for e in answers[0]["errors"]] == [["subject", "name"]]


async def test_checks_cached_per_document_refuse_it_every_time(gql, pool):
    """The limits and the literals' check are cached by document text only for documents that
    pass: the same refused document is refused, and logged, on every request; one that passes
    still has its variables checked each time."""
    bad_literal = '{ subject(key: "%s", purpose: "loan\\u0001review") { key } }' % demo.COMPANY
    for _ in range(2):
        before = len(await log_rows(pool, demo.COMPANY))
        out = await gql(bad_literal, as_="credit_service")
        assert out["errors"][0]["extensions"]["rule"] == "control_character"
        assert len(await log_rows(pool, demo.COMPANY)) == before + 1  # the refusal, each time
    ok = "query($p: String) { subject(key: \"%s\", purpose: $p) { key } }" % demo.COMPANY
    assert not (await gql(ok, {"p": "loan_review"}, as_="credit_service")).get("errors")
    out = await gql(ok, {"p": "loan\u0001review"}, as_="credit_service")
    assert out["errors"][0]["extensions"]["rule"] == "control_character"
    too_many = "{ %s }" % " ".join(f"a{i}: purposes {{ code }}" for i in range(21))
    for _ in range(2):
        out = await gql(too_many)
        assert out["errors"][0]["extensions"]["rule"] == "max_aliases"
