"""Issue 10's acceptance, from outside over HTTP with real tokens: a credit agency's registration
for a natural person discloses nothing until the subject agrees, then exactly the agreed scope,
then nothing again after revocation or dispute; the subject sees, reads, is told; the trail has
every step; the anomaly report names a burst of registrations."""

from __future__ import annotations

import asyncio
import dataclasses

from api import demo
from api.cli import TOKEN_PRESETS, _parser
from tests.conftest import nodes, token
from tests.test_authorizations_api import (  # noqa: F401
    GRANT,
    PNG,
    STEP,
    auth_settings,
    grant_input,
    register,
)

LOOKUP = """query { subject(key: "%s", purpose: "loan_review") {
  records { id item { code } basis } withheld { disclosure count code } } }"""
MINE = """query { myCredit { authorizations { id state granteeOrg purpose scopeItems validUntil
  effectiveBasis document { sha256 url } dispute { id finding }
  uses { at organisation { code } purpose records { recordId itemCode } } } } }"""
NOTES = "query { notificationsConnection(first: 50) { edges { node { topic details } } } }"


def token_name(role: str) -> str:
    return TOKEN_PRESETS[role]["name"]


async def agency_view(gql, key=demo.PERSON, org=demo.AGENCY2):
    return (await gql(LOOKUP % key, as_="credit_service", org=org))["data"]["subject"]


def by_authorization(view) -> list[str]:
    return sorted(r["item"]["code"] for r in view["records"] if r["basis"] == "authorization")


async def topics(gql) -> list[str]:
    return [n["topic"] for n in nodes((await gql(NOTES, as_="subject"))["data"]["notificationsConnection"])]


async def test_pending_until_the_subject_confirms_then_the_scope_then_nothing_after_revocation(
        gql, client, settings, pool):
    before = await agency_view(gql)
    g = await register(gql, client, settings, scope={"items": ["UTILITY_PAYMENT"]})
    assert g["state"] == "PENDING"
    pending = await agency_view(gql)
    assert pending["records"] == before["records"] and pending["withheld"] == before["withheld"]

    mine = (await gql(MINE, as_="subject"))["data"]["myCredit"]["authorizations"]
    assert [(a["id"], a["state"], a["granteeOrg"], a["scopeItems"]) for a in mine] == [
        (g["id"], "PENDING", demo.AGENCY2, ["UTILITY_PAYMENT"])]
    url = mine[0]["document"]["url"]
    read = await client.get(url, headers={"Authorization": f"Bearer {token(settings, 'subject')}"})
    assert read.status_code == 200 and read.content == PNG and read.headers["content-type"] == "image/png"
    stranger = await client.get(url, headers={"Authorization": f"Bearer {token(settings, 'credit_service')}"})
    assert stranger.status_code == 404
    auditor = await client.get(url, headers={"Authorization": f"Bearer {token(settings, 'auditor')}"})
    assert auditor.status_code == 200

    c = (await gql(STEP % "confirmAuthorization", {"id": g["id"]}, as_="subject"))["data"]["confirmAuthorization"]
    assert (c["state"], c["effectiveBasis"]) == ("EFFECTIVE", "subject_confirmed")
    after = await agency_view(gql)
    assert by_authorization(after) == ["UTILITY_PAYMENT"]  # exactly the agreed scope
    assert by_authorization(await agency_view(gql, org=demo.AGENCY)) == []  # another agency: no

    used = (await gql(MINE, as_="subject"))["data"]["myCredit"]["authorizations"][0]["uses"]
    assert [(u["organisation"]["code"], u["purpose"], [r["itemCode"] for r in u["records"]])
            for u in used] == [(demo.AGENCY2, "loan_review", ["UTILITY_PAYMENT"])]
    args = _parser().parse_args(["authorizations", "use-summary"])
    assert await asyncio.to_thread(args.run, settings, args) == 0

    await gql('mutation($id: ID!) { revokeAuthorization(id: $id) { __typename } }', {"id": g["id"]},
              as_="subject")
    assert by_authorization(await agency_view(gql)) == []
    assert set(await topics(gql)) >= {"authorization_registered", "authorization_confirmed",
                                      "authorization_used", "authorization_revoked"}

    async with pool.acquire() as conn:
        trail = await conn.fetch(
            "SELECT kind, operation, outcome, authorization_ids FROM query_log "
            "WHERE subject_key = $1 ORDER BY id", demo.PERSON)
    steps = [(r["operation"], r["outcome"]) for r in trail if r["kind"] == "authorization"]
    assert steps == [("authorization.grant", "recorded"), ("authorization.confirm", "recorded"),
                     ("authorization.revoke", "recorded")]
    reads = [r["outcome"] for r in trail if r["operation"] == "authorization.document"]
    assert reads == ["disclosed", "refused", "disclosed"]
    uses = [r for r in trail if r["kind"] == "query" and r["operation"] == "subject"
            and [str(a) for a in r["authorization_ids"]] == [g["id"]]]
    assert len(uses) == 1


