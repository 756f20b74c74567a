"""Penalty publicity by severity over GraphQL, with real tokens and dates relative to today: a
minor penalty leaves public view after its period; repair is refused before repairableFrom."""

from __future__ import annotations

import datetime as dt

from api import demo
from api.disclosure.rules import CHINA_TIME
from api.publicity import add_months
from tests.rights_helpers import APPLY, COMPANY, as_company, penalty, snapshot, step, submit

Q = """query($key: ID!, $purpose: String) { subject(key: $key, purpose: $purpose) {
  records { id item { code } severity publicUntil repairableFrom archivesOn status }
  withheld { disclosure count code reason } } }"""


def today() -> dt.date:
    return dt.datetime.now(CHINA_TIME).date()


def months_ago(n: int, days: int = 0) -> str:
    return (add_months(today(), -n) - dt.timedelta(days=days)).isoformat()


async def records_seen(gql, key: str, **who) -> tuple[dict[str, dict], list[dict]]:
    r = await gql(Q, {"key": key, **({"purpose": who.pop("purpose")} if "purpose" in who else {})}, **who)
    assert "errors" not in r, r
    return {rec["id"]: rec for rec in r["data"]["subject"]["records"]}, r["data"]["subject"]["withheld"]


async def test_a_minor_penalty_is_public_through_public_until_and_not_after(gql):
    # two months ago: still public; three months and a day ago: its last public day was yesterday
    inside, past = await submit(
        gql, penalty("CF-SEV-001", months_ago(2), cf_yzcd="minor"),
        penalty("CF-SEV-002", months_ago(3, days=1), cf_yzcd="轻微"))
    shown, withheld = await records_seen(gql, COMPANY)
    assert inside in shown and past not in shown
    rec = shown[inside]
    assert rec["severity"] == "MINOR"
    assert dt.date.fromisoformat(rec["publicUntil"]) == add_months(dt.date.fromisoformat(months_ago(2)), 3)
    assert dt.date.fromisoformat(rec["publicUntil"]) >= today()
    assert rec["repairableFrom"] == months_ago(2)  # minor: repair may be applied for at once
    assert dt.date.fromisoformat(rec["archivesOn"]) == add_months(dt.date.fromisoformat(months_ago(2)), 60) + dt.timedelta(days=1)
    # the public is not told that a penalty past its publicity exists (that would be publicity)
    assert all(w["code"] != "PUBLICITY_ENDED" for w in withheld)

    # a credit service learns it exists and why it is withheld: publicity ended, authorization needed
    _, withheld = await records_seen(gql, COMPANY, as_="credit_service", purpose="loan_review")
    assert {"disclosure": "PUBLIC", "count": 1, "code": "PUBLICITY_ENDED"} in [
        {k: w[k] for k in ("disclosure", "count", "code")} for w in withheld]
    # the subject itself still sees it, with the day it left public view
    mine, _ = await records_seen(gql, COMPANY, **as_company())
    assert mine[past]["publicUntil"] < today().isoformat() and mine[past]["severity"] == "MINOR"


async def test_a_severity_outside_the_vocabulary_is_refused_with_its_field(gql):
    r = await gql("""mutation($records: [RecordInput!]!) { submitRecords(records: $records) {
        status field rule message } }""", {"records": [penalty("CF-SEV-003", months_ago(1), cf_yzcd="grave")]},
                  as_="provider")
    (out,) = r["data"]["submitRecords"]
    assert out["status"] == "REJECTED" and "cf_yzcd" in (out["field"] or "") + out["message"]
    assert out["rule"] == "code_list"


async def test_repair_before_repairable_from_is_refused_with_the_date_and_changes_nothing(gql, owner):
    decided = months_ago(1)
    (general,) = await submit(gql, penalty("CF-SEV-004", decided, cf_yzcd="一般"))
    earliest = add_months(dt.date.fromisoformat(decided), 3) + dt.timedelta(days=1)
    shown, _ = await records_seen(gql, COMPANY, **as_company())
    assert shown[general]["repairableFrom"] == earliest.isoformat()
    before = await snapshot(owner)
    err = await step(gql, APPLY, {"input": {"recordId": general, "evidenceRefs": ["整改报告"]}}, **as_company())
    assert (err["code"], err["rule"], err["field"]) == ("REPAIR_TOO_EARLY", "art39_minimum_period", "recordId")
    day = f"{earliest.year}年{earliest.month}月{earliest.day}日"  # the date as Chinese writes it
    assert err["message"] == f"该记录按其严重程度的最短公示期未满，自 {day} 起方可申请信用修复（第三十九条）"
    err = await step(gql, APPLY, {"input": {"recordId": general, "evidenceRefs": ["整改报告"]}},
                     language="en", **as_company())
    assert (err["code"], err["rule"], err["field"]) == ("REPAIR_TOO_EARLY", "art39_minimum_period", "recordId")
    day = f"{earliest:%B} {earliest.day}, {earliest.year}"  # as English writes it
    assert err["message"] == (f"credit repair of this record may be applied for from {day}, after the "
                              "minimum publicity period of its severity (Art. 39)")
    assert await snapshot(owner) == before

    # a minor penalty of the same day may be repaired at once
    (minor,) = await submit(gql, penalty("CF-SEV-005", decided, cf_yzcd="minor"))
    case = await step(gql, APPLY, {"input": {"recordId": minor, "evidenceRefs": ["整改报告"]}}, **as_company())
    assert case["kind"] == "REPAIR" and case["stage"] == "DECIDE_REPAIR"


async def test_the_demo_shows_a_minor_penalty_past_its_period_and_a_general_one_not_yet_repairable(gql):
    shop = "92130981MA0DEM03X2"
    shown, _ = await records_seen(gql, shop)
    assert "ADM_PENALTY" not in {r["item"]["code"] for r in shown.values()}
    own, _ = await records_seen(gql, shop, as_="subject", subject_key=shop, org=shop)
    (minor,) = [r for r in own.values() if r["item"]["code"] == "ADM_PENALTY"]
    assert minor["severity"] == "MINOR" and minor["publicUntil"] < today().isoformat()
    shown, _ = await records_seen(gql, demo.COMPANY)
    (general,) = [r for r in shown.values() if r["item"]["code"] == "ADM_PENALTY"]
    assert general["severity"] == "GENERAL" and general["repairableFrom"] > today().isoformat()
