"""Who sees a case, the overdue steps the credit office chases, the notifications outbox, and the
`credit rights overdue` command."""

from __future__ import annotations

import asyncio

from api import demo
from api.cli import _parser
from api.workdays import service as calendar_service

from .conftest import nodes
from .rights_helpers import (
    ANSWER,
    APPLY,
    COMPARE,
    FILE,
    INFORM,
    NOTIFY,
    REQUEST,
    as_company,
    penalty,
    step,
    submit,
)

CASES = "query($open: Boolean) { rightsCasesConnection(open: $open) { edges { node { number kind subjectKey } } } }"
ONE = "query($id: ID!) { rightsCase(id: $id) { number steps { role actorName } } }"
OVERDUE = """
query($asOf: Date) { overdueSteps(asOf: $asOf) {
  asOf steps { number kind stage role organisation { code } dueOn workingDaysLate provisional }
  byRole { role count } byOrganisation { role organisation { code name } count } } }
"""
NOTES = ("query($unread: Boolean!) { notificationsConnection(unreadOnly: $unread) { edges { node { id topic recipientRole recipient "
         "caseNumber recordId message read } } } }")
MARK = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) }"
DEMO_COMPANY = {"as_": "subject", "subject_key": demo.COMPANY, "sub": "user-demo-company"}


async def notes(gql, unread: bool, **who) -> list[dict]:
    return nodes((await gql(NOTES, {"unread": unread}, **who))["data"]["notificationsConnection"])


async def objection(gql, rid: str) -> dict:
    return await step(gql, FILE, {"input": {"recordId": rid, "ground": "ERROR_OR_OMISSION",
                                            "evidenceRefs": ["证据"]}}, **as_company())


async def three_cases(gql, pool, clock) -> dict[str, dict]:
    """On 2026-09-28: objection A waits for the credit office; objection B reaches the provider's
    verification on 09-30; repair C (market regulator) and repair D (tax bureau) wait for their
    providers' decisions."""
    a_rec, b_rec, c_rec = await submit(gql, penalty("CF-2026-O01"), penalty("CF-2026-O02"), penalty("CF-2026-O03"))
    cases = {"A": await objection(gql, a_rec), "B": await objection(gql, b_rec)}
    cases["C"] = await step(gql, APPLY, {"input": {"recordId": c_rec, "evidenceRefs": ["凭证"]}}, **as_company())
    async with pool.acquire() as conn:
        tax = str(await conn.fetchval("SELECT id FROM records WHERE source_ref = 'QS-2026-0101'"))
    cases["D"] = await step(gql, APPLY, {"input": {"recordId": tax, "evidenceRefs": ["完税证明"]}}, **DEMO_COMPANY)
    clock.set("2026-09-29")
    await step(gql, NOTIFY, {"id": cases["B"]["id"]}, as_="credit_office")
    clock.set("2026-09-30")
    await step(gql, COMPARE, {"id": cases["B"]["id"], "r": "MATCHES"}, as_="data_office")
    b = await step(gql, REQUEST, {"id": cases["B"]["id"]}, as_="credit_office")
    assert b["deadline"]["dueOn"] == "2026-10-27"
    return cases


async def test_overdue_steps_are_listed_per_role_and_organisation(gql, pool, clock):
    cases = await three_cases(gql, pool, clock)
    n = {k: c["number"] for k, c in cases.items()}
    report = (await gql(OVERDUE, {"asOf": "2026-10-09"}, as_="credit_office"))["data"]["overdueSteps"]
    assert [(s["number"], s["stage"], s["role"], s["organisation"]["code"], s["dueOn"], s["workingDaysLate"])
            for s in report["steps"]] == [
        (n["A"], "NOTIFY_DATA_OFFICE", "credit_office", demo.CREDIT_OFFICE, "2026-09-29", 3),
        *sorted([(n["C"], "DECIDE_REPAIR", "provider", demo.MARKET, "2026-10-08", 1),
                 (n["D"], "DECIDE_REPAIR", "provider", demo.TAX, "2026-10-08", 1)]),
    ]
    assert report["byRole"] == [{"role": "credit_office", "count": 1}, {"role": "provider", "count": 2}]
    assert [(c["role"], c["organisation"]["code"], c["count"]) for c in report["byOrganisation"]] == [
        ("credit_office", demo.CREDIT_OFFICE, 1), ("provider", demo.MARKET, 1), ("provider", demo.TAX, 1)]
    assert report["byOrganisation"][1]["organisation"]["name"] == "沧州市市场监督管理局"

    # B's provider is late only after 10-27; the clock's day is the default
    clock.set("2026-10-28")
    later = (await gql(OVERDUE, {}, as_="credit_office"))["data"]["overdueSteps"]
    assert later["asOf"] == "2026-10-28" and n["B"] in [s["number"] for s in later["steps"]]
    # the data office sees the objections' steps, not the repairs'
    mine = (await gql(OVERDUE, {"asOf": "2026-10-09"}, as_="data_office"))["data"]["overdueSteps"]
    assert [s["number"] for s in mine["steps"]] == [n["A"]]
    for who in ({"as_": "provider"}, as_company(), {"as_": "auditor"}, {}):
        refused = await gql(OVERDUE, {"asOf": "2026-10-09"}, **who)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", who


