"""Auditors' view of the trail and the subject's own view of who queried it (Art. 36, 41)."""

from __future__ import annotations

import csv
import io
import json

from api import demo
from api.audit.upkeep import record_policy_version
from tests.conftest import nodes as page_nodes
from tests.conftest import token

LOOKUP = 'query($k: ID!, $p: String) { subject(key: $k, purpose: $p) { key } }'
LOG_Q = """query($f: QueryLogFilter) { queryLog(filter: $f, first: 100) { edges { node {
  kind operation subjectKey purpose outcome userName orgCode authorizationIds retention details
} } } }"""
MINE = """{ myCredit { queriedBy(first: 10) { edges { node { at organisation { code name } purpose rights
  outcome } } pageInfo { hasNextPage } } } }"""
GRANT = """mutation($i: GrantAuthorizationInput!) { grantAuthorization(input: $i) {
  ... on Authorization { id } ... on UserError { code message } } }"""


async def traffic(gql) -> str:
    """Anonymous, a state organ, and a credit agency under the demo authorization."""
    await gql(LOOKUP, {"k": demo.COMPANY})
    await gql(LOOKUP, {"k": demo.COMPANY, "p": "bidding"}, as_="state_organ")
    await gql(LOOKUP, {"k": demo.COMPANY}, as_="state_organ")  # refused: no purpose
    await gql(LOOKUP, {"k": demo.COMPANY, "p": "loan_review"}, as_="credit_service")
    await gql(LOOKUP, {"k": demo.PERSON})
    return demo.COMPANY


async def nodes(gql, f: dict) -> list[dict]:
    out = await gql(LOG_Q, {"f": f}, as_="auditor")
    return [e["node"] for e in out["data"]["queryLog"]["edges"]]


async def test_auditor_sees_purpose_and_the_authorization_used(gql, pool):
    await traffic(gql)
    rows = await nodes(gql, {"subjectKey": demo.COMPANY, "kind": "QUERY"})
    assert [(r["orgCode"], r["purpose"], r["outcome"]) for r in rows] == [
        (demo.AGENCY, "loan_review", "partial"),
        (demo.HOUSING, None, "refused"),
        (demo.HOUSING, "bidding", "partial"),
        (None, None, "partial"),
    ]
    async with pool.acquire() as conn:
        auth_id = await conn.fetchval("SELECT id FROM authorizations WHERE grantee_org = $1", demo.AGENCY)
    assert rows[0]["authorizationIds"] == [str(auth_id)]
    by_auth = await nodes(gql, {"authorizationId": str(auth_id)})
    assert [r["orgCode"] for r in by_auth] == [demo.AGENCY]
    # filters combine: the state organ's refusals only
    refused = await nodes(gql, {"orgCode": demo.HOUSING, "outcome": "REFUSED"})
    assert [r["userName"] for r in refused] == ["王芳"]


async def test_the_auditors_own_reads_are_in_the_trail(gql):
    await traffic(gql)
    await nodes(gql, {"subjectKey": demo.COMPANY})
    reads = await nodes(gql, {"kind": "AUDIT_READ"})
    assert reads[-1]["operation"] == "queryLog" and reads[-1]["retention"] == "long_term"
    assert reads[-1]["details"]["filter"] == {"subject_key": demo.COMPANY}


async def test_authorizations_granted_and_revoked_are_long_term_acts(gql):
    i = {"subjectKey": demo.PERSON, "granteeOrg": demo.AGENCY2, "purpose": "loan_review",
         "scope": {"classes": ["AUTHORIZED"]}, "validUntil": "2030-01-01T00:00:00+08:00"}
    g = (await gql(GRANT, {"i": i}, as_="subject"))["data"]["grantAuthorization"]
    await gql('mutation($id: ID!) { revokeAuthorization(id: $id) { __typename } }', {"id": g["id"]},
              as_="subject")
    acts = await nodes(gql, {"kind": "AUTHORIZATION"})
    assert [(a["operation"], a["subjectKey"], a["retention"]) for a in acts] == [
        ("authorization.revoke", demo.PERSON, "long_term"),
        ("authorization.grant", demo.PERSON, "long_term"),
    ]
    assert acts[1]["details"]["authorization"] == g["id"]
    assert acts[1]["details"]["grantee_org"] == demo.AGENCY2


