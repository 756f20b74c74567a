"""Using credit information (Art. 24-32) over HTTP with real tokens: the published lists, the
measures registry, the credit check and its feedback, joint punishment from black-list entries."""

from __future__ import annotations

import datetime as dt

import pytest

from api import demo
from api.lists.rules import BasisRecord, EntryFacts, standing
from tests.conftest import log_rows, nodes
from tests.test_ingestion_versions import a_record

D = dt.date.fromisoformat
CHECK = """query($s: ID!, $sc: String!) { creditCheck(subject: $s, scenario: $sc) {
  id listed feedbackDue basisWithheld
  entries { id kind standing inForce caseNumber providerName ruleDocNumber }
  measures { entry measure { code kind clause legalBasis originatingName implementingBodies } }
  basisRecords { id item { code } } } }"""
LIST = """query($k: ListKind, $q: String) { listEntries(kind: $k, search: $q) {
  edges { node { subjectKey subjectName kind caseNumber inForce reason } } pageInfo { hasNextPage endCursor } } }"""
FEEDBACK = """mutation($c: ID!, $a: [AppliedMeasure!]!) { reportCheckFeedback(checkId: $c, applied: $a) { check applied } }"""


def facts(state="listed", frm="2026-01-01", until="2026-12-31", status="active", version=1, listed=1):
    return EntryFacts(state, D(frm), D(until) if until else None, (BasisRecord("r1", status, version, listed),))


@pytest.mark.parametrize("f,today,expected", [
    (facts(), "2026-06-01", "in_force"),
    (facts(), "2026-12-31", "in_force"),        # through the last day
    (facts(), "2027-01-01", "expired"),
    (facts(), "2025-12-31", "pending"),
    (facts(status="disputed"), "2026-06-01", "in_force"),  # an objection does not suspend it
    (facts(status="repaired"), "2026-06-01", "basis_repaired"),
    (facts(status="deleted"), "2026-06-01", "basis_deleted"),
    (facts(status=None), "2026-06-01", "basis_deleted"),
    (facts(version=2), "2026-06-01", "basis_corrected"),
    (facts(state="exited"), "2026-06-01", "exited"),
    (facts(until=None), "2036-06-01", "in_force"),
])
def test_the_standing_of_an_entry(f, today, expected):
    assert standing(f, D(today))[0] == expected


async def test_a_state_organ_checking_a_black_listed_company_gets_entry_measures_and_basis(gql, pool):
    r = await gql(CHECK, {"s": demo.COMPANY, "sc": "government_procurement"}, as_="state_organ")
    check = r["data"]["creditCheck"]
    assert check["listed"] is True
    entry = next(e for e in check["entries"] if e["kind"] == "BLACK")
    assert entry["inForce"] and entry["caseNumber"] == "沧市监失信〔2026〕928号"
    codes = {m["measure"]["code"] for m in check["measures"]}
    assert codes == {"PUNISH_PUBLIC_RESOURCE"}  # only the measures of this scenario
    m = check["measures"][0]["measure"]
    assert m["clause"] == "art28_4" and "第二十八条" in m["legalBasis"] and "沧州市公共资源交易中心" in m["implementingBodies"]
    assert [b["item"]["code"] for b in check["basisRecords"]] == ["ADM_PENALTY"]
    rows = [r for r in await log_rows(pool, demo.COMPANY) if r["operation"] == "creditCheck"]
    assert len(rows) == 1 and rows[0]["purpose"] == "government_procurement"


async def test_after_the_basis_is_repaired_the_company_is_no_longer_listed(gql, pool):
    ref = await a_record(pool, "CF-2026-0928")
    async with pool.acquire() as conn:  # as the provider's repair decision leaves it (Art. 39)
        await conn.execute("UPDATE records SET status = 'repaired' WHERE id = $1", ref["id"])
    r = await gql(CHECK, {"s": demo.COMPANY, "sc": "government_procurement"}, as_="state_organ")
    check = r["data"]["creditCheck"]
    assert check["listed"] is False and check["measures"] == []
    assert [e["standing"] for e in check["entries"]] == ["basis_repaired"]
    j = await gql('query { jointPunishmentBasis(key: "%s", purpose: "bidding") { id } }'.replace('%s', demo.COMPANY), as_="state_organ")
    assert j["data"]["jointPunishmentBasis"] == []


async def test_joint_punishment_rests_on_black_list_entries_not_every_dishonesty_record(gql):
    j = await gql('query { jointPunishmentBasis(key: "%s", purpose: "bidding") { item { code } decidedOn } }'.replace('%s', demo.COMPANY),
                  as_="state_organ")
    found = j["data"]["jointPunishmentBasis"]
    assert [f["item"]["code"] for f in found] == ["ADM_PENALTY"]  # not the tax arrears nor the old judgment