async def test_a_dispute_suspends_at_once_and_opens_a_case_for_the_credit_office(gql, client, settings, pool):
    g = await register(gql, client, settings)
    await gql(STEP % "confirmAuthorization", {"id": g["id"]}, as_="subject")
    assert by_authorization(await agency_view(gql)) == ["UTILITY_PAYMENT"]
    d = (await gql('mutation($id: ID!) { disputeAuthorization(id: $id, statement: "我没有签过") '
                   '{ __typename ... on Authorization { state dispute { id } } } }',
                   {"id": g["id"]}, as_="subject"))["data"]["disputeAuthorization"]
    assert d["state"] == "DISPUTED"
    assert by_authorization(await agency_view(gql)) == []
    office = nodes((await gql(NOTES, as_="credit_office"))["data"]["notificationsConnection"])
    assert [n["topic"] for n in office] == ["authorization_disputed"]
    case_id = office[0]["details"]["dispute"]
    wrong = (await gql('mutation($id: ID!) { closeAuthorizationDispute(id: $id, finding: "forged") '
                       '{ __typename ... on UserError { code } } }', {"id": case_id},
                       as_="credit_service"))["data"]["closeAuthorizationDispute"]
    assert wrong["code"] == "FORBIDDEN"
    closed = (await gql('mutation($id: ID!) { closeAuthorizationDispute(id: $id, finding: "forged", '
                        'note: "签名系伪造") { __typename ... on AuthorizationDispute { finding closedAt } } }',
                        {"id": case_id}, as_="credit_office"))["data"]["closeAuthorizationDispute"]
    assert closed["finding"] == "forged" and closed["closedAt"]
    assert by_authorization(await agency_view(gql)) == []  # stays without effect
    mine = (await gql(MINE, as_="subject"))["data"]["myCredit"]["authorizations"][0]
    assert (mine["state"], mine["dispute"]["finding"]) == ("DISPUTED", "forged")
    assert {"authorization_disputed", "authorization_dispute_closed"} <= set(await topics(gql))


ANOMALIES = """query { authorizationAnomalies { bursts { organisation registrations }
  stalePending { id } disputed { id } quickArchivedUses { authorization { id } itemCode } } }"""


async def test_the_anomaly_report_lists_a_burst_stale_pending_and_quick_archived_use(
        gql, client, settings, auth_settings, pool, capsys):  # noqa: F811 (fixture)
    auth_settings(burst_threshold=3, pending_days=1)
    ids = [(await register(gql, client, settings))["id"] for _ in range(4)]  # 3 within the window
    async with pool.acquire() as conn:
        await conn.execute("UPDATE authorizations SET granted_at = now() - interval '3 days' "
                           "WHERE id = $1", ids[0])
    # the company grants itself and the agency at once reads its archived court judgment
    grant = grant_input(subjectKey=demo.COMPANY, scope={"items": ["DEFAULT_JUDGMENT"]})
    company = (await gql(GRANT, {"input": grant}, as_="subject", subject_key=demo.COMPANY))[
        "data"]["grantAuthorization"]
    assert by_authorization(await agency_view(gql, key=demo.COMPANY)) == ["DEFAULT_JUDGMENT"]

    report = (await gql(ANOMALIES, as_="auditor"))["data"]["authorizationAnomalies"]
    assert {"organisation": demo.AGENCY2, "registrations": 3} in report["bursts"]
    assert [a["id"] for a in report["stalePending"]] == [ids[0]]
    assert [(u["authorization"]["id"], u["itemCode"]) for u in report["quickArchivedUses"]] == [
        (company["id"], "DEFAULT_JUDGMENT")]
    refused = await gql(ANOMALIES, as_="credit_service")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    cli_settings = dataclasses.replace(settings, authorizations=dataclasses.replace(
        settings.authorizations, burst_threshold=3))
    args = _parser().parse_args(["authorizations", "anomalies", "--operator-name", "孙丽"])
    assert await asyncio.to_thread(args.run, cli_settings, args) == 0
    out = capsys.readouterr().out
    assert f"  {demo.AGENCY2}  3  " in out
    async with pool.acquire() as conn:
        acts = await conn.fetch("SELECT user_name FROM query_log WHERE operation = 'authorizationAnomalies'")
    assert [a["user_name"] for a in acts] == [token_name("auditor"), "孙丽"]
