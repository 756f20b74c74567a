"""Art. 19: written authorizations granted by the subject or registered by the grantee."""

from __future__ import annotations

import datetime as dt
import hashlib

from api import demo

GRANT = """
mutation($input: GrantAuthorizationInput!) {
  grantAuthorization(input: $input) {
    __typename
    ... on Authorization { id subjectKey granteeOrg purpose scopeItems scopeClasses evidence validUntil }
    ... on UserError { code field rule message }
  }
}
"""
REVOKE = """
mutation($id: ID!) {
  revokeAuthorization(id: $id, reason: "no longer needed") {
    __typename ... on Authorization { revokedAt } ... on UserError { code field rule message }
  }
}
"""
LOOKUP = """query($k: ID!) { subject(key: $k, purpose: "loan_review") {
  records { item { code } basis } withheld { disclosure count code } } }"""


def until(days: int = 30) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


def grant_input(**over) -> dict:
    return {"subjectKey": demo.PERSON, "granteeOrg": demo.AGENCY2, "purpose": "loan_review",
            "scope": {"classes": ["AUTHORIZED"]}, "validUntil": until(), **over}


async def test_verified_subject_grants_and_the_grantee_then_sees_authorized_records(gql):
    g = (await gql(GRANT, {"input": grant_input()}, as_="subject"))["data"]["grantAuthorization"]
    assert g["__typename"] == "Authorization" and g["evidence"] == "self_service"
    s = (await gql(LOOKUP, {"k": demo.PERSON}, as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    assert {"item": {"code": "UTILITY_PAYMENT"}, "basis": "authorization"} in s["records"]
    # revoked by the subject: disclosed no more
    r = (await gql(REVOKE, {"id": g["id"]}, as_="subject"))["data"]["revokeAuthorization"]
    assert r["__typename"] == "Authorization" and r["revokedAt"]
    s = (await gql(LOOKUP, {"k": demo.PERSON}, as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    assert all(rec["item"]["code"] != "UTILITY_PAYMENT" for rec in s["records"])


async def test_unverified_subject_cannot_grant(gql, pool):
    g = (await gql(GRANT, {"input": grant_input()}, as_="subject", real_name_verified=False))[
        "data"]["grantAuthorization"]
    assert (g["__typename"], g["code"], g["rule"]) == ("UserError", "FORBIDDEN", "real_name_verified")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM authorizations WHERE subject_key = $1", demo.PERSON) == 0


async def test_grantee_registers_a_signed_document_by_digest_and_reference(gql):
    digest = hashlib.sha256(b"scanned signed authorization").hexdigest()
    g = (await gql(GRANT, {"input": grant_input(documentDigest=digest, documentRef="CX-2026-77")},
                   as_="credit_service", org=demo.AGENCY2))["data"]["grantAuthorization"]
    assert g["__typename"] == "Authorization" and g["evidence"] == "signed_document"


async def test_grantee_without_document_digest_is_refused(gql):
    g = (await gql(GRANT, {"input": grant_input(documentRef="CX-1")}, as_="credit_service",
                   org=demo.AGENCY2))["data"]["grantAuthorization"]
    assert (g["code"], g["field"], g["rule"]) == ("INVALID_INPUT", "documentDigest", "sha256")


async def test_a_third_party_cannot_register_an_authorization_for_another_organisation(gql):
    digest = hashlib.sha256(b"x").hexdigest()
    g = (await gql(GRANT, {"input": grant_input(documentDigest=digest, documentRef="R")},
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
