"""Art. 19: written authorizations granted by the subject, or registered by the grantee with the
uploaded signed document and effective only once the subject's agreement is shown."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from api import demo
from api.identifiers import resident_id_check_char
from tests.conftest import nodes, token

GRANT = """
mutation($input: GrantAuthorizationInput!) {
  grantAuthorization(input: $input) {
    __typename
    ... on Authorization { id subjectKey granteeOrg purpose scopeItems scopeClasses evidence validUntil
                           state effectiveBasis pendingReason document { id sha256 url } }
    ... on UserError { code field rule message }
  }
}
"""
REVOKE = """
mutation($id: ID!) {
  revokeAuthorization(id: $id, reason: "no longer needed") {
    __typename ... on Authorization { revokedAt state } ... on UserError { code field rule message }
  }
}
"""
STEP = """mutation($id: ID!) { %s(id: $id) { __typename
  ... on Authorization { state effectiveBasis paperCheck { recordedBy confirmedBy confirmedAt } }
  ... on UserError { code rule message } } }"""
LOOKUP = """query($k: ID!) { subject(key: $k, purpose: "loan_review") {
  records { item { code } basis } withheld { disclosure count code } } }"""
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def until(days: int = 30) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


def grant_input(**over) -> dict:
    return {"subjectKey": demo.PERSON, "granteeOrg": demo.AGENCY2, "purpose": "loan_review",
            "scope": {"classes": ["AUTHORIZED"]}, "validUntil": until(), **over}


async def upload(client, settings, body: bytes, *, role="credit_service", org=demo.AGENCY2,
                 content_type="application/pdf", **claims):
    return await client.post("/authorizations/documents", content=body, headers={
        "Authorization": f"Bearer {token(settings, role, org=org, **claims)}",
        "Content-Type": content_type})


async def register(gql, client, settings, body: bytes = PNG, **over) -> dict:
    doc = (await upload(client, settings, body)).json()
    g = (await gql(GRANT, {"input": grant_input(documentId=doc["id"], **over)},
                   as_="credit_service", org=demo.AGENCY2))["data"]["grantAuthorization"]
    assert g["__typename"] == "Authorization", g
    return g


@pytest.fixture
def auth_settings(state):
    """Change the authorization settings of the running app for one test."""
    old = state.settings

    def apply(**changes):
        state.settings = dataclasses.replace(
            old, authorizations=dataclasses.replace(old.authorizations, **changes))
    yield apply
    state.settings = old


async def test_verified_subject_grants_and_the_grantee_then_sees_authorized_records(gql):
    g = (await gql(GRANT, {"input": grant_input()}, as_="subject"))["data"]["grantAuthorization"]
    assert (g["evidence"], g["state"], g["effectiveBasis"]) == ("self_service", "EFFECTIVE", "self_service")
    s = (await gql(LOOKUP, {"k": demo.PERSON}, as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    assert {"item": {"code": "UTILITY_PAYMENT"}, "basis": "authorization"} in s["records"]
    r = (await gql(REVOKE, {"id": g["id"]}, as_="subject"))["data"]["revokeAuthorization"]
    assert r["__typename"] == "Authorization" and r["revokedAt"] and r["state"] == "REVOKED"
    s = (await gql(LOOKUP, {"k": demo.PERSON}, as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    assert all(rec["item"]["code"] != "UTILITY_PAYMENT" for rec in s["records"])


async def test_unverified_subject_cannot_grant_and_the_refusal_is_logged(gql, pool):
    g = (await gql(GRANT, {"input": grant_input()}, as_="subject", real_name_verified=False))[
        "data"]["grantAuthorization"]
    assert (g["__typename"], g["code"], g["rule"]) == ("UserError", "FORBIDDEN", "real_name_verified")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM authorizations WHERE subject_key = $1", demo.PERSON) == 0
        row = await conn.fetchrow("SELECT * FROM query_log WHERE operation = 'authorization.grant'")
    assert (row["subject_key"], row["outcome"]) == (demo.PERSON, "refused")


async def test_upload_checks_the_type_by_its_bytes_and_the_size(client, settings, auth_settings, pool):
    ok = await upload(client, settings, PNG, content_type="text/plain")
    assert ok.status_code == 201 and ok.json()["mediaType"] == "image/png" and len(ok.json()["sha256"]) == 64
    fake = await upload(client, settings, b"<html>not a pdf</html>", content_type="application/pdf")
    assert fake.status_code == 415
    auth_settings(document_max_bytes=1000)
    big = await upload(client, settings, b"%PDF-1.7\n" + b"x" * 2000)
    assert big.status_code == 413
    public = await client.post("/authorizations/documents", content=PNG)
    assert public.status_code == 403
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM authorization_documents") == 1


async def test_grantee_registration_needs_its_own_uploaded_document(gql, client, settings):
    missing = (await gql(GRANT, {"input": grant_input()}, as_="credit_service", org=demo.AGENCY2))[
        "data"]["grantAuthorization"]
    assert (missing["code"], missing["field"], missing["rule"]) == ("INVALID_INPUT", "documentId", "required")
    other_org_doc = (await upload(client, settings, PNG, org=demo.AGENCY)).json()
    g = (await gql(GRANT, {"input": grant_input(documentId=other_org_doc["id"])},
                   as_="credit_service", org=demo.AGENCY2))["data"]["grantAuthorization"]
    assert (g["code"], g["field"]) == ("NOT_FOUND", "documentId")
    first = await register(gql, client, settings)
    assert first["state"] == "PENDING" and "等待主体本人" in first["pendingReason"]
    again = (await gql(GRANT, {"input": grant_input(documentId=first["document"]["id"])},
                       as_="credit_service", org=demo.AGENCY2))["data"]["grantAuthorization"]
    assert again["rule"] == "document_used"


async def test_a_third_party_cannot_register_an_authorization_for_another_organisation(gql, client, settings):
    doc = (await upload(client, settings, PNG, org=demo.AGENCY)).json()
    g = (await gql(GRANT, {"input": grant_input(documentId=doc["id"])},
                   as_="credit_service"))["data"]["grantAuthorization"]  # demo.AGENCY, not AGENCY2
    assert (g["code"], g["rule"]) == ("FORBIDDEN", "grantor")


async def test_bad_periods_and_scopes_are_refused_with_the_field(gql):
    cases = [
        (grant_input(validUntil=until(-1)), "validUntil"),
        (grant_input(validUntil=until(366 * 6)), "validUntil"),
        (grant_input(scope={}), "scope"),
        (grant_input(scope={"items": ["NOPE"]}), "scope.items"),
        (grant_input(granteeOrg="91110000600037341N"), "granteeOrg"),
        (grant_input(purpose=" "), "purpose"),
    ]
    for inp, field in cases:
        g = (await gql(GRANT, {"input": inp}, as_="subject"))["data"]["grantAuthorization"]
        assert g["__typename"] == "UserError" and g["field"] == field, (inp, g)


async def test_control_characters_are_refused_before_any_lookup_and_logged(gql, pool, client, settings):
    """Issue 9: a NUL in documentRef was an internal error for existing keys only."""
    doc = (await upload(client, settings, PNG)).json()
    for key in (demo.PERSON, _unknown_person()):
        r = await gql(GRANT, {"input": grant_input(subjectKey=key, documentId=doc["id"], documentRef="CX\x00-1")},
                      as_="credit_service", org=demo.AGENCY2)
        e = r["errors"][0]["extensions"]
        assert r["data"] is None and (e["code"], e["field"], e["rule"]) == (
            "INVALID_INPUT", "input.documentRef", "control_character")
    async with pool.acquire() as conn:  # refused before anything ran, and logged against the key named
        rows = await conn.fetch("SELECT subject_key, outcome FROM query_log "
                                "WHERE operation = 'grantAuthorization' ORDER BY id")
    assert [(r["subject_key"], r["outcome"]) for r in rows] == [
        (demo.PERSON, "refused"), (_unknown_person(), "refused")]


def _unknown_person() -> str:
    body = "13090219900101123"
    return body + resident_id_check_char(body)


async def test_an_unknown_and_an_existing_subject_get_the_same_answer(gql, pool, client, settings):
    """A registration names a key: pending either way, so a sweep learns nothing; each logged."""
    answers, valid_until = [], until()
    for key in (demo.PERSON, _unknown_person()):
        g = await register(gql, client, settings, subjectKey=key, validUntil=valid_until)
        answers.append({k: v for k, v in g.items() if k not in ("id", "subjectKey", "document")})
    assert answers[0] == answers[1] and answers[0]["state"] == "PENDING"
    async with pool.acquire() as conn:
        logged = await conn.fetch("SELECT subject_key FROM query_log WHERE operation = "
                                  "'authorization.grant' AND outcome = 'recorded' ORDER BY id")
    assert [r["subject_key"] for r in logged] == [demo.PERSON, _unknown_person()]


async def test_only_the_subject_or_grantee_can_revoke_and_only_once(gql):
    g = (await gql(GRANT, {"input": grant_input()}, as_="subject"))["data"]["grantAuthorization"]
    other = (await gql(REVOKE, {"id": g["id"]}, as_="credit_service"))["data"]["revokeAuthorization"]
    assert other["code"] == "NOT_FOUND"
    ok = (await gql(REVOKE, {"id": g["id"]}, as_="credit_service", org=demo.AGENCY2))["data"]["revokeAuthorization"]
    assert ok["__typename"] == "Authorization"
    again = (await gql(REVOKE, {"id": g["id"]}, as_="subject"))["data"]["revokeAuthorization"]
    assert (again["code"], again["rule"]) == ("INVALID_INPUT", "already_revoked")
    bogus = (await gql(REVOKE, {"id": "not-a-uuid"}, as_="subject"))["data"]["revokeAuthorization"]
    assert bogus["code"] == "NOT_FOUND"


async def test_the_subject_refuses_a_pending_one_and_it_never_discloses(gql, client, settings):
    g = await register(gql, client, settings)
    r = (await gql(STEP % "refuseAuthorization", {"id": g["id"]}, as_="subject"))["data"]["refuseAuthorization"]
    assert r["state"] == "REFUSED"
    late = (await gql(STEP % "confirmAuthorization", {"id": g["id"]}, as_="subject"))["data"]["confirmAuthorization"]
    assert (late["code"], late["rule"]) == ("INVALID_INPUT", "state")
    s = (await gql(LOOKUP, {"k": demo.PERSON}, as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    assert all(rec["basis"] != "authorization" for rec in s["records"])


async def test_another_subject_cannot_confirm(gql, client, settings):
    g = await register(gql, client, settings)
    r = (await gql(STEP % "confirmAuthorization", {"id": g["id"]}, as_="subject",
                   subject_key=demo.PERSON2))["data"]["confirmAuthorization"]
    assert r["code"] == "NOT_FOUND"


async def test_the_credit_office_checks_the_paper_with_two_people(gql, client, settings):
    g = await register(gql, client, settings)
    rec = (await gql(STEP % "recordAuthorizationPaperCheck", {"id": g["id"]}, as_="credit_office",
                     sub="office-1", name="陈静"))["data"]["recordAuthorizationPaperCheck"]
    assert rec["state"] == "PENDING" and rec["paperCheck"]["recordedBy"] == "陈静"
    same = (await gql(STEP % "confirmAuthorizationPaperCheck", {"id": g["id"]}, as_="credit_office",
                      sub="office-1", name="陈静"))["data"]["confirmAuthorizationPaperCheck"]
    assert (same["code"], same["rule"]) == ("FORBIDDEN", "two_people")
    other_org = (await gql(STEP % "confirmAuthorizationPaperCheck", {"id": g["id"]}, as_="credit_office",
                           sub="office-x", org=demo.DATA_OFFICE))["data"]["confirmAuthorizationPaperCheck"]
    assert other_org["code"] == "NOT_FOUND"
    ok = (await gql(STEP % "confirmAuthorizationPaperCheck", {"id": g["id"]}, as_="credit_office",
                    sub="office-2", name="周强"))["data"]["confirmAuthorizationPaperCheck"]
    assert (ok["state"], ok["effectiveBasis"]) == ("EFFECTIVE", "paper_check")
    assert ok["paperCheck"]["confirmedBy"] == "周强" and ok["paperCheck"]["confirmedAt"]
    s = (await gql(LOOKUP, {"k": demo.PERSON}, as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    assert {"item": {"code": "UTILITY_PAYMENT"}, "basis": "authorization"} in s["records"]


async def test_an_exempt_purpose_applies_to_state_organs_never_to_credit_agencies(
        gql, client, settings, auth_settings):
    auth_settings(exempt_purposes=frozenset({"administrative_penalty"}))
    doc = (await upload(client, settings, PNG, role="state_organ", org=demo.HOUSING)).json()
    organ = (await gql(GRANT, {"input": grant_input(granteeOrg=demo.HOUSING, purpose="administrative_penalty",
                                                    documentId=doc["id"])},
                       as_="state_organ"))["data"]["grantAuthorization"]
    assert (organ["state"], organ["effectiveBasis"]) == ("EFFECTIVE", "exempt")
    agency = await register(gql, client, settings, purpose="administrative_penalty")
    assert agency["state"] == "PENDING"


GRANTED = """query($first: Int!, $after: String) { grantedAuthorizations(first: $first, after: $after) {
  edges { node { id subjectKey state pendingReason } } pageInfo { hasNextPage endCursor } } }"""


async def test_the_grantee_pages_through_its_own_authorizations(gql, client, settings, pool):
    made = [(await register(gql, client, settings))["id"] for _ in range(3)]
    await gql(GRANT, {"input": grant_input(granteeOrg=demo.AGENCY)}, as_="subject")  # not AGENCY2's
    p1 = (await gql(GRANTED, {"first": 2}, as_="credit_service", org=demo.AGENCY2))["data"]["grantedAuthorizations"]
    assert p1["pageInfo"]["hasNextPage"] and len(p1["edges"]) == 2
    p2 = (await gql(GRANTED, {"first": 2, "after": p1["pageInfo"]["endCursor"]}, as_="credit_service",
                    org=demo.AGENCY2))["data"]["grantedAuthorizations"]
    assert not p2["pageInfo"]["hasNextPage"]
    seen = [a["id"] for a in nodes(p1) + nodes(p2)]
    assert sorted(seen) == sorted(made) and all(a["pendingReason"] for a in nodes(p1))
    refused = await gql(GRANTED, {"first": 2}, as_="provider")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_only_art29_purposes_can_be_exempt_and_a_missing_trust_root_file_stops_the_start(tmp_path):
    from api.config import ConfigError, Settings

    base = {"CREDIT_JWT_SECRET": "s" * 40, "CREDIT_AUDIT_KEY": "k" * 40, "CREDIT_DATA_DIR": str(tmp_path)}
    ok = Settings.from_env({**base, "CREDIT_AUTHORIZATION_EXEMPT_PURPOSES": "administrative_penalty, bidding"})
    assert ok.authorizations.exempt_purposes == {"administrative_penalty", "bidding"}
    with pytest.raises(ConfigError, match="loan_review"):
        Settings.from_env({**base, "CREDIT_AUTHORIZATION_EXEMPT_PURPOSES": "loan_review"})
    with pytest.raises(ConfigError, match="CREDIT_SIGNATURE_TRUST_ROOTS"):
        Settings.from_env({**base, "CREDIT_SIGNATURE_TRUST_ROOTS": str(tmp_path / "none.pem")})


async def test_exemptions_apply_at_start_up_to_state_organs_pending_registrations_only(
        gql, client, settings, pool):
    from api.authorizations.lifecycle import apply_exemptions

    doc = (await upload(client, settings, PNG, role="state_organ", org=demo.HOUSING)).json()
    organ = (await gql(GRANT, {"input": grant_input(granteeOrg=demo.HOUSING, purpose="bidding",
                                                    documentId=doc["id"])},
                       as_="state_organ"))["data"]["grantAuthorization"]
    agency = await register(gql, client, settings, purpose="bidding")
    assert organ["state"] == agency["state"] == "PENDING"
    assert await apply_exemptions(pool, frozenset({"bidding"})) == 1
    async with pool.acquire() as conn:
        states = dict(await conn.fetch("SELECT id::text, state FROM authorizations"))
        act = await conn.fetchval("SELECT count(*) FROM query_log WHERE operation = 'authorization.exempt'")
    assert (states[organ["id"]], states[agency["id"]], act) == ("effective", "pending", 1)


async def test_control_characters_in_a_step_are_refused_before_anything_is_looked_up(gql, client, settings, pool):
    g = await register(gql, client, settings)
    r = await gql('mutation($id: ID!) { refuseAuthorization(id: $id, reason: "no\\u0000") '
                  '{ __typename ... on UserError { code rule } } }', {"id": g["id"]}, as_="subject")
    assert r["data"] is None  # refused before anything ran (schema/text_input.py)
    assert (r["errors"][0]["extensions"]["code"], r["errors"][0]["extensions"]["rule"]) == (
        "INVALID_INPUT", "control_character")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT state FROM authorizations WHERE id = $1::uuid", g["id"]) == "pending"