async def test_the_public_finds_a_company_by_name_and_a_person_only_masked(gql, pool):
    r = await gql(LIST, {"k": "BLACK", "q": "运河示范"})
    entries = nodes(r["data"]["listEntries"])
    assert [n["subjectName"] for n in entries] == ["沧州运河示范商贸有限公司"]
    red = nodes((await gql(LIST, {"k": "RED"}))["data"]["listEntries"])
    assert red and red[0]["subjectName"] == "李**" and red[0]["subjectKey"] != demo.PERSON2
    assert "李秀英" not in str(red) and demo.PERSON2 not in str(red)
    by_id = nodes((await gql(LIST, {"q": demo.PERSON2}))["data"]["listEntries"])
    assert len(by_id) == 1 and by_id[0]["subjectName"] == "李**"
    by_name = nodes((await gql(LIST, {"q": "李秀英"}))["data"]["listEntries"])
    assert by_name == []  # natural persons are found by their identity number only
    assert any(r["operation"] == "listEntries" for r in await log_rows(pool, demo.PERSON2))


async def test_feedback_appears_for_the_subject_and_in_the_offices_statistics(gql):
    check = (await gql(CHECK, {"s": demo.COMPANY, "sc": "government_procurement"}, as_="state_organ"))["data"]["creditCheck"]
    missing = await gql(FEEDBACK, {"c": check["id"], "a": []}, as_="state_organ")
    assert missing["errors"][0]["extensions"]["rule"] == "feedback_complete"
    no_reason = await gql(FEEDBACK, {"c": check["id"], "a": [{"measure": "PUNISH_PUBLIC_RESOURCE", "applied": False}]},
                          as_="state_organ")
    assert no_reason["errors"][0]["extensions"]["rule"] == "reason_required"
    other = await gql(FEEDBACK, {"c": check["id"], "a": [{"measure": "PUNISH_PUBLIC_RESOURCE", "applied": True}]},
                      as_="state_organ", org=demo.MARKET)
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    ok = await gql(FEEDBACK, {"c": check["id"], "a": [{"measure": "PUNISH_PUBLIC_RESOURCE", "applied": True,
                                                       "note": "评标信用分扣 2 分"}]}, as_="state_organ")
    assert ok["data"]["reportCheckFeedback"]["applied"][0]["applied"] is True

    mine = await gql("{ myCredit { creditUsesConnection { edges { node { check scenario organisation { code } "
                     "applied } } } } }",
                     as_="subject", subject_key=demo.COMPANY)
    use = next(u for u in nodes(mine["data"]["myCredit"]["creditUsesConnection"]) if u["check"] == check["id"])
    assert use["scenario"] == "government_procurement" and use["applied"][0]["measure"] == "PUNISH_PUBLIC_RESOURCE"

    today = dt.date.today()
    stats = await gql("query($a: Date!, $b: Date!) { creditCheckStatistics(since: $a, until: $b) { "
                      "byOrganisation { organisationCode scenario checks withFeedback } byMeasure { measure applied } } }",
                      {"a": (today - dt.timedelta(days=2)).isoformat(), "b": (today + dt.timedelta(days=1)).isoformat()},
                      as_="credit_office")
    s = stats["data"]["creditCheckStatistics"]
    assert {"organisationCode": demo.HOUSING, "scenario": "government_procurement", "checks": 1, "withFeedback": 1} in s["byOrganisation"]
    assert {"measure": "PUNISH_PUBLIC_RESOURCE", "applied": 1} in s["byMeasure"]


async def test_checks_without_feedback_become_overdue(gql):
    check = (await gql(CHECK, {"s": demo.COMPANY, "sc": "bidding"}, as_="state_organ"))["data"]["creditCheck"]
    due = D(check["feedbackDue"])
    before = await gql("query($d: Date!) { overdueCheckFeedback(asOf: $d) { check } }", {"d": due.isoformat()}, as_="credit_office")
    assert before["data"]["overdueCheckFeedback"] == []
    after = await gql("query($d: Date!) { overdueCheckFeedback(asOf: $d) { check feedbackDue } }",
                      {"d": (due + dt.timedelta(days=1)).isoformat()}, as_="credit_office")
    assert [o["check"] for o in after["data"]["overdueCheckFeedback"]] == [check["id"]]


