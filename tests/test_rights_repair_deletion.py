"""Art. 39 credit repair and Art. 40 deletion on request, through the GraphQL API."""

from __future__ import annotations

import datetime as dt

import pytest

from api import demo

from .conftest import nodes
from .test_credit_use import CHECK
from .rights_helpers import (
    APPLY,
    COMPANY,
    DECIDE,
    as_company,
    licence,
    penalty,
    snapshot,
    step,
    submit,
)

VIEW = ("query($k: ID!, $p: String) { subject(key: $k, purpose: $p) { records { id status basis } "
        "withheld { count code } } }")
JOINT = "query($k: ID!, $p: String!) { jointPunishmentBasis(key: $k, purpose: $p) { id status } }"
MY_CREDIT = "{ myCredit { records { id status item { code } } } }"
CASES = ("query($kind: CaseKind) { rightsCasesConnection(kind: $kind) { edges { node { number kind stage "
         "outcome steps { step role on dueOn onTime details } } } } }")
GRANT = """
mutation($input: GrantAuthorizationInput!) { grantAuthorization(input: $input) {
  ... on Authorization { id } ... on UserError { code message } } }
"""
DELETE = ("mutation($id: ID!) { requestDeletion(recordId: $id) { ... on Tombstone { recordId itemCode "
          "category basis requestedByName decidedByRole deletedOn } ... on UserError { code message rule } } }")
HISTORY = "query($id: ID!) { recordHistory(id: $id) { versions { version } } }"


