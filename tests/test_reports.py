"""Credit reports (Art. 18, 36) over HTTP with real tokens: issued to the subject, a state organ
and a grantee by the disclosure rules line by line, downloaded as signed PDF and JSON, checked
publicly (genuine, and whether the subject's data changed since), every issue, read and refusal
logged."""

from __future__ import annotations

import base64
import io

import pypdf
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from api import demo
from api.ingestion.versions import store_version
from tests.conftest import log_rows, nodes, token
from tests.test_ingestion_versions import DATA_OFFICE, a_record

ISSUE = """mutation($s: ID!, $p: String) { creditReport(subject: $s, purpose: $p) {
  number digest subjectKey subjectName purpose basis pdfUrl jsonUrl signatureUrl checkUrl
  summary { records disputed repaired archived withheldRecords sections { code title count } }
  sections { code lines { item itemName provider decidedOn version changeReasons marks fields } }
  withheld { disclosure className scope count reasonCode } } }"""
CHECK = "query($n: String!, $d: String!) { verifyReport(number: $n, digest: $d) { genuine issuedAt subjectDataChanged } }"
COMPANY_SELF = {"as_": "subject", "subject_key": demo.COMPANY, "name": "王建国"}


async def issue(gql, subject=demo.COMPANY, purpose=None, **who):
    r = await gql(ISSUE, {"s": subject, "p": purpose}, **who)
    return r.get("data") and r["data"]["creditReport"], r.get("errors")


async def get(client, settings, url, role="subject", **claims):
    return await client.get(url, headers={"Authorization": f"Bearer {token(settings, role, **claims)}"})


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


async def test_the_subject_gets_its_report_as_signed_pdf_and_json_matching_its_records(gql, client, settings, pool):
    report, errors = await issue(gql, **COMPANY_SELF)
    assert errors is None
    async with pool.acquire() as conn:
        live = await conn.fetchval("SELECT count(*) FROM records WHERE subject_key = $1 AND status <> 'deleted'",
                                   demo.COMPANY)
    assert report["basis"] == "self" and report["summary"]["records"] == live
    assert sum(s["count"] for s in report["summary"]["sections"] if s["code"] != "lists") == live
    assert report["summary"]["withheldRecords"] == 0

    pdf = await get(client, settings, report["pdfUrl"], subject_key=demo.COMPANY)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["x-report-digest"] == report["digest"]
    assert b"/FontFile2" in pdf.content, "the CJK font is embedded"
    text = pdf_text(pdf.content)
    assert "公共信用信息报告" in text and "沧州运河示范商贸有限公司" in text and report["number"] in text
    assert f"合计 {live}" in text.replace("\n", " ") or f"合计\n{live}" in text
    penalty = next(s for s in report["summary"]["sections"] if s["code"] == "penalty")
    assert f"行政处罚信息（{penalty['count']} 条）" in text
    signed = pypdf.PdfReader(io.BytesIO(pdf.content)).trailer["/Root"]["/AcroForm"]["/Fields"]
    assert signed, "the PDF carries the platform's signature field"

    doc = await get(client, settings, report["jsonUrl"], subject_key=demo.COMPANY)
    sig = await get(client, settings, report["signatureUrl"], subject_key=demo.COMPANY)
    key = load_pem_public_key((await client.get("/reports/signing-key")).content)
    key.verify(base64.b64decode(sig.content), doc.content)  # raises if the signature is wrong
    assert __import__("hashlib").sha256(doc.content).hexdigest() == report["digest"]

    check = (await gql(CHECK, {"n": report["number"], "d": report["digest"]}))["data"]["verifyReport"]
    assert check["genuine"] is True and check["subjectDataChanged"] is False
    lists = next(s for s in report["sections"] if s["code"] == "lists")["lines"]  # the demo black list
    assert [ln["itemName"] for ln in lists] == ["失信黑名单"] and "失信黑名单" in text
    operations = [r["operation"] for r in await log_rows(pool, demo.COMPANY)]
    assert operations.count("creditReport") == 1 and operations.count("report.read") == 3