async def test_who_sees_which_cases(gql, pool, clock):
    cases = await three_cases(gql, pool, clock)
    n = {k: c["number"] for k, c in cases.items()}

    async def numbers(**who) -> set[str]:
        r = await gql(CASES, {}, **who)
        assert "errors" not in r, (who, r)
        return {c["number"] for c in nodes(r["data"]["rightsCasesConnection"])}

    assert await numbers(**as_company()) == {n["A"], n["B"], n["C"]}
    assert await numbers(**DEMO_COMPANY) == {n["D"]}
    assert await numbers(as_="subject") == set()  # 张伟: none of his own
    assert await numbers(as_="provider") == {n["A"], n["B"], n["C"]}  # the market regulator's records
    assert await numbers(as_="provider", org=demo.TAX) == {n["D"]}
    assert await numbers(as_="provider", org=demo.CIVIL) == set()
    assert await numbers(as_="credit_office") == set(n.values())
    assert await numbers(as_="data_office") == {n["A"], n["B"]}  # objections only
    for who in (as_company(real_name_verified=False), {"as_": "auditor"}, {"as_": "state_organ"}, {}):
        assert (await gql(CASES, {}, **who))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for who, code in ((DEMO_COMPANY, "NOT_FOUND"), ({"as_": "provider", "org": demo.TAX}, "NOT_FOUND")):
        r = await gql(ONE, {"id": cases["A"]["id"]}, **who)
        assert r["errors"][0]["extensions"]["code"] == code
    # staff names are shown to the offices, not to the subject
    staff = (await gql(ONE, {"id": cases["B"]["id"]}, as_="provider"))["data"]["rightsCase"]["steps"]
    own = (await gql(ONE, {"id": cases["B"]["id"]}, **as_company()))["data"]["rightsCase"]["steps"]
    assert [s["actorName"] for s in staff] == ["李明", "陈静", "杨帆", "陈静"]
    assert [s["actorName"] for s in own] == ["李明", None, None, None]
    assert [s["role"] for s in own] == ["subject", "credit_office", "data_office", "credit_office"]
    # open / closed filter
    closed = (await gql(CASES, {"open": False}, as_="credit_office"))["data"]["rightsCasesConnection"]
    assert nodes(closed) == []


