"""The GraphQL edge refuses abusive documents before any resolver (or lookup) runs, in time linear
in the document, and logs the refusal for each subject the document named."""

from __future__ import annotations

import dataclasses
import time
import uuid

import httpx
import pytest
from graphql import parse
from graphql.utilities import get_introspection_query

from api.auth.principal import RequestInfo
from api.errors import TooMany
from api.identifiers import build_resident_id
from schema.context import Context
from schema.limits import DocumentLimits, check_document
from schema.named_subjects import NAMED_MAX, named_subjects
from tests.conftest import log_rows, token

COMPANY = "91130902MA0DEM0135"
PERSON = "130902198503120213"
QUICK = 2.0  # seconds, on a busy shared machine; the 2^n walk took 11.6 s at n=20, hours at n=30


def chain(n: int, last: str = "__typename", spread: str = "...F{i} ...F{i}") -> str:
    """query{...F0} fragment F0 on Query{...F1 ...F1} ... fragment Fn on Query{<last>}"""
    parts = ["query{...F0}"]
    parts += [f"fragment F{i} on Query{{{spread.format(i=i + 1)}}}" for i in range(n)]
    parts.append(f"fragment F{n} on Query{{{last}}}")
    return " ".join(parts)


def people(n: int) -> list[str]:
    """n valid resident ID numbers (999 per birth date)."""
    return [
        build_resident_id("130902", f"{1980 + i // 999}0312", f"{i % 999 + 1:03d}") for i in range(n)
    ]


async def timed(gql, query: str, variables: dict | None = None, **kw) -> tuple[dict, float]:
    started = time.perf_counter()
    out = await gql(query, variables, **kw)
    return out, time.perf_counter() - started


def refusal(out: dict) -> dict:
    assert out.get("data") is None, out
    return out["errors"][0]["extensions"]


# --- the fragment-chain attack and its variants -------------------------------------------------


@pytest.mark.parametrize("n", [20, 30, 60])
async def test_fragment_chain_is_refused_at_once(gql, pool, n):
    out, took = await timed(gql, chain(n))
    assert took < QUICK
    assert refusal(out) == {
        "code": "QUERY_TOO_COMPLEX", "field": "query", "rule": "max_expanded_fields"
    }
    assert await log_rows(pool) == []  # it named no subject


async def test_fragment_chain_with_new_comments_each_time_stays_quick(gql):
    """A changed comment defeats the parser and validation caches: the checks must be cheap."""
    for _ in range(5):
        out, took = await timed(gql, f"# {uuid.uuid4()}\n" + chain(40))
        assert took < QUICK
        assert refusal(out)["rule"] == "max_expanded_fields"


async def test_nested_inline_fragments_in_the_chain_are_expanded_too(gql):
    spread = "... on Query{{...F{i}}} ... on Query{{ ... on Query{{...F{i}}} }}"
    out, took = await timed(gql, chain(30, spread=spread))
    assert took < QUICK
    assert refusal(out)["rule"] == "max_expanded_fields"


async def test_aliases_inside_fragments_count_once_per_expansion(gql):
    q = ("query{...A ...B} fragment A on Query{...C ...C ...C} fragment B on Query{...C ...C ...C}"
         " fragment C on Query{a: purposes{code} b: purposes{name}}")
    out = await gql(q)  # 2 aliases, expanded 6 times: 12
    assert "errors" not in out
    out = await gql(q.replace("...C ...C ...C}", "...C ...C ...C ...C ...C ...C}"))  # 24
    assert refusal(out)["rule"] == "max_aliases"
    assert "别名数" in out["errors"][0]["message"]


async def test_depth_counts_across_fragments(gql):
    # not a valid document either; the limit answers before validation would
    q = "query{a{...A}} fragment A on X{b{c{...B}}} fragment B on X{d{e{f{...C}}}} fragment C on X{g{h{i{j}}}}"
    assert refusal(await gql(q))["rule"] == "max_depth"
    ok = "query{a{...A}} fragment A on X{b{c{...B}}} fragment B on X{d{e{f{g}}}}"
    assert check_document(parse(ok), DocumentLimits()) is None


async def test_root_fields_and_fragment_fan_out_are_limited(gql):
    out = await gql("{" + " ".join(f"p{i}: __typename" for i in range(15)) + " ...R}"
                    " fragment R on Query{a: __typename b: __typename c: __typename d: __typename"
                    " e: __typename f: __typename}")
    assert refusal(out)["rule"] == "max_aliases"  # 21 aliases (and 21 root fields)
    out = await gql("{" + " __typename" * 21 + "}")
    assert refusal(out)["rule"] == "max_root_fields"
    out = await gql("{" + " ...F" * 101 + "} fragment F on Query{__typename}")
    assert refusal(out)["rule"] == "max_fragment_spreads"