async def test_the_check_says_the_data_changed_after_a_correction(gql, state, pool):
    report, _ = await issue(gql, **COMPANY_SELF)
    rec = await a_record(pool, "CF-2020-0415")
    async with pool.acquire() as conn, conn.transaction():
        await store_version(conn, state.catalog, DATA_OFFICE, rec["id"], data={**rec["data"], "cf_nr_fk": 1},
                            reason="异议核实：处罚金额录入错误")
    check = (await gql(CHECK, {"n": report["number"], "d": report["digest"]}))["data"]["verifyReport"]
    assert check == {**check, "genuine": True, "subjectDataChanged": True}
    again, _ = await issue(gql, **COMPANY_SELF)
    line = next(ln for s in again["sections"] for ln in s["lines"] if ln["decidedOn"] == "2020-04-15")
    assert line["version"] == rec["version"] + 1 and line["changeReasons"] == ["异议核实：处罚金额录入错误"]


async def test_a_wrong_digest_or_number_is_not_genuine_and_discloses_nothing(gql):
    report, _ = await issue(gql, **COMPANY_SELF)
    wrong = ("0" if report["digest"][0] != "0" else "1") + report["digest"][1:]
    for n, d in ((report["number"], wrong), ("XY2026010199999999", report["digest"])):
        check = (await gql(CHECK, {"n": n, "d": d}))["data"]["verifyReport"]
        assert check == {"genuine": False, "issuedAt": None, "subjectDataChanged": None}
    bad = await gql(CHECK, {"n": "1; DROP", "d": "zz"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_an_agency_gets_only_its_authorized_scope_and_withheld_counts(gql, client, settings, pool):
    report, errors = await issue(gql, purpose="loan_review", as_="credit_service")
    assert errors is None and report["basis"] == "authorization"
    public_only, _ = await issue(gql)  # the public's lookup: for comparison only (refused below)
    assert public_only is None
    classes = {ln["item"] for s in report["sections"] for ln in s["lines"]}
    assert classes, "the authorization's scope is disclosed"
    assert report["withheld"], "what the authorization does not cover is counted, not shown"
    assert all(w["count"] > 0 and w["disclosure"] != "authorized" or w["scope"] == "fields" for w in report["withheld"])
    # the requester reads its report; another agency cannot, even knowing the number
    mine = await get(client, settings, report["pdfUrl"], role="credit_service")
    assert mine.status_code == 200
    other = await get(client, settings, report["pdfUrl"], role="credit_service", org=demo.AGENCY2)
    assert other.status_code == 404
    # the subject sees who obtained a report on it
    r = await gql("{ myCredit { reportsIssuedConnection { edges { node { number organisation { code } purpose } } } } }",
                  **COMPANY_SELF)
    assert {"number": report["number"], "organisation": {"code": demo.AGENCY}, "purpose": "loan_review"} in \
        nodes(r["data"]["myCredit"]["reportsIssuedConnection"])


@pytest.mark.parametrize("who,purpose,rule", [
    ({"as_": "credit_service"}, "bidding", "art19_authorization"),  # no authorization for it
    ({"as_": "credit_service"}, None, "art19_purpose"),
    ({}, None, "report_requester"),                                   # the public
    ({"as_": "provider"}, None, "report_requester"),
    ({"as_": "subject", "subject_key": demo.COMPANY, "real_name_verified": False}, None, "art19_verification"),
])
async def test_refusals_issue_nothing_and_are_logged(gql, pool, who, purpose, rule):
    before = len(await log_rows(pool, demo.COMPANY))
    report, errors = await issue(gql, purpose=purpose, **who)
    assert report is None and errors[0]["extensions"]["rule"] == rule
    rows = (await log_rows(pool, demo.COMPANY))[before:]
    assert [(r["operation"], r["outcome"]) for r in rows] == [("creditReport", "refused")]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM credit_reports") == 0


async def test_a_state_organ_needs_an_art29_purpose(gql):
    report, errors = await issue(gql, as_="state_organ")
    assert report is None and errors[0]["extensions"]["code"] == "PURPOSE_REQUIRED"
    report, errors = await issue(gql, purpose="government_procurement", as_="state_organ")
    assert errors is None and report["basis"] == "duty"


async def test_the_public_check_page_answers_in_chinese_without_content(gql, client):
    report, _ = await issue(gql, **COMPANY_SELF)
    page = await client.get(f"/reports/check?number={report['number']}&digest={report['digest']}")
    assert page.status_code == 200 and "核验通过" in page.text
    assert "沧州运河示范商贸有限公司" not in page.text and "http" not in page.text.split("<body>")[1]
    forged = await client.get(f"/reports/check?number={report['number']}&digest={'0' * 64}")
    assert "核验未通过" in forged.text