async def test_each_party_reads_and_marks_its_own_notifications(gql, pool, clock):
    (rid,) = await submit(gql, penalty("CF-2026-N01"))
    case = await objection(gql, rid)
    cid, number = case["id"], case["number"]
    office = await notes(gql, True, as_="credit_office")
    assert [(x["topic"], x["recipientRole"], x["recipient"], x["caseNumber"], x["recordId"]) for x in office] == [
        ("objection.filed", "credit_office", demo.CREDIT_OFFICE, number, rid)]
    # read in the reader's language (Chinese by default), the English text kept in the outbox
    assert "请通知数据主管部门进行比对（2026年9月29日前）" in office[0]["message"]
    (english,) = await notes(gql, True, as_="credit_office", language="en")
    assert "notify the data office to compare by September 29, 2026 (Art. 38)" in english["message"]
    async with pool.acquire() as conn:
        kept = await conn.fetchval("SELECT message FROM rights_notifications WHERE case_id = $1::uuid", cid)
    assert kept == english["message"]
    assert await notes(gql, False, as_="data_office") == []
    assert await notes(gql, False, **as_company()) == []

    clock.set("2026-09-29")
    await step(gql, NOTIFY, {"id": cid}, as_="credit_office")
    clock.set("2026-09-30")
    await step(gql, COMPARE, {"id": cid, "r": "MATCHES"}, as_="data_office")
    await step(gql, REQUEST, {"id": cid}, as_="credit_office")
    clock.set("2026-10-09")
    await step(gql, ANSWER, {"id": cid, "r": "VERIFIED"}, as_="provider")
    await step(gql, INFORM, {"id": cid, "m": "经核查信息准确，予以维持。"}, as_="credit_office")

    def topics(notes):
        return [x["topic"] for x in reversed(notes)]

    assert topics(await notes(gql, False, as_="data_office")) == [
        "objection.compare_requested"]
    assert topics(await notes(gql, False, as_="provider")) == [
        "objection.verification_requested"]
    assert topics(await notes(gql, False, as_="credit_office")) == [
        "objection.filed", "objection.compared", "objection.verification_answered"]
    answered = [x["message"] for x in await notes(gql, False, as_="credit_office")
                if x["topic"] == "objection.verification_answered"]
    assert answered and "提供单位答复：经核实，记录属实" in answered[0]  # words, not the code
    (told,) = await notes(gql, True, **as_company())
    assert told["topic"] == "objection.result" and "经核查信息准确，予以维持。" in told["message"]
    assert "提供单位已核实该记录，予以维持" in told["message"] and "提起行政诉讼" in told["message"]
    (told,) = await notes(gql, True, language="en", **as_company())
    assert "the provider verified the record; it stands" in told["message"]
    assert "经核查信息准确，予以维持。" in told["message"] and "administrative lawsuit" in told["message"]

    # marking: only one's own
    office_ids = [x["id"] for x in await notes(gql, True, as_="credit_office")]
    assert (await gql(MARK, {"ids": office_ids}, as_="data_office"))["data"]["markNotificationsRead"] == 0
    assert (await gql(MARK, {"ids": office_ids}, as_="credit_office"))["data"]["markNotificationsRead"] == 3
    assert await notes(gql, True, as_="credit_office") == []
    assert all(x["read"] for x in await notes(gql, False, as_="credit_office"))
    assert (await gql(MARK, {"ids": office_ids}, as_="credit_office"))["data"]["markNotificationsRead"] == 0
    for who in ({"as_": "auditor"}, as_company(real_name_verified=False), {}):
        assert (await gql(NOTES, {"unread": False}, **who))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # nothing was sent anywhere else: the outbox is the only channel
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM rights_notifications WHERE case_id = $1", cid) == 6


async def test_the_overdue_command_prints_the_report(gql, pool, clock, settings, capsys):
    cases = await three_cases(gql, pool, clock)
    args = _parser().parse_args(["rights", "overdue", "--as-of", "2026-10-09"])
    assert await asyncio.to_thread(args.run, settings, args) == 0
    out = capsys.readouterr().out
    assert out.startswith("overdue on 2026-10-09: 3 step(s)")
    assert cases["A"]["number"] in out and cases["B"]["number"] not in out
    assert "1 working day(s) late" in out


def test_loading_a_calendar_year_recomputes_the_rights_deadlines_in_every_process():
    _parser()  # what `credit` builds: the rights commands are registered with it
    assert "api.rights.deadlines" in calendar_service.RECOMPUTE_MODULES


async def test_reading_cases_and_notifications_is_logged_like_a_query(gql, pool, clock):
    (rid,) = await submit(gql, penalty("CF-2026-L01"))
    case = await objection(gql, rid)
    async with pool.acquire() as conn:
        subject = await conn.fetchval("SELECT subject_key FROM records WHERE id = $1::uuid", rid)
        before = await conn.fetchval("SELECT count(*) FROM query_log WHERE kind = 'query'")
    await gql(ONE, {"id": case["id"]}, as_="credit_office")
    await gql(CASES, {}, as_="provider")
    await gql(NOTES, {"unread": False}, as_="credit_office")
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT operation, subject_key, org_code, disclosed FROM query_log "
            "WHERE kind = 'query' ORDER BY id OFFSET $1", before)
    assert [(r["operation"], r["subject_key"], r["org_code"]) for r in rows] == [
        ("rightsCase", subject, demo.CREDIT_OFFICE),
        ("rightsCases", subject, demo.MARKET),
        ("notifications", subject, demo.CREDIT_OFFICE),
    ]
    assert rows[0]["disclosed"] == [{"case": case["id"], "record": rid, "item": "ADM_PENALTY", "basis": "case"}]
    # a malformed cursor is an error, not an empty page
    bad = await gql('{ notificationsConnection(after: "x") { totalCount } }', as_="credit_office")
    assert bad["errors"][0]["extensions"]["field"] == "after"