async def test_one_field_repeated_many_times_is_refused_before_the_quadratic_overlap_check(gql):
    out, took = await timed(gql, "{ purposes { " + "code " * 1000 + "} }")
    assert took < QUICK
    assert refusal(out)["rule"] == "max_expanded_fields"
    assert "errors" not in await gql("{ purposes { " + "code " * 290 + "} }")


async def test_a_fragment_cycle_is_safe_and_reported_by_validation(gql):
    q = "query{...A} fragment A on Query{...B __typename} fragment B on Query{...A}"
    out, took = await timed(gql, q)
    assert took < QUICK
    assert "Cannot spread fragment" in out["errors"][0]["message"]
    assert check_document(parse(q), DocumentLimits()) is None


def test_the_check_is_linear_in_the_document():
    doc = parse(chain(3000), max_tokens=100_000)  # 2^3000 fields expanded
    started = time.perf_counter()
    problem = check_document(doc, DocumentLimits())
    assert time.perf_counter() - started < QUICK
    assert problem is not None and problem.rule == "max_expanded_fields"


async def test_an_ordinary_query_with_fragments_passes(gql):
    q = """query($k: ID!) { subject(key: $k) { ...S } }
           fragment S on Subject { key name records { ...R } withheld { count reason } }
           fragment R on Record { item { code name } decidedOn provider { name } status }"""
    out = await gql(q, {"k": COMPANY})
    assert "errors" not in out, out
    assert out["data"]["subject"]["key"] == COMPANY


# --- refusals are logged for the subjects the document named ------------------------------------


async def test_a_refused_document_naming_subjects_is_logged_as_refused(gql, pool):
    last = f'subject(key: "{COMPANY}") {{ key }} b: subject(key: $p, purpose: "x") {{ key }}'
    q = chain(20, last=last).replace("query{", "query($p: ID!){", 1)
    out = await gql(q, {"p": PERSON}, as_="credit_service")
    assert refusal(out)["code"] == "QUERY_TOO_COMPLEX"
    for key, purpose in ((COMPANY, None), (PERSON, "x")):
        rows = await log_rows(pool, key)
        assert [(r["outcome"], r["operation"], r["purpose"]) for r in rows] == [
            ("refused", "subject", purpose)
        ]
        assert rows[0]["reason"].startswith("QUERY_TOO_COMPLEX")
        assert rows[0]["org_code"] is not None


async def test_too_many_aliases_are_refused_even_when_repeated(gql, pool):
    fields = " ".join(f'a{i}: subject(key: "{COMPANY}") {{ key }}' for i in range(25))
    for _ in range(2):  # the second time the parse comes from the cache
        out = await gql("{ " + fields + " }")
        assert "别名数" in out["errors"][0]["message"]
        assert refusal(out)["code"] == "QUERY_TOO_COMPLEX"
    rows = await log_rows(pool)
    assert [(r["subject_key"], r["outcome"]) for r in rows] == [(COMPANY, "refused")] * 2


async def test_too_many_tokens_are_refused(gql):
    q = "{ purposes { " + " ".join(["code"] * 2100) + " } }"
    out = await gql(q)
    assert "token" in out["errors"][0]["message"].lower()


# --- the batch maximum counts the whole request -------------------------------------------------

BATCH = "query(" + ", ".join(f"$k{i}: [ID!]!" for i in range(20)) + "){" + " ".join(
    f'a{i}: subjects(keys: $k{i}, purpose: "government_procurement") {{ key }}' for i in range(20)
) + "}"


async def test_twenty_aliases_of_a_hundred_keys_are_one_batch_over_the_maximum(gql, pool):
    keys = people(1050)
    variables = {f"k{i}": keys[i * 50 : i * 50 + 100] for i in range(20)}  # 1,050 distinct
    out = await gql(BATCH, variables, as_="state_organ")
    assert refusal(out) == {"code": "TOO_MANY", "field": "keys", "rule": "batch_size"}
    rows = await log_rows(pool)
    # at most the batch maximum of rows, however many it names; they say how many more
    assert len(rows) == 100 and {r["outcome"] for r in rows} == {"refused"}
    assert {r["subject_key"] for r in rows} == set(keys[:100])
    assert "950 more subjects named" in rows[0]["reason"]


