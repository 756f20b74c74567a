"""Art. 19 with the Electronic Signature Law: a PDF signed by the subject, checked with pyHanko
against the configured trust roots. The CA is made here; nothing is fetched."""

from __future__ import annotations

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization

from api import demo
from api.authorizations.signatures import check_signature, load_trust_roots
from tests.authorizations_pki import altered, blank_pdf, issue, make_ca, signed_pdf
from tests.test_authorizations_api import GRANT, LOOKUP, auth_settings, grant_input, upload  # noqa: F401


@pytest.fixture(scope="module")
def ca():
    return make_ca()


def roots(ca) -> list:
    return [asn1_x509.Certificate.load(ca.cert.public_bytes(serialization.Encoding.DER))]


async def test_a_pdf_signed_by_the_subject_verifies(ca):
    pdf = await signed_pdf(issue(ca, "张伟", demo.PERSON), ca)
    check = await check_signature(pdf, demo.PERSON, roots(ca))
    assert (check.valid, check.reason, check.signer_serial) == (True, "valid", demo.PERSON)


async def test_a_pdf_signed_by_someone_else_is_not_the_subjects_agreement(ca):
    pdf = await signed_pdf(issue(ca, "李秀英", demo.PERSON2), ca)
    check = await check_signature(pdf, demo.PERSON, roots(ca))
    assert (check.valid, check.reason) == (False, "signer_mismatch")


async def test_a_pdf_altered_after_signing_fails(ca):
    pdf = await signed_pdf(issue(ca, "张伟", demo.PERSON), ca)
    check = await check_signature(altered(pdf), demo.PERSON, roots(ca))
    assert (check.valid, check.reason) == (False, "altered")
    appended = await check_signature(pdf + b"\n% appended after signing\n", demo.PERSON, roots(ca))
    assert (appended.valid, appended.reason) == (False, "not_whole_file")


async def test_an_expired_certificate_fails(ca):
    pdf = await signed_pdf(issue(ca, "张伟", demo.PERSON, expired=True), ca)
    check = await check_signature(pdf, demo.PERSON, roots(ca))
    assert (check.valid, check.reason) == (False, "untrusted")


async def test_a_certificate_from_another_ca_and_no_roots_at_all_fail(ca):
    other = make_ca("Not Configured CA")
    pdf = await signed_pdf(issue(other, "张伟", demo.PERSON), other)
    assert (await check_signature(pdf, demo.PERSON, roots(ca))).reason == "untrusted"
    assert (await check_signature(pdf, demo.PERSON, [])).reason == "no_trust_roots"
    assert (await check_signature(blank_pdf(), demo.PERSON, roots(ca))).reason == "no_signature"


async def test_trust_roots_are_read_from_a_pem_file(ca, tmp_path):
    path = tmp_path / "roots.pem"
    path.write_bytes(ca.pem + make_ca("Second").pem)
    assert len(load_trust_roots(path)) == 2 and load_trust_roots(None) == []


async def test_over_http_a_valid_signature_makes_it_effective_and_a_wrong_one_leaves_it_pending(
        ca, tmp_path, gql, client, settings, auth_settings):  # noqa: F811 (fixture)
    path = tmp_path / "roots.pem"
    path.write_bytes(ca.pem)
    auth_settings(trust_roots_file=path)
    wrong = (await upload(client, settings, await signed_pdf(issue(ca, "李秀英", demo.PERSON2), ca))).json()
    g = (await gql(GRANT, {"input": grant_input(documentId=wrong["id"])}, as_="credit_service",
                   org=demo.AGENCY2))["data"]["grantAuthorization"]
    assert g["state"] == "PENDING" and "电子签名未认定" in g["pendingReason"]
    s = (await gql(LOOKUP, {"k": demo.PERSON}, as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    assert all(r["basis"] != "authorization" for r in s["records"])
    right = (await upload(client, settings, await signed_pdf(issue(ca, "张伟", demo.PERSON), ca))).json()
    g = (await gql(GRANT, {"input": grant_input(documentId=right["id"])}, as_="credit_service",
                   org=demo.AGENCY2))["data"]["grantAuthorization"]
    assert (g["state"], g["effectiveBasis"]) == ("EFFECTIVE", "e_signature")
    s = (await gql(LOOKUP, {"k": demo.PERSON}, as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    assert {"item": {"code": "UTILITY_PAYMENT"}, "basis": "authorization"} in s["records"]
