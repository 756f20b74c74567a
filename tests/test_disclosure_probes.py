"""No untraced probes (issue 9): a request that names a subject is logged whatever its outcome,
and input that cannot be stored is refused before anything is looked up."""

from __future__ import annotations

import pytest

from api import demo
from tests.conftest import log_rows, nodes

BATCH = "query($k: [ID!]!, $p: String!) { subjects(keys: $k, purpose: $p) { key } }"
NOTES = "{ notificationsConnection(unreadOnly: false) { edges { node { id topic recordId } } } }"
DELETE = ("mutation($id: ID!) { requestDeletion(recordId: $id) { ... on Tombstone { recordId } "
          "... on UserError { code } } }")


@pytest.mark.parametrize("role", ["provider", "auditor", "public_token", "subject"])
async def test_a_refused_batch_is_logged_per_subject_it_names(gql, pool, role):
    who = {"as_": role} if role != "public_token" else {}
    keys = [demo.COMPANY, demo.PERSON, demo.COMPANY, "91110000600037341L"]
    out = await gql(BATCH, {"k": keys, "p": "bidding"}, **who)
    (err,) = out["errors"]
    assert err["extensions"]["code"] == "FORBIDDEN" and err["extensions"]["rule"] == "batch_role"
    rows = await log_rows(pool)
    assert sorted(r["subject_key"] for r in rows) == sorted(set(keys))
    assert {r["outcome"] for r in rows} == {"refused"}
    assert all(r["reason"] == f"FORBIDDEN: {err['message']}" for r in rows)
    assert {r["operation"] for r in rows} == {"subjects"}


async def test_a_batch_refused_for_one_malformed_key_is_logged_for_the_others(gql, pool):
    keys = [demo.COMPANY, "not-a-key", demo.PERSON]
    out = await gql(BATCH, {"k": keys, "p": "bidding"}, as_="state_organ")
    (err,) = out["errors"]
    assert err["extensions"]["code"] == "INVALID_INPUT" and err["extensions"]["field"] == "keys[1]"
    rows = await log_rows(pool)
    assert sorted(r["subject_key"] for r in rows) == sorted([demo.COMPANY, demo.PERSON])
    assert {r["outcome"] for r in rows} == {"refused"}
    assert all("INVALID_INPUT" in r["reason"] for r in rows)


async def test_a_full_width_key_in_a_refused_batch_is_logged_under_the_canonical_key(gql, pool):
    await gql(BATCH, {"k": ["９1130902MA0DEM0135"], "p": "bidding"}, as_="provider")
    assert [r["subject_key"] for r in await log_rows(pool)] == [demo.COMPANY]


async def test_reading_the_art40_deletion_notice_is_logged_against_its_subject(gql, pool, clock):
    async with pool.acquire() as conn:
        rid = str(await conn.fetchval("SELECT id FROM records WHERE source_ref = 'BZ-2024-0008'"))
    me = {"as_": "subject", "subject_key": demo.PERSON2, "name": "李秀英", "sub": "user-li"}
    assert (await gql(DELETE, {"id": rid}, **me))["data"]["requestDeletion"] == {"recordId": rid}
    before = len(await log_rows(pool, demo.PERSON2))
    notes = nodes((await gql(NOTES, as_="provider", org=demo.CIVIL))["data"]["notificationsConnection"])
    assert [n["topic"] for n in notes] == ["deletion.done"] and notes[0]["recordId"] == rid
    rows = (await log_rows(pool, demo.PERSON2))[before:]
    (row,) = rows
    assert row["operation"] == "notifications" and row["org_code"] == demo.CIVIL
    assert row["disclosed"] == [{"notification": int(notes[0]["id"]), "case": None, "record": rid,
                                 "basis": "notification"}]


@pytest.mark.parametrize(
    ("query", "variables", "field", "logged"),
    [
        ('{ subject(key: "91130902MA0DEM0135", purpose: "bid\\u0000ding") { key } }', {}, "purpose", [demo.COMPANY]),
        ("query($k: ID!) { subject(key: $k) { key } }", {"k": "91130902MA0DEM0135\x00"}, "k", []),
        ("query($k: [ID!]!) { subjects(keys: $k, purpose: \"bidding\") { key } }",
         {"k": [demo.COMPANY, "1309\x0702198503120213"]}, "k[1]", [demo.COMPANY]),
        ("mutation($r: [RecordInput!]!) { submitRecords(records: $r) { status } }",
         {"r": [{"sourceRef": "R1", "itemCode": "ADM_PENALTY", "subjectKey": demo.COMPANY,
                 "subjectType": "LEGAL_PERSON", "subjectName": "某", "decidedOn": "2026-11-02",
                 "data": {"cf_wsh": "ok", "bad\x00key": "x"}}]}, "r[0].data.bad\\x00key", [demo.COMPANY]),
    ],
)
async def test_control_characters_are_refused_before_any_lookup(gql, pool, query, variables, field, logged):
    """Nothing runs; the refusal is logged against each valid subject key the request names."""
    out = await gql(query, variables, as_="state_organ")
    (err,) = out["errors"]
    assert err["extensions"]["code"] == "INVALID_INPUT"
    assert err["extensions"]["rule"] == "control_character"
    assert err["extensions"]["field"] == field
    assert "控制字符" in err["message"]
    assert out.get("data") is None
    assert [(r["subject_key"], r["outcome"]) for r in await log_rows(pool)] == [(k, "refused") for k in logged]


async def test_a_document_ref_with_nul_is_the_same_answer_for_known_and_unknown_subjects(gql, pool):
    q = """mutation($i: GrantAuthorizationInput!) { grantAuthorization(input: $i) {
             ... on Authorization { id } ... on UserError { code } } }"""
    answers = []
    for key in (demo.COMPANY, "91110000600037341L"):
        i = {"subjectKey": key, "granteeOrg": demo.COMPANY, "purpose": "loan_review",
             "scope": {"classes": ["AUTHORIZED"]}, "validUntil": "2030-01-01T00:00:00+08:00",
             "documentRef": "DOC\x00-1", "documentDigest": "a" * 64}
        out = await gql(q, {"i": i}, as_="credit_service")
        answers.append((out.get("data"), [(e["extensions"]["code"], e["extensions"].get("field"))
                                          for e in out.get("errors", [])]))
    assert answers[0] == answers[1]
    assert answers[0][1] == [("INVALID_INPUT", "i.documentRef")]