async def test_a_variable_of_forty_thousand_keys_is_refused_quickly_and_logged_up_to_a_bound(gql, pool):
    keys = people(40_000)  # as many as the 1 MiB body limit of /graphql lets through
    q = 'query($k: [ID!]!) { subjects(keys: $k, purpose: "government_procurement") { key } }'
    out, took = await timed(gql, q, {"k": keys}, as_="state_organ")
    assert refusal(out)["code"] == "TOO_MANY"
    assert took < QUICK
    rows = await log_rows(pool)
    assert [r["subject_key"] for r in rows] == keys[:100]  # the batch maximum of rows
    assert f"{NAMED_MAX - 100} more subjects named" in rows[0]["reason"]  # those past NAMED_MAX: not examined


async def test_a_hundred_distinct_subjects_across_aliases_are_looked_up(gql, pool):
    keys = people(100)
    variables = {f"k{i}": keys[i * 5 : i * 5 + 5] for i in range(20)}
    variables["k19"] += [keys[0], keys[1]]  # named again: counted once
    out = await gql(BATCH, variables, as_="state_organ")
    assert "errors" not in out, out
    assert len(await log_rows(pool)) == 100  # each distinct subject once (not found)


async def test_the_request_counter_refuses_subjects_past_the_maximum_and_logs_them(state, pool):
    """Lookups the document cannot show (a case's record) are counted as they are made."""
    principal = state.verifier.principal_from_header(
        "Bearer " + token(state.settings, "state_organ")
    )
    ctx = Context(state=state, principal=principal, request=RequestInfo(str(uuid.uuid4()), None))
    keys = people(120)
    assert len(await ctx.subjects(keys[:60], "government_procurement", "subjects")) == 60
    assert len(await ctx.subjects(keys[:60], "government_procurement", "subjects")) == 60
    with pytest.raises(TooMany):
        await ctx.subjects(keys[50:110], "government_procurement", "subjects")
    rows = await log_rows(pool)
    assert [r["outcome"] for r in rows].count("refused") == 60  # every key of the refused field
    assert {r["subject_key"] for r in rows if r["outcome"] == "refused"} == set(keys[50:110])
    with pytest.raises(TooMany):  # one field of more than the maximum, even of one subject
        await ctx.subjects([keys[0]] * 101, "government_procurement", "subjects")


def test_named_subjects_follow_fragments_variables_and_defaults():
    doc = parse("""query Q($a: ID = "A1", $b: [ID!]!) { ...F x: subject(key: $a) { key }
                   myCredit { key } } fragment F on Query { subjects(keys: [$a, "B2"], purpose: "p")
                   { key } ... on Query { jointPunishmentBasis(key: 130902198503120213,
                   purpose: "q") { id } more: subjects(keys: $b) { key } } }""")
    found = named_subjects(doc, None, {"b": ["C3", "C4"]}, own_key="OWN")
    assert sorted((n.operation, n.key, n.purpose) for n in found) == sorted([
        ("subject", "A1", None), ("myCredit", "OWN", None), ("subjects", "A1", "p"),
        ("subjects", "B2", "p"), ("jointPunishmentBasis", PERSON, "q"),
        ("subjects", "C3", None), ("subjects", "C4", None),
    ])
    assert named_subjects(doc, "Other", {}, None) == []


# --- introspection and suggestions --------------------------------------------------------------


async def test_introspection_and_suggestions_are_off_by_default(gql):
    out = await gql("{ __schema { types { name } } }")
    assert out.get("data") is None
    assert "introspection" in out["errors"][0]["message"].lower()
    out = await gql(f'{{ subjet(key: "{COMPANY}") {{ key }} }}')
    message = out["errors"][0]["message"]
    assert "subjet" in message and "Did you mean" not in message and "'subject'" not in message


async def test_introspection_and_suggestions_when_configured_on(settings):
    from api.app import create_app

    app = create_app(dataclasses.replace(settings, graphql_introspection=True))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 51000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post("/graphql", json={"query": get_introspection_query(descriptions=True)})
            assert r.status_code == 200 and "errors" not in r.json(), r.text[:500]
            assert any(t["name"] == "Subject" for t in r.json()["data"]["__schema"]["types"])
            r = await client.post("/graphql", json={"query": '{ subjet(key: "x") { key } }'})
            assert "Did you mean 'subject'" in r.json()["errors"][0]["message"]