def in_a_year() -> str:
    """Authorizations are checked against the database's real time, not the workflow clock."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=365)).isoformat()


def ids(view: dict | None) -> list[str]:
    return [r["id"] for r in (view or {}).get("records", [])]


# --- Art. 39 -----------------------------------------------------------------------------------------


async def test_a_repaired_record_leaves_public_view_and_joint_punishment_but_stays_for_the_subject(
    gql, clock, pool
):
    (rid,) = await submit(gql, penalty("CF-2026-P01"))
    organ = {"as_": "state_organ"}
    assert ids((await gql(VIEW, {"k": COMPANY}))["data"]["subject"]) == [rid]
    # joint punishment rests on a black-list entry (Art. 28): the provider lists the company on it
    rules = (await gql('{ listRules(kind: BLACK) { id providerCode } }'))["data"]["listRules"]
    rule = next(r["id"] for r in rules if r["providerCode"] == demo.MARKET)
    listed = await gql("""mutation($r: ID!, $b: [ID!]!, $k: String!) { addListEntry(input: {subjectKey: $k, kind: BLACK,
        ruleId: $r, caseNumber: "沧市监失信〔2026〕P01号", reason: "较重行政处罚", basisRecordIds: $b,
        decidedOn: "2026-09-01"}) }""", {"r": rule, "b": [rid], "k": COMPANY}, as_="provider")
    assert "errors" not in listed, listed
    assert rid in [r["id"] for r in (await gql(JOINT, {"k": COMPANY, "p": "government_procurement"}, **organ))[
        "data"]["jointPunishmentBasis"]]

    clock.set("2026-09-30")
    case = await step(gql, APPLY, {"input": {"recordId": rid, "evidenceRefs": ["罚款缴纳凭证 No.2026-0930"],
                                             "statement": "已全额缴纳罚款并完成整改"}}, **as_company())
    assert (case["number"][:9], case["stage"], case["nextRole"], case["nextOrganisation"]) == (
        "REP-2026-", "DECIDE_REPAIR", "provider", demo.MARKET)
    # 3 working days: 10-08, 10-09 and the make-up Saturday 10-10
    assert (case["deadline"]["dueOn"], case["deadline"]["basis"][:7]) == ("2026-10-10", "Art. 39")

    clock.set("2026-10-09")
    case = await step(gql, DECIDE, {"id": case["id"], "ok": True}, as_="provider")
    assert (case["stage"], case["outcome"], case["closedOn"], case["mayGoToCourt"]) == (
        "CLOSED", "REPAIRED", "2026-10-09", False)
    assert case["steps"][-1]["dueOn"] == "2026-10-10" and case["steps"][-1]["onTime"] is True

    public = (await gql(VIEW, {"k": COMPANY}))["data"]["subject"]
    assert public == {"records": [], "withheld": []}  # not even counted for the public
    assert rid not in [r["id"] for r in (await gql(JOINT, {"k": COMPANY, "p": "government_procurement"}, **organ))[
        "data"]["jointPunishmentBasis"]]
    # the entry resting on it no longer stands: the credit check says so, with no measure
    check = (await gql(CHECK, {"s": COMPANY, "sc": "government_procurement"}, **organ))["data"]["creditCheck"]
    ours = [e for e in check["entries"] if e["caseNumber"] == "沧市监失信〔2026〕P01号"]
    assert [(e["standing"], e["inForce"]) for e in ours] == [("basis_repaired", False)]
    assert not any(m["entry"] == ours[0]["id"] for m in check["measures"])
    organ_view = (await gql(VIEW, {"k": COMPANY, "p": "government_procurement"}, **organ))["data"]["subject"]
    assert organ_view["records"] == [] and organ_view["withheld"] == [{"count": 1, "code": "NEEDS_AUTHORIZATION"}]
    mine = (await gql(MY_CREDIT, **as_company()))["data"]["myCredit"]["records"]
    assert [(r["id"], r["status"]) for r in mine] == [(rid, "REPAIRED")]

    # under the subject's written authorization it is disclosed, still marked repaired ...
    granted = await gql(GRANT, {"input": {"subjectKey": COMPANY, "granteeOrg": demo.AGENCY2,
                                          "purpose": "loan_review", "scope": {"classes": ["PUBLIC"]},
                                          "validUntil": in_a_year()}}, **as_company())
    assert "id" in granted["data"]["grantAuthorization"], granted
    agency = {"as_": "credit_service", "org": demo.AGENCY2}
    seen = (await gql(VIEW, {"k": COMPANY, "p": "loan_review"}, **agency))["data"]["subject"]["records"]
    assert [(r["id"], r["status"], r["basis"]) for r in seen] == [(rid, "REPAIRED", "authorization")]
    # ... and never as a basis for joint punishment
    assert (await gql(JOINT, {"k": COMPANY, "p": "loan_review"}, **agency))["data"]["jointPunishmentBasis"] == []

    # its repair history: the subject's own case
    (history,) = nodes((await gql(CASES, {"kind": "REPAIR"}, **as_company()))["data"]["rightsCasesConnection"])
    assert [(s["step"], s["role"], s["on"]) for s in history["steps"]] == [
        ("apply", "subject", "2026-09-30"), ("decide_repair", "provider", "2026-10-09")]


async def test_repair_refusals_change_nothing(gql, clock, owner):
    (pen, lic) = await submit(gql, penalty("CF-2026-P02"), licence("XK-2026-P03"))
    before = await snapshot(owner)
    apply = {"input": {"recordId": lic, "evidenceRefs": ["凭证"]}}
    err = await step(gql, APPLY, apply, **as_company())
    assert (err["code"], err["rule"]) == ("NOT_ELIGIBLE", "art39_dishonesty_only")
    err = await step(gql, APPLY, {"input": {"recordId": pen, "evidenceRefs": ["凭证"]}}, as_="subject")
    assert (err["code"], err["rule"]) == ("NOT_FOUND", "not_found")  # not 张伟's record
    assert await snapshot(owner) == before

    case = await step(gql, APPLY, {"input": {"recordId": pen, "evidenceRefs": ["凭证"]}}, **as_company())
    before = await snapshot(owner)
    for vars_, who, code, rule in (
        ({"ok": True}, {"as_": "credit_office"}, "WRONG_ROLE", "art39_provider"),
        ({"ok": True}, as_company(), "WRONG_ROLE", "art39_provider"),
        ({"ok": True}, {"as_": "provider", "org": demo.CIVIL}, "NOT_FOUND", "not_found"),
        ({"ok": False}, {"as_": "provider"}, "INVALID_INPUT", "required"),  # a refusal needs its reason
    ):
        err = await step(gql, DECIDE, {"id": case["id"], **vars_}, **who)
        assert (err["code"], err["rule"]) == (code, rule), (who, err)
    err = await step(gql, APPLY, {"input": {"recordId": pen, "evidenceRefs": ["凭证"]}}, **as_company())
    assert (err["code"], err["rule"]) == ("CASE_OPEN", "one_open_case")
    assert await snapshot(owner) == before

    refused = await step(gql, DECIDE, {"id": case["id"], "ok": False, "reason": "尚未完成整改"}, as_="provider")
    assert refused["outcome"] == "REJECTED"
    assert refused["steps"][-1]["details"] == {"result": "rejected", "reason": "尚未完成整改"}
    async with owner.transaction():
        assert await owner.fetchval("SELECT status FROM records WHERE id = $1", pen) == "active"


# --- Art. 40 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject_key, name, ref, item_code, category",
    [(demo.PERSON2, "李秀英", "BZ-2024-0008", "COMMENDATION", "commendation"),
     (demo.PERSON, "张伟", "ZY-2025-8812", "VOLUNTEER_SERVICE", "volunteer")],
)
async def test_art40_deletion_on_request_is_gone_from_every_view_and_leaves_a_tombstone(
    gql, clock, pool, subject_key, name, ref, item_code, category
):
    provider = demo.CIVIL
    async with pool.acquire() as conn:
        rid = str(await conn.fetchval("SELECT id FROM records WHERE source_ref = $1", ref))
    me = {"as_": "subject", "subject_key": subject_key, "name": name, "sub": f"user-{subject_key}"}
    assert rid in ids((await gql(VIEW, {"k": subject_key}))["data"]["subject"])
    clock.set("2026-10-10")
    stone = (await gql(DELETE, {"id": rid}, **me))["data"]["requestDeletion"]
    assert stone == {"recordId": rid, "itemCode": item_code,
                     "category": category, "basis": "art40_request", "requestedByName": name,
                     "decidedByRole": "subject", "deletedOn": "2026-10-10"}

    for who in ({}, me, {"as_": "provider", "org": provider}, {"as_": "state_organ"}):
        view = (await gql(VIEW, {"k": subject_key, "p": "commendation"}, **who))["data"]["subject"]
        assert rid not in ids(view), who
    for who in (me, {"as_": "provider", "org": provider}):
        assert (await gql(HISTORY, {"id": rid}, **who))["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, data FROM records WHERE id = $1", rid)
        versions = await conn.fetchval("SELECT count(*) FROM record_versions WHERE record_id = $1", rid)
        act = await conn.fetchrow("SELECT * FROM query_log WHERE kind = 'deletion' ORDER BY id DESC LIMIT 1")
        note = await conn.fetchrow("SELECT * FROM rights_notifications WHERE record_id = $1", rid)
    assert (row["status"], row["data"], versions) == ("deleted", {}, 0)
    assert (act["operation"], act["retention"], act["details"]["record"]) == (
        "record.delete.art40_request", "long_term", rid)
    assert (note["recipient_role"], note["recipient"], note["topic"]) == ("provider", provider, "deletion.done")

    stones = "query($k: String) { tombstones(subjectKey: $k) { recordId basis } }"
    assert (await gql(stones, {}, **me))["data"]["tombstones"] == [{"recordId": rid, "basis": "art40_request"}]
    assert (await gql(stones, {"k": subject_key}, as_="auditor"))["data"]["tombstones"][0]["recordId"] == rid
    refused = await gql(stones, {"k": subject_key}, as_="state_organ")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    again = (await gql(DELETE, {"id": rid}, **me))["data"]["requestDeletion"]
    assert again["code"] == "NOT_FOUND"


async def test_art40_deletion_of_a_penalty_is_refused_and_changes_nothing(gql, clock, owner):
    (rid,) = await submit(gql, penalty("CF-2026-D01"))
    before = await snapshot(owner)
    err = (await gql(DELETE, {"id": rid}, **as_company()))["data"]["requestDeletion"]
    assert (err["code"], err["rule"]) == ("NOT_ELIGIBLE", "art40_categories")
    assert "第四十条只删除表彰奖励、志愿服务和慈善捐赠记录" in err["message"]
    assert "penalty" in err["message"]
    err = (await gql(DELETE, {"id": rid}, **as_company(real_name_verified=False)))["data"]["requestDeletion"]
    assert err["code"] == "FORBIDDEN"
    async with owner.transaction():
        commendation = str(await owner.fetchval("SELECT id FROM records WHERE source_ref = 'BZ-2024-0008'"))
    err = (await gql(DELETE, {"id": commendation}, **as_company()))["data"]["requestDeletion"]
    assert err["code"] == "NOT_FOUND"  # someone else's
    assert await snapshot(owner) == before
