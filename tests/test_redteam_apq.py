"""Attacks on persisted operations (api/operations.py, schema/persisted.py), over HTTP against
the app: development's APQ cache is bounded in characters, not only in documents; a document
named by hash still meets the document limits; and in deployment mode no variant of the
request shape runs an unlisted document."""

from __future__ import annotations

import json

import pytest

from api import demo
from api.operations import PersistedOperations, document_hash
from tests.conftest import log_rows, token
from tests.test_persisted_operations import LOOKUP_VARS, SUBJECT_LOOKUP, apq, code, deployed, post

__all__ = ["deployed"]  # the fixture, used below

UNLISTED = '{ a: subject(key: "%s", purpose: "government_procurement") { key name } }' % demo.COMPANY
REFUSED = {"OPERATION_NOT_LISTED", "PERSISTED_QUERY_INVALID"}


def test_the_apq_cache_is_bounded_in_characters_however_large_the_documents():
    ops = PersistedOperations({}, deployment=False, cache_size=1000, cache_chars=1 << 20)
    for i in range(40):  # 40 documents of 60 KiB: 2.4 MiB asked to be kept
        doc = "{ __typename }\n#%d" % i + "x" * (60 << 10)
        assert ops.resolve(doc, apq(document_hash(doc))) == (doc, None)
    assert ops._chars == sum(map(len, ops._registered.values())) <= 1 << 20
    assert len(ops._registered) < 40 and doc in ops._registered.values()  # the newest kept


def test_a_document_larger_than_a_sixteenth_of_the_cache_runs_but_is_not_kept():
    ops = PersistedOperations({}, deployment=False, cache_chars=1 << 20)
    small = "{ __typename }"
    ops.resolve(small, apq(document_hash(small)))
    big = "{ __typename }\n#" + "x" * ((1 << 20) // 16)
    assert ops.resolve(big, apq(document_hash(big))) == (big, None)
    assert ops.resolve(None, apq(document_hash(big)))[1].code == "PERSISTED_QUERY_NOT_FOUND"
    assert ops.resolve(None, apq(document_hash(small))) == (small, None)  # not pushed out


async def test_a_document_named_by_hash_still_meets_the_document_limits(client, settings):
    deep = "{ catalog " + "{ a " * 12 + "}" * 12 + " }"
    digest = document_hash(deep)
    first = await post(client, settings, {"query": deep, "extensions": apq(digest)})
    again = await post(client, settings, {"extensions": apq(digest)})
    assert code(first) == code(again) == "QUERY_TOO_COMPLEX"


@pytest.mark.parametrize("variant", [
    "listed_hash_other_text", "id_and_other_text", "null_extension", "version_2", "empty_extension",
    "id_not_a_string", "hash_upper_case",
])
async def test_deployment_runs_no_unlisted_document_by_any_variant(deployed, settings, pool, variant):
    listed = document_hash(SUBJECT_LOOKUP)
    body = {
        "listed_hash_other_text": {"query": UNLISTED, "extensions": apq(listed)},
        "id_and_other_text": {"query": UNLISTED, "id": listed},
        "null_extension": {"query": UNLISTED, "extensions": {"persistedQuery": None}},
        "version_2": {"query": UNLISTED, "extensions": {"persistedQuery": {"version": 2, "sha256Hash": document_hash(UNLISTED)}}},
        "empty_extension": {"query": UNLISTED, "extensions": {"persistedQuery": {}}},
        "id_not_a_string": {"query": UNLISTED, "id": 1},
        "hash_upper_case": {"query": UNLISTED, "extensions": apq(document_hash(UNLISTED).upper())},
    }[variant]
    out = await post(deployed, settings, {**body, "variables": LOOKUP_VARS})
    assert out.get("data") is None and code(out) in REFUSED, out
    (row,) = await log_rows(pool, demo.COMPANY)
    assert row["outcome"] == "refused"  # the refusal of a document naming a subject is logged


async def test_deployment_refuses_a_batch_a_get_and_an_operation_name_trick(deployed, settings):
    auth = {"Authorization": f"Bearer {token(settings, 'state_organ')}"}
    batch = await deployed.post("/graphql", headers=auth, content=json.dumps(
        [{"query": SUBJECT_LOOKUP, "variables": LOOKUP_VARS}, {"query": UNLISTED}]),
        )
    assert batch.status_code >= 400 or "errors" in batch.json()
    assert "name" not in batch.text
    got = await deployed.get("/graphql", params={"query": UNLISTED}, headers=auth)
    assert got.status_code >= 400 and "data" not in got.text
    # a listed document with an unlisted operation appended is another document
    two = SUBJECT_LOOKUP + "\nquery X " + UNLISTED
    out = await post(deployed, settings, {"query": two, "operationName": "X"})
    assert out.get("data") is None and code(out) == "OPERATION_NOT_LISTED"


async def test_a_long_document_is_run_but_kept_in_no_cache(client, settings):
    """A 1 MiB body may carry a document of a few tokens and a long comment: 256 of them were
    540 MB in the parser's and the validation caches."""
    from schema.extension import _parse
    from schema.text_cache import MAX_CACHED_TEXT
    from schema.text_input import _storable
    from schema.validation import _validated, _within_limits

    long = "{ purposes { code } }\n#" + "x" * (MAX_CACHED_TEXT + 1)
    short = "{ purposes { code } }\n# short"
    for doc in (long, short):
        out = await post(client, settings, {"query": doc})
        assert out["data"]["purposes"] and "errors" not in out
    texts = {k if isinstance(k, str) else next(p for p in k if isinstance(p, str))
             for cache in (_validated, _within_limits, _storable) for k in cache.entries}
    assert short in texts and long not in texts
    before = _parse.cache_info()
    await post(client, settings, {"query": long})
    after = _parse.cache_info()
    assert after.currsize == before.currsize and after.hits == before.hits and after.misses == before.misses