async def test_a_changed_policy_is_recorded_once(state, pool):
    async with pool.acquire() as conn:
        assert await record_policy_version(conn, state.policy) is True
        assert await record_policy_version(conn, state.policy) is False
        row = await conn.fetchrow("SELECT details, retention FROM query_log WHERE kind = 'policy'")
    assert row["details"]["digest"] == state.policy.digest and row["retention"] == "long_term"
    assert row["details"]["rules"]["p"] > 10


async def test_daily_totals_per_organisation(gql):
    await traffic(gql)
    out = await gql("{ queryLogTotals { day orgCode total disclosed partial refused notFound } }",
                    as_="auditor")
    totals = {t["orgCode"]: t for t in out["data"]["queryLogTotals"]}
    assert totals[demo.HOUSING]["total"] == 2 and totals[demo.HOUSING]["refused"] == 1
    assert totals[None]["total"] == 2 and totals[demo.AGENCY]["partial"] == 1


async def test_export_streams_csv_and_ndjson_to_auditors_only(client, settings, gql):
    await traffic(gql)
    auth = {"Authorization": f"Bearer {token(settings, 'auditor')}"}
    r = await client.get("/audit/export", params={"format": "csv", "kind": "query"}, headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 5 and {row["kind"] for row in rows} == {"query"}
    assert rows[0]["subject_key"] == demo.COMPANY and "records" not in rows[0]
    r = await client.get("/audit/export", params={"subject": demo.PERSON}, headers=auth)
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert [x["subject_key"] for x in lines[:-1]] == [demo.PERSON]
    assert lines[-1] == {"end": True, "rows": 1}  # a cut-off export cannot pass for a whole one
    r = await client.get("/audit/export", params={"since": "yesterday"}, headers=auth)
    assert r.status_code == 400 and r.json()["field"] == "since"
    other = {"Authorization": f"Bearer {token(settings, 'state_organ')}"}
    r = await client.get("/audit/export", headers=other)
    assert r.status_code == 403
    assert (await client.get("/audit/export")).status_code == 403
    exports = await nodes(gql, {"kind": "AUDIT_READ"})
    assert sum(1 for e in exports if e["operation"] == "queryLog.export") == 2


async def test_a_subject_sees_who_queried_it_without_staff_names(gql):
    await traffic(gql)
    out = await gql(MINE, as_="subject", subject_key=demo.COMPANY)
    items = page_nodes(out["data"]["myCredit"]["queriedBy"])
    # newest first; its own myCredit lookup is the first entry
    seen = [(i["organisation"] and i["organisation"]["code"], i["purpose"], i["outcome"]) for i in items]
    assert seen[1:] == [
        (demo.AGENCY, "loan_review", "PARTIAL"),
        (demo.HOUSING, None, "REFUSED"),
        (demo.HOUSING, "bidding", "PARTIAL"),
        (None, None, "PARTIAL"),
    ]
    assert items[1]["rights"] == ["authorization", "public"]
    assert items[3]["rights"] == ["government_sharing", "public"]
    assert "王芳" not in json.dumps(out, ensure_ascii=False)
    assert all(demo.PERSON not in json.dumps(i) for i in items)


async def test_only_the_verified_subject_itself_sees_who_queried_it(gql):
    await traffic(gql)
    q = '{ subject(key: "91130902MA0DEM0135") { queriedBy { edges { node { at } } } } }'
    for kwargs in ({"as_": "auditor"}, {"as_": "subject", "subject_key": demo.PERSON}, {}):
        out = await gql(q, **kwargs)
        assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    out = await gql(MINE, as_="subject", subject_key=demo.COMPANY, real_name_verified=False)
    assert out["errors"][0]["extensions"]["rule"] == "self_verified"
