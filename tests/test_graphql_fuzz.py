"""Generated GraphQL documents (hypothesis-graphql, from the schema itself) sent over HTTP as
different callers: never a 500 or an internal error, never more than a bounded time, and never
subject data in a response without its query-log row."""

from __future__ import annotations

import datetime as dt
import time

import graphql
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from api import demo
from api.disclosure.rules import PURPOSES
from schema import schema
from tests.conftest import token

BOUND = 3.0  # seconds for any one request, on a shared 2-core machine
ROLES = ["public", "subject", "state_organ", "credit_service", "provider", "credit_office", "auditor"]
# root fields whose answer carries a subject's data, which must never leave without a log row
SUBJECT_DATA = ("subject", "subjects", "myCredit", "jointPunishmentBasis", "recordHistory",
                "rightsCase", "rightsCases", "rightsCasesConnection", "notificationsConnection")
CONNECTION = {"edges", "pageInfo", "totalCount"}
INTERNAL = ("Internal error", "内部错误")  # the masked message, English and zh_CN


def _string(values: list[str]) -> st.SearchStrategy[graphql.StringValueNode]:
    """Mostly values the platform knows (so lookups find subjects), sometimes anything."""
    known = st.sampled_from(values)
    return st.one_of(known, known, st.text(max_size=40)).map(
        lambda v: graphql.StringValueNode(value=v)
    )


def _json() -> st.SearchStrategy[graphql.ValueNode]:
    fields = st.dictionaries(st.sampled_from(["cf_wsh", "cf_jdrq", "name", "x"]), st.text(max_size=20),
                             max_size=3)
    return fields.map(lambda d: graphql.ObjectValueNode(fields=tuple(
        graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=graphql.StringValueNode(value=v))
        for k, v in d.items()
    )))


def _formatted(values: st.SearchStrategy) -> st.SearchStrategy[graphql.StringValueNode]:
    return st.one_of(values.map(lambda v: v.isoformat()), st.text(max_size=12)).map(
        lambda v: graphql.StringValueNode(value=v)
    )


SCALARS = {
    "Date": _formatted(st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31))),
    "DateTime": _formatted(st.datetimes(timezones=st.just(dt.UTC))),
    "JSON": _json(),
    "ID": _string([demo.COMPANY, demo.PERSON, demo.PERSON2, "91130902MA0DEM0136", "1"]),
    "String": _string([*PURPOSES, "loan_review", "government_procurement", "", "x" * 300]),
}
DOCUMENTS = {
    mode: from_schema(schema._schema, custom_scalars=SCALARS, mode=mode) for mode in Mode
}
FUZZ = settings(
    max_examples=120,
    deadline=None,  # the bound is asserted per request below, on the request alone
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


async def query_rows(pool) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM query_log WHERE kind = 'query'")


def _carries(value: object) -> bool:
    if isinstance(value, dict) and value and set(value) <= CONNECTION:
        return bool(value.get("edges"))  # a connection: its nodes are the data
    return value not in (None, [], {})


def carries_subject_data(data: dict | None) -> bool:
    if not data:
        return False
    return any(_carries(data.get(f)) for f in SUBJECT_DATA if f in data)


async def send(client, app_settings, pool, document: str, role: str) -> None:
    headers = {} if role == "public" else {
        "Authorization": f"Bearer {token(app_settings, role)}"
    }
    before = await query_rows(pool)
    started = time.perf_counter()
    r = await client.post("/graphql", json={"query": document}, headers=headers)
    took = time.perf_counter() - started
    assert r.status_code < 500, (r.status_code, r.text[:300], document)
    assert took < BOUND, (took, document)
    if r.status_code != 200:
        return
    body = r.json()
    for error in body.get("errors") or ():
        assert not any(m in error["message"] for m in INTERNAL), (error, document)
        event(f"error {(error.get('extensions') or {}).get('code', 'GRAPHQL')}")
    if carries_subject_data(body.get("data")):
        event("subject data")
        assert await query_rows(pool) > before, ("subject data without a log row", document)


@FUZZ
@given(document=DOCUMENTS[Mode.POSITIVE], role=st.sampled_from(ROLES))
async def test_valid_generated_documents_never_fail_hang_or_leak(client, settings, pool, document, role):
    await send(client, settings, pool, document, role)


@FUZZ
@given(document=DOCUMENTS[Mode.NEGATIVE], role=st.sampled_from(ROLES))
async def test_invalid_generated_documents_never_fail_hang_or_leak(client, settings, pool, document, role):
    await send(client, settings, pool, document, role)


async def test_found_by_fuzzing_a_draft_catalog_past_2999_is_invalid_input(gql):
    out = await gql('mutation { draftCatalog(year: 3000) { ... on UserError { code rule } } }',
                    as_="credit_office")
    assert out == {"data": {"draftCatalog": {"code": "INVALID_INPUT", "rule": "catalog_year_range"}}}
