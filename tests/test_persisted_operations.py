"""Persisted operations (api/operations.py, schema/persisted.py): automatic persisted queries in
development mode (hash checked, bounded cache), and in deployment mode only the manifest's
documents run; an unlisted one is refused before it runs and logged for every subject it names."""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path

import httpx
import pytest

from api import demo
from api.config import ConfigError
from api.operations import FORMAT, PersistedOperations, document_hash, load_manifest
from tests.conftest import log_rows, token

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "operations" / "manifest.json"
LISTED = {op["name"] or "": op["body"] for op in json.loads(MANIFEST.read_text())["operations"]}
SUBJECT_LOOKUP = next(b for b in LISTED.values() if b.lstrip().startswith("query($key: ID!, $purpose"))
LOOKUP_VARS = {"key": demo.COMPANY, "purpose": "government_procurement"}


def apq(digest: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def post(client: httpx.AsyncClient, settings, body: dict, role: str = "state_organ") -> dict:
    r = await client.post("/graphql", json=body,
                          headers={"Authorization": f"Bearer {token(settings, role)}"})
    assert r.status_code == 200, r.text
    return r.json()


def code(out: dict) -> str | None:
    return (out.get("errors") or [{}])[0].get("extensions", {}).get("code")


# --- development: automatic persisted queries ----------------------------------------------------


async def test_apq_round_trip_unknown_hash_then_register_then_by_hash_alone(client, settings):
    query = f"query Apq{secrets.token_hex(4)} {{ purposes {{ code }} }}"  # a hash no one has sent
    digest = document_hash(query)
    first = await post(client, settings, {"extensions": apq(digest)})
    assert code(first) == "PERSISTED_QUERY_NOT_FOUND" and first.get("data") is None
    assert first["errors"][0]["message"].startswith("PersistedQueryNotFound")
    second = await post(client, settings, {"query": query, "extensions": apq(digest)})
    assert "errors" not in second and second["data"]["purposes"]
    third = await post(client, settings, {"extensions": apq(digest)})
    assert third == second


async def test_a_hash_that_is_not_the_documents_is_refused_and_logged_for_its_subjects(client, settings, pool):
    query = SUBJECT_LOOKUP + " "
    out = await post(client, settings, {"query": query, "variables": LOOKUP_VARS,
                                        "extensions": apq(document_hash(SUBJECT_LOOKUP))})
    assert code(out) == "PERSISTED_QUERY_INVALID" and out["errors"][0]["extensions"]["rule"] == "sha256"
    assert out.get("data") is None
    (row,) = await log_rows(pool, demo.COMPANY)
    assert row["outcome"] == "refused" and row["reason"].startswith("PERSISTED_QUERY_INVALID")


@pytest.mark.parametrize("pq", [{"version": 2, "sha256Hash": "0" * 64}, {"version": 1, "sha256Hash": "xyz"},
                                {"version": 1}, "abc"])
async def test_a_malformed_persisted_query_extension_is_refused(client, settings, pq):
    out = await post(client, settings, {"extensions": {"persistedQuery": pq}})
    assert code(out) == "PERSISTED_QUERY_INVALID"


async def test_a_listed_operation_runs_by_its_manifest_id(client, settings, pool):
    out = await post(client, settings, {"id": document_hash(SUBJECT_LOOKUP), "variables": LOOKUP_VARS})
    assert out["data"]["subject"]["key"] == demo.COMPANY
    (row,) = await log_rows(pool, demo.COMPANY)
    assert row["outcome"] in ("disclosed", "partial")  # read and logged, not refused


def test_the_apq_cache_keeps_at_most_its_size_least_recently_used_out():
    ops = PersistedOperations({}, deployment=False, cache_size=2)
    docs = [f"{{ a{i}: purposes {{ code }} }}" for i in range(3)]
    for d in docs[:2]:
        assert ops.resolve(d, apq(document_hash(d))) == (d, None)
    assert ops.resolve(None, apq(document_hash(docs[0]))) == (docs[0], None)  # used: kept
    ops.resolve(docs[2], apq(document_hash(docs[2])))
    assert ops.resolve(None, apq(document_hash(docs[1])))[1].code == "PERSISTED_QUERY_NOT_FOUND"
    assert ops.resolve(None, apq(document_hash(docs[0]))) == (docs[0], None)


# --- the manifest --------------------------------------------------------------------------------


def test_the_shipped_manifest_lists_the_readme_example_and_validates_against_the_schema():
    import re

    from graphql import parse, validate

    from schema import schema

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```graphql\n(.*?)```", readme, re.S).group(1)
    listed = load_manifest(MANIFEST)
    assert document_hash(example) in listed
    for body in listed.values():
        assert validate(schema._schema, parse(body)) == []


def test_a_manifest_whose_id_is_not_its_documents_hash_stops_start_up(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"format": FORMAT, "version": 1, "operations": [
        {"id": "0" * 64, "name": "Bad", "type": "query", "body": "{ purposes { code } }"}]}))
    with pytest.raises(ConfigError, match=r"operation 1 \(Bad\): id is not the sha256"):
        load_manifest(path)


# --- deployment mode: listed documents only ------------------------------------------------------


@pytest.fixture(scope="module")
async def deployed(settings):
    from api.app import create_app

    application = create_app(dataclasses.replace(settings, mode="deployment"))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.8", 51000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_deployment_refuses_an_unlisted_document_and_logs_each_subject_it_names(deployed, settings, pool, state):
    query = 'query($b: ID!) { a: subject(key: "%s", purpose: "government_procurement") { key } b: subject(key: $b, purpose: "government_procurement") { key name } }' % demo.COMPANY
    out = await post(deployed, settings, {"query": query, "variables": {"b": demo.PERSON}})
    assert code(out) == "OPERATION_NOT_LISTED" and out.get("data") is None
    assert out["errors"][0]["extensions"]["rule"] == "persisted_operations"
    for key in (demo.COMPANY, demo.PERSON):
        (row,) = await log_rows(pool, key)
        assert (row["outcome"], row["operation"]) == ("refused", "subject")
        assert row["reason"].startswith("OPERATION_NOT_LISTED") and row["org_code"] == demo.HOUSING


async def test_deployment_refuses_an_unlisted_hash_and_registers_nothing(deployed, settings):
    query = "{ purposes { code name } }"
    digest = document_hash(query)
    assert code(await post(deployed, settings, {"extensions": apq(digest)})) == "OPERATION_NOT_LISTED"
    out = await post(deployed, settings, {"query": query, "extensions": apq(digest)})
    assert code(out) == "OPERATION_NOT_LISTED"
    assert code(await post(deployed, settings, {"extensions": apq(digest)})) == "OPERATION_NOT_LISTED"


@pytest.mark.parametrize("how", ["hash", "id", "whole"])
async def test_deployment_runs_a_listed_document_however_it_is_named(deployed, settings, pool, how):
    digest = document_hash(SUBJECT_LOOKUP)
    body = {"hash": {"extensions": apq(digest)}, "id": {"id": digest},
            "whole": {"query": SUBJECT_LOOKUP}}[how]
    out = await post(deployed, settings, {**body, "variables": LOOKUP_VARS})
    assert "errors" not in out and out["data"]["subject"]["key"] == demo.COMPANY
    (row,) = await log_rows(pool, demo.COMPANY)
    assert row["outcome"] in ("disclosed", "partial")  # read and logged, not refused