@pytest.mark.parametrize("role", [None, "credit_service", "provider"])
async def test_only_state_organs_check_and_refusals_are_logged(gql, pool, role):
    who = {"as_": role} if role else {}
    r = await gql(CHECK, {"s": demo.COMPANY, "sc": "bidding"}, **who)
    assert r["errors"][0]["extensions"]["rule"] == "art29_state_organ"
    assert [x["outcome"] for x in await log_rows(pool, demo.COMPANY) if x["operation"] == "creditCheck"] == ["refused"]


async def test_a_batch_check_of_bidders_within_the_limit(gql):
    r = await gql("query($s: [ID!]!) { creditChecks(subjects: $s, scenario: \"bidding\") { subject { key } "
                  "entries { kind inForce } measures { measure { code } } } }",
                  {"s": [demo.COMPANY, demo.PERSON2]}, as_="state_organ")
    found = [(c["subject"]["key"], [e["kind"] for e in c["entries"] if e["inForce"]], [m["measure"]["code"] for m in c["measures"]])
             for c in r["data"]["creditChecks"]]
    assert found == [(demo.COMPANY, ["BLACK"], ["PUNISH_PUBLIC_RESOURCE"]), (demo.PERSON2, ["RED"], [])]


async def test_providers_keep_their_lists_and_every_change_is_an_act(gql, pool):
    rule = await gql("""mutation { publishListRule(input: {kind: BLACK, name: "拖欠农民工工资失信联合惩戒对象名单管理办法",
        docNumber: "沧市监〔2026〕99号", criteria: "拖欠农民工工资数额较大的", listingMonths: 12}) { id listingMonths } }""",
                     as_="provider")
    rule_id = rule["data"]["publishListRule"]["id"]
    ref = await a_record(pool, "CF-2020-0415")
    add = await gql("""mutation($r: ID!, $b: [ID!]!) { addListEntry(input: {subjectKey: "%s", kind: BLACK, ruleId: $r,
        caseNumber: "沧市监失信〔2026〕7号", reason: "测试", basisRecordIds: $b, decidedOn: "2026-11-01"}) }""".replace("%s", demo.COMPANY),
                    {"r": rule_id, "b": [str(ref["id"])]}, as_="provider")
    entry_id = add["data"]["addListEntry"]
    wrong = await gql("""mutation($r: ID!, $b: [ID!]!) { addListEntry(input: {subjectKey: "%s", kind: RED, ruleId: $r,
        caseNumber: "X-1", reason: "测试", basisRecordIds: $b, decidedOn: "2026-11-01"}) }""".replace("%s", demo.COMPANY),
                      {"r": rule_id, "b": [str(ref["id"])]}, as_="provider")
    assert wrong["errors"][0]["extensions"]["rule"] == "own_rule"
    ended = await gql('mutation($i: ID!) { endListEntry(id: $i, state: "removed", reason: "认定错误") }', {"i": entry_id},
                      as_="provider")
    assert ended["data"]["endListEntry"] is True
    async with pool.acquire() as conn:
        acts = await conn.fetch("SELECT operation FROM query_log WHERE kind = 'list' ORDER BY at")
    assert [a["operation"] for a in acts] == ["list.rule.publish", "list.entry.add", "list.entry.removed"]


async def test_the_measures_registry_is_versioned_and_checked(gql, pool):
    bad = await gql("""mutation { putMeasure(input: {code: "X_1", name: "n", kind: "reward", clause: "art28_1",
        legalBasis: "b", originatingOrg: "%s", originatingName: "o", implementingBodies: ["a"], targetLists: ["red"],
        scenarios: ["bidding"], validFrom: "2026-01-01"}) { code } }""".replace("%s", demo.CREDIT_OFFICE), as_="credit_office")
    assert bad["errors"][0]["extensions"]["rule"] == "art27_28_clause"
    put = """mutation($n: String!) { putMeasure(input: {code: "PUNISH_FUNDING", name: $n, kind: "punishment", clause: "art28_2",
        legalBasis: "《沧州市公共信用信息管理暂行办法》第二十八条第（二）项", originatingOrg: "%s", originatingName: "沧州市行政审批局",
        implementingBodies: ["沧州市财政局"], targetLists: ["black"], scenarios: ["government_funding"], validFrom: "2026-01-01"})
        { code version name } }""".replace("%s", demo.CREDIT_OFFICE)
    r = await gql(put, {"n": "限制享受政府性资金安排"}, as_="credit_office")
    assert r["data"]["putMeasure"]["version"] == 2
    forbidden = await gql(put, {"n": "x"}, as_="provider")
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM measure_versions WHERE code = 'PUNISH_FUNDING'") == 1
    public = await gql('{ measures(scenario: "government_funding") { code version } }')
    assert {"code": "PUNISH_FUNDING", "version": 2} in public["data"]["measures"]
