"""Art. 37-38 through the GraphQL API, with the dates the article and the 2026 calendar give
(National Day 10/1-10/7 off, Saturday 10/10 worked): both branches walked to the end, refusals
that change nothing, the disputed mark, the offices' access through case handling, deletion of
an unverifiable record, and a case reaching into 2027."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest

from api.auth.principal import Principal
from api.workdays import NamedDay, YearSchedule
from api.workdays import service as calendar_service
from api.workdays.service import seed_from_package

from .conftest import log_rows
from .rights_helpers import (
    ANSWER,
    COMPANY,
    COMPARE,
    CORRECT,
    FILE,
    GET,
    INFORM,
    NOTIFY,
    PAUSE,
    REQUEST,
    RESUME,
    SUBMIT,
    as_company,
    licence,
    penalty,
    snapshot,
    step,
    submit,
)

PUBLIC_VIEW = "query($k: ID!) { subject(key: $k) { records { id status disputed basis } withheld { count code } } }"
PURPOSE_VIEW = ("query($k: ID!, $p: String) { subject(key: $k, purpose: $p) { records { id status disputed basis data } "
                "withheld { count code } } }")
MY_CREDIT = "{ myCredit { records { id status disputed data } } }"
CASE_RECORD = "query($id: ID!) { rightsCase(id: $id) { record { id basis disputed } } }"
HISTORY = "query($id: ID!) { recordHistory(id: $id) { status versions { version reason data } } }"


async def file(gql, record_id: str, ground: str = "ERROR_OR_OMISSION") -> dict:
    case = await step(gql, FILE, {"input": {"recordId": record_id, "ground": ground,
                                            "evidenceRefs": ["沧州市中级人民法院（2026）冀09行终88号判决书"],
                                            "statement": "处罚决定已被法院撤销"}}, **as_company())
    assert case.get("number", "").startswith("OBJ-2026-"), case
    return case


def dues(case: dict) -> list:
    return [(s["step"], s["on"], s["dueOn"], s["onTime"]) for s in case["steps"]]


async def record_row(pool, record_id: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        return await conn.fetchrow("SELECT * FROM records WHERE id = $1", record_id)


# --- the verification branch, ending in deletion ---------------------------------------------------


async def test_art38_verification_branch_unverifiable_record_is_deleted(gql, clock, pool):
    (rid,) = await submit(gql, penalty("CF-2026-V01"))
    # the provider had corrected it once: two versions, one with a reason, both to be wiped
    amended = {**penalty("CF-2026-V01", cf_sy="销售不合格建材"), "changeReason": "补录违法事实"}
    resent = (await gql(SUBMIT, {"records": [amended]}, as_="provider"))["data"]["submitRecords"]
    assert resent[0]["status"] == "UPDATED"
    clock.set("2026-09-28")  # Monday, the working day after Mid-Autumn
    case = await file(gql, rid)
    cid = case["id"]
    assert (case["stage"], case["nextRole"], case["deadline"]["dueOn"]) == ("NOTIFY_DATA_OFFICE", "credit_office", "2026-09-29")

    clock.set("2026-09-29")
    case = await step(gql, NOTIFY, {"id": cid}, as_="credit_office")
    assert (case["stage"], case["nextRole"], case["deadline"]["dueOn"]) == ("COMPARE", "data_office", "2026-09-30")

    clock.set("2026-09-30")
    case = await step(gql, COMPARE, {"id": cid, "r": "MATCHES"}, as_="data_office")
    # the credit office's request: 1 working day, and 10/1-10/7 are off
    assert (case["stage"], case["deadline"]["dueOn"]) == ("REQUEST_VERIFICATION", "2026-10-08")

    clock.set("2026-10-08")
    case = await step(gql, REQUEST, {"id": cid}, as_="credit_office")
    assert (case["stage"], case["nextRole"], case["nextOrganisation"]) == ("VERIFY", "provider", "111309000000020224")
    # 15 working days from 10-08: 10-09, Sat 10-10 (make-up day), 10-12 ... 10-28
    assert case["deadline"]["dueOn"] == "2026-10-28" and case["deadline"]["workingDays"] == 15

    clock.set("2026-10-12")
    case = await step(gql, PAUSE, {"id": cid, "k": "APPRAISAL"}, as_="provider")
    assert case["deadline"]["pausedSince"] == "2026-10-12" and case["deadline"]["pauseKind"] == "APPRAISAL"
    assert case["deadline"]["dueOn"] is None  # the clock is stopped

    clock.set("2026-10-16")
    case = await step(gql, RESUME, {"id": cid}, as_="provider")
    # the appraisal's five working days (10-12..10-16) do not count
    assert case["deadline"]["pauses"] == [["2026-10-12", "2026-10-16"]]
    assert case["deadline"]["dueOn"] == "2026-11-04"

    clock.set("2026-11-03")
    case = await step(gql, ANSWER, {"id": cid, "r": "UNVERIFIABLE"}, as_="provider")
    assert (case["stage"], case["deadline"]["dueOn"]) == ("INFORM_SUBJECT", "2026-11-12")  # 7 working days
    await assert_gone_from_every_view(gql, pool, rid)

    clock.set("2026-11-10")
    case = await step(gql, INFORM, {"id": cid, "m": "经核查，该信息无法核实真实性，已删除。"}, as_="credit_office")
    assert (case["stage"], case["outcome"], case["closedOn"], case["mayGoToCourt"]) == (
        "CLOSED", "DELETED", "2026-11-10", True)
    assert case["deadline"] is None
    assert dues(case) == [
        ("file", "2026-09-28", None, None),
        ("notify_data_office", "2026-09-29", "2026-09-29", True),
        ("compare", "2026-09-30", "2026-09-30", True),
        ("request_verification", "2026-10-08", "2026-10-08", True),
        ("pause_verification", "2026-10-12", None, None),
        ("resume_verification", "2026-10-16", None, None),
        ("answer_verification", "2026-11-03", "2026-11-04", True),
        ("inform_subject", "2026-11-10", "2026-11-12", True),
    ]
    assert [s["role"] for s in case["steps"]] == [
        "subject", "credit_office", "data_office", "credit_office", "provider", "provider", "provider", "credit_office"]
    async with pool.acquire() as conn:
        final = await conn.fetchrow("SELECT * FROM query_log WHERE kind = 'objection' ORDER BY id DESC LIMIT 1")
    assert (final["operation"], final["details"]["outcome"], final["details"]["may_go_to_court"]) == (
        "objection.inform_subject", "deleted", True)
    assert final["details"]["note"] == "经核查，该信息无法核实真实性，已删除。"
    # the case and the tombstone remain
    kept = await gql(GET, {"id": cid}, **as_company())
    assert kept["data"]["rightsCase"]["outcome"] == "DELETED"
    stones = (await gql("{ tombstones { recordId itemCode category basis caseNumber decidedByRole deletedOn } }",
                        **as_company()))["data"]["tombstones"]
    assert stones == [{"recordId": rid, "itemCode": "ADM_PENALTY", "category": "penalty",
                       "basis": "art38_unverifiable", "caseNumber": case["number"],
                       "decidedByRole": "provider", "deletedOn": "2026-11-03"}]
    await assert_gone_from_every_view(gql, pool, rid)  # closing restores nothing of it


async def assert_gone_from_every_view(gql, pool, rid: str) -> None:
    for who in ({}, as_company(), {"as_": "provider"}, {"as_": "credit_office"}, {"as_": "data_office"},
                {"as_": "state_organ"}):
        view = (await gql(PURPOSE_VIEW, {"k": COMPANY, "p": "administrative_licensing"}, **who))["data"]["subject"]
        assert rid not in [r["id"] for r in view["records"]], who
    mine = (await gql(MY_CREDIT, **as_company()))["data"]["myCredit"]["records"]
    assert rid not in [r["id"] for r in mine]
    for who in (as_company(), {"as_": "provider"}):
        h = await gql(HISTORY, {"id": rid}, **who)
        assert h["data"] is None and h["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    row = await record_row(pool, rid)
    assert (row["status"], row["data"], row["version_reason"], row["consent_ref"]) == ("deleted", {}, None, None)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM record_versions WHERE record_id = $1", rid) == 0


async def test_art38_verified_record_stands_and_loses_its_mark(gql, clock, pool):
    (rid,) = await submit(gql, penalty("CF-2026-V02"))
    clock.set("2026-09-28")
    cid = (await file(gql, rid))["id"]
    for day, doc, vars_, who in (
        ("2026-09-29", NOTIFY, {}, "credit_office"),
        ("2026-09-30", COMPARE, {"r": "MATCHES"}, "data_office"),
        ("2026-10-08", REQUEST, {}, "credit_office"),
        ("2026-10-29", ANSWER, {"r": "VERIFIED"}, "provider"),  # a day late
    ):
        clock.set(day)
        case = await step(gql, doc, {"id": cid, **vars_}, as_=who)
    assert case["steps"][-1]["dueOn"] == "2026-10-28" and case["steps"][-1]["onTime"] is False
    assert case["deadline"]["dueOn"] == "2026-11-09"  # 7 working days from 10-29
    assert (await record_row(pool, rid))["status"] == "disputed"
    clock.set("2026-11-09")
    case = await step(gql, INFORM, {"id": cid, "m": "经核查，信息准确。"}, as_="credit_office")
    assert (case["outcome"], case["mayGoToCourt"]) == ("UPHELD", True)
    assert (await record_row(pool, rid))["status"] == "active"
    view = (await gql(PUBLIC_VIEW, {"k": COMPANY}))["data"]["subject"]["records"]
    assert [(r["id"], r["disputed"]) for r in view] == [(rid, False)]


# --- the correction branch ---------------------------------------------------------------------------


async def test_art38_correction_branch_makes_a_new_version_with_its_reason(gql, clock, pool):
    (rid,) = await submit(gql, penalty("CF-2026-C01", cf_nr_fk=30.0, cf_nr="罚款人民币叁拾万元"))
    clock.set("2026-09-30")  # Wednesday before National Day
    case = await file(gql, rid)
    cid = case["id"]
    assert case["deadline"]["dueOn"] == "2026-10-08"  # 1 working day: 10/1-10/7 are off

    clock.set("2026-10-08")
    case = await step(gql, NOTIFY, {"id": cid}, as_="credit_office")
    assert case["deadline"]["dueOn"] == "2026-10-09"

    clock.set("2026-10-09")
    case = await step(gql, COMPARE, {"id": cid, "r": "DIFFERS"}, as_="data_office")
    # 3 working days from the notice of 10-08: 10-09, Saturday 10-10 (make-up day), 10-12
    assert (case["stage"], case["nextRole"], case["deadline"]["since"], case["deadline"]["dueOn"]) == (
        "CORRECT", "data_office", "2026-10-08", "2026-10-12")

    clock.set("2026-10-10")  # the make-up Saturday is a working day
    fixed = {**penalty("CF-2026-C01")["data"], "cf_nr_fk": 3.0, "cf_nr": "罚款人民币叁万元"}
    reason = "与处罚决定书原件比对，罚款金额录入错误（叁拾万元应为叁万元）"
    case = await step(gql, CORRECT, {"id": cid, "data": fixed, "reason": reason}, as_="data_office")
    assert (case["stage"], case["deadline"]["dueOn"]) == ("INFORM_SUBJECT", "2026-10-14")
    assert case["steps"][-1]["details"]["version"] == 2 and case["steps"][-1]["details"]["reason"] == reason

    history = (await gql(HISTORY, {"id": rid}, **as_company()))["data"]["recordHistory"]
    assert [(v["version"], v["reason"], v["data"]["cf_nr_fk"]) for v in history["versions"]] == [
        (1, None, 30.0), (2, reason, 3.0)]
    async with pool.acquire() as conn:
        act = await conn.fetchrow("SELECT * FROM query_log WHERE kind = 'correction'")
    assert (act["operation"], act["user_id"], act["retention"]) == ("record.correct.art38", "user-data_office", "long_term")
    assert (act["details"]["version"], act["details"]["reason"], act["details"]["case"]) == (2, reason, case["number"])
    view = (await gql(PUBLIC_VIEW.replace("basis", "basis data"), {"k": COMPANY}))["data"]["subject"]["records"]
    assert [(r["data"]["cf_nr_fk"], r["disputed"]) for r in view] == [(3.0, True)]  # marked until decided

    clock.set("2026-10-13")
    case = await step(gql, INFORM, {"id": cid, "m": "已更正罚款金额。"}, as_="credit_office")
    assert (case["outcome"], case["closedOn"], case["mayGoToCourt"]) == ("CORRECTED", "2026-10-13", True)
    assert dues(case) == [
        ("file", "2026-09-30", None, None),
        ("notify_data_office", "2026-10-08", "2026-10-08", True),
        ("compare", "2026-10-09", "2026-10-09", True),
        ("correct", "2026-10-10", "2026-10-12", True),
        ("inform_subject", "2026-10-13", "2026-10-14", True),
    ]
    assert (await record_row(pool, rid))["status"] == "active"


async def test_a_correction_that_breaks_the_catalog_rules_is_refused_and_changes_nothing(gql, clock, owner):
    (rid,) = await submit(gql, penalty("CF-2026-C02"))
    cid = (await file(gql, rid))["id"]
    await step(gql, NOTIFY, {"id": cid}, as_="credit_office")
    await step(gql, COMPARE, {"id": cid, "r": "DIFFERS"}, as_="data_office")
    before = await snapshot(owner)
    for data, reason, field, rule in (
        ({**penalty("CF-2026-C02")["data"], "cf_nr_fk": "很多"}, "金额有误", "data.cf_nr_fk", "amount"),
        ({**penalty("CF-2026-C02")["data"], "血型": "A"}, "补充", "data.血型", "art11_forbidden"),
        (penalty("CF-2026-C02")["data"], " ", "reason", "required"),
    ):
        err = await step(gql, CORRECT, {"id": cid, "data": data, "reason": reason}, as_="data_office")
        assert (err["code"], err["field"], err["rule"]) == ("INVALID_INPUT", field, rule), err
    assert await snapshot(owner) == before


# --- refusals ------------------------------------------------------------------------------------------


async def test_a_step_by_the_wrong_role_or_out_of_order_is_refused_and_changes_nothing(gql, clock, pool, owner):
    (rid,) = await submit(gql, penalty("CF-2026-R01"))
    clock.set("2026-09-28")
    cid = (await file(gql, rid))["id"]
    clock.set("2026-09-29")
    await step(gql, NOTIFY, {"id": cid}, as_="credit_office")  # now waiting for the comparison
    before = await snapshot(owner)
    attempts = [
        (COMPARE, {"r": "DIFFERS"}, {"as_": "credit_office"}, "WRONG_ROLE", "art38_data_office"),
        (NOTIFY, {}, as_company(), "WRONG_ROLE", "art38_credit_office"),
        (INFORM, {"m": "x"}, {"as_": "data_office"}, "WRONG_ROLE", "art38_credit_office"),
        (NOTIFY, {}, {"as_": "credit_office"}, "OUT_OF_ORDER", "art38_order"),
        (CORRECT, {"data": {"cf_nr": "x"}, "reason": "r"}, {"as_": "data_office"}, "OUT_OF_ORDER", "art38_order"),
        (ANSWER, {"r": "UNVERIFIABLE"}, {"as_": "provider"}, "OUT_OF_ORDER", "art38_order"),
        (PAUSE, {"k": "TESTING"}, {"as_": "provider"}, "OUT_OF_ORDER", "art38_order"),
        (INFORM, {"m": "x"}, {"as_": "credit_office"}, "OUT_OF_ORDER", "art38_order"),
        # those who may not see the case are told it does not exist
        (ANSWER, {"r": "UNVERIFIABLE"}, {"as_": "provider", "org": "111309000000080888"}, "NOT_FOUND", "not_found"),
        (NOTIFY, {}, {"as_": "state_organ"}, "NOT_FOUND", "not_found"),
        (COMPARE, {"r": "DIFFERS"}, {"as_": "auditor"}, "NOT_FOUND", "not_found"),
    ]
    for doc, vars_, who, code, rule in attempts:
        err = await step(gql, doc, {"id": cid, **vars_}, **who)
        assert (err.get("code"), err.get("rule")) == (code, rule), (doc, who, err)
    assert "waiting for the data office" in err["message"] or code == "NOT_FOUND"
    assert await snapshot(owner) == before
    # and the case goes on from where it was
    case = await step(gql, COMPARE, {"id": cid, "r": "MATCHES"}, as_="data_office")
    assert case["stage"] == "REQUEST_VERIFICATION"


async def test_a_closed_case_takes_no_more_steps(gql, clock, owner):
    (rid,) = await submit(gql, penalty("CF-2026-R02"))
    cid = (await file(gql, rid))["id"]
    for doc, vars_, who in ((NOTIFY, {}, "credit_office"), (COMPARE, {"r": "MATCHES"}, "data_office"),
                            (REQUEST, {}, "credit_office"), (ANSWER, {"r": "VERIFIED"}, "provider"),
                            (INFORM, {"m": "信息准确"}, "credit_office")):
        await step(gql, doc, {"id": cid, **vars_}, as_=who)
    before = await snapshot(owner)
    err = await step(gql, INFORM, {"id": cid, "m": "again"}, as_="credit_office")
    assert (err["code"], err["rule"]) == ("OUT_OF_ORDER", "case_closed")
    assert await snapshot(owner) == before


async def test_filing_is_for_the_verified_subject_on_its_own_record_once(gql, clock, owner):
    (rid,) = await submit(gql, penalty("CF-2026-R03"))
    before = await snapshot(owner)
    vars_ = {"input": {"recordId": rid, "ground": "TRADE_SECRET_OR_PRIVACY", "evidenceRefs": ["证据"]}}
    err = await step(gql, FILE, vars_, **as_company(real_name_verified=False))
    assert (err["code"], err["rule"]) == ("FORBIDDEN", "real_name_verification")
    err = await step(gql, FILE, vars_, as_="subject")  # 张伟, someone else
    assert (err["code"], err["rule"]) == ("NOT_FOUND", "not_found")
    err = await step(gql, FILE, vars_, as_="credit_office")
    assert (err["code"], err["rule"]) == ("FORBIDDEN", "subject_role")
    err = await step(gql, FILE, {"input": {**vars_["input"], "evidenceRefs": [" "]}}, **as_company())
    assert (err["code"], err["rule"]) == ("INVALID_INPUT", "evidence_required")
    assert await snapshot(owner) == before
    first = await file(gql, rid)
    err = await step(gql, FILE, vars_, **as_company())
    assert (err["code"], err["rule"]) == ("CASE_OPEN", "one_open_case") and first["number"] in err["message"]


# --- the mark, and what case handling gives the offices ---------------------------------------------------


async def test_a_disputed_record_shows_the_mark_to_every_entitled_viewer(gql, clock, settings):
    (rid,) = await submit(gql, penalty("CF-2026-M01"))
    await file(gql, rid)
    viewers = [{}, as_company(), as_company(real_name_verified=False), {"as_": "provider"},
               {"as_": "state_organ"}, {"as_": "credit_service"}, {"as_": "credit_office"},
               {"as_": "data_office"}]
    for who in viewers:
        view = (await gql(PURPOSE_VIEW, {"k": COMPANY, "p": "administrative_licensing"}, **who))["data"]["subject"]
        assert [(r["id"], r["status"], r["disputed"]) for r in view["records"]] == [(rid, "DISPUTED", True)], who
    auditor = await gql(PUBLIC_VIEW, {"k": COMPANY}, as_="auditor")
    assert auditor["data"]["subject"]["records"] == []  # auditors never see content


async def test_case_handling_gives_the_offices_the_disputed_record_only_and_it_is_logged(gql, clock, pool):
    (rid, other) = await submit(gql, penalty("CF-2026-A01"), licence("XK-2026-A02"))
    for office in ("credit_office", "data_office"):
        view = (await gql(PUBLIC_VIEW, {"k": COMPANY}, as_=office))["data"]["subject"]
        assert view["records"] == [] and view["withheld"] == [{"count": 2, "code": "NOT_FOR_ROLE"}]
    case = await file(gql, rid)
    for office in ("credit_office", "data_office"):
        view = (await gql(PUBLIC_VIEW, {"k": COMPANY}, as_=office))["data"]["subject"]
        assert [(r["id"], r["basis"]) for r in view["records"]] == [(rid, "case_handling")]
        assert view["withheld"] == [{"count": 1, "code": "NOT_FOR_ROLE"}]  # the licence: not theirs
    rows = [r for r in await log_rows(pool, COMPANY) if r["kind"] == "query" and "data_office" in r["roles"]]
    assert [d["basis"] for d in rows[-1]["disclosed"]] == ["case_handling"]
    assert rows[-1]["outcome"] == "partial" and rows[-1]["retention"] == "long_term"

    # through the case itself: the same lookup, logged with the case as its purpose
    got = await gql(CASE_RECORD, {"id": case["id"]}, as_="credit_office")
    assert got["data"]["rightsCase"]["record"] == {"id": rid, "basis": "case_handling", "disputed": True}
    last = (await log_rows(pool, COMPANY))[-1]
    assert (last["operation"], last["purpose"]) == ("rightsCase.record", f"rights_case:{case['number']}")
    assert [d["record"] for d in last["disclosed"]] == [rid]

    # once the case is closed the access ends
    for doc, vars_, who in ((NOTIFY, {}, "credit_office"), (COMPARE, {"r": "MATCHES"}, "data_office"),
                            (REQUEST, {}, "credit_office"), (ANSWER, {"r": "VERIFIED"}, "provider"),
                            (INFORM, {"m": "信息准确"}, "credit_office")):
        await step(gql, doc, {"id": case["id"], **vars_}, as_=who)
    for office in ("credit_office", "data_office"):
        view = (await gql(PUBLIC_VIEW, {"k": COMPANY}, as_=office))["data"]["subject"]
        assert view["records"] == []
    closed = await gql(CASE_RECORD, {"id": case["id"]}, as_="credit_office")
    assert closed["data"]["rightsCase"]["record"] is None


async def test_every_step_is_an_act_in_the_audit_trail(gql, clock, pool):
    (rid,) = await submit(gql, penalty("CF-2026-T01"))
    cid = (await file(gql, rid))["id"]
    await step(gql, NOTIFY, {"id": cid}, as_="credit_office")
    await step(gql, COMPARE, {"id": cid, "r": "MATCHES"}, as_="data_office")
    async with pool.acquire() as conn:
        acts = await conn.fetch("SELECT * FROM query_log WHERE kind = 'objection' ORDER BY id")
    assert [(a["operation"], a["retention"], a["user_id"]) for a in acts] == [
        ("objection.file", "long_term", "user-company-li"),
        ("objection.notify_data_office", "long_term", "user-credit_office"),
        ("objection.compare", "long_term", "user-data_office"),
    ]
    assert acts[2]["details"]["result"] == "matches" and acts[2]["details"]["record"] == rid
    assert acts[0]["subject_key"] == COMPANY and acts[0]["details"]["ground"] == "error_or_omission"


# --- 2027 ------------------------------------------------------------------------------------------------

# A hypothetical notice for the test: New Year's Day off 1/1-1/4 (the real one is not out yet).
TEST_2027 = YearSchedule(
    year=2027,
    holidays=tuple(NamedDay(dt.date(2027, 1, i), "New Year's Day") for i in range(1, 5)),
    make_up_days=(),
    official=True,
    source="test: hypothetical 2027 notice",
)


@pytest.fixture
async def calendar_2027_unloaded(app, dsn, state) -> AsyncIterator[None]:
    follower = app.state.calendar_follower
    assert not state.calendar.is_official(2027)
    yield
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM calendar_years WHERE loaded_by <> 'system'")
    finally:
        await conn.close()
    await seed_from_package(state.pool)
    assert not (await follower.reload()).is_official(2027)


async def test_a_case_opened_on_1224_gets_2027_due_dates_provisional_and_recomputed_on_load(
    gql, clock, app, pool, calendar_2027_unloaded
):
    (rid,) = await submit(gql, penalty("CF-2026-Y01"))
    clock.set("2026-12-24")
    case = await file(gql, rid)
    assert (case["deadline"]["dueOn"], case["deadline"]["provisional"]) == ("2026-12-25", False)
    for day, doc, vars_, who in (("2026-12-25", NOTIFY, {}, "credit_office"),
                                 ("2026-12-28", COMPARE, {"r": "MATCHES"}, "data_office"),
                                 ("2026-12-29", REQUEST, {}, "credit_office")):
        clock.set(day)
        case = await step(gql, doc, {"id": case["id"], **vars_}, as_=who)
    # 12-30, 12-31, (1/1 statutory holiday), 1-4 ... 1-20: 2027 has no notice yet
    assert (case["deadline"]["dueOn"], case["deadline"]["provisional"]) == ("2027-01-20", True)

    actor = Principal(user_id="op", name="杨帆", org_code="12130900000004044P", org_name=None, roles=("data_office",))
    result = await calendar_service.load_year(pool, TEST_2027, actor)
    assert result.recomputed["api.rights.deadlines"] == 1
    await app.state.calendar_follower.wait_for(lambda c: c.is_official(2027))
    case = (await gql(GET, {"id": case["id"]}, as_="credit_office"))["data"]["rightsCase"]
    assert (case["deadline"]["dueOn"], case["deadline"]["provisional"]) == ("2027-01-21", False)  # 1/4 off

    clock.set("2027-01-15")
    case = await step(gql, ANSWER, {"id": case["id"], "r": "VERIFIED"}, as_="provider")
    assert (case["deadline"]["dueOn"], case["deadline"]["provisional"]) == ("2027-01-26", False)
    clock.set("2027-01-25")
    case = await step(gql, INFORM, {"id": case["id"], "m": "信息准确"}, as_="credit_office")
    assert case["outcome"] == "UPHELD"
    assert [s["dueProvisional"] for s in case["steps"]][1:] == [False, False, False, False, False]


async def test_without_the_notice_the_2027_dates_stay_provisional_and_nothing_fails(gql, clock):
    (rid,) = await submit(gql, penalty("CF-2026-Y02"))
    clock.set("2026-12-24")
    cid = (await file(gql, rid))["id"]
    for day, doc, vars_, who in (("2026-12-25", NOTIFY, {}, "credit_office"),
                                 ("2026-12-28", COMPARE, {"r": "MATCHES"}, "data_office"),
                                 ("2026-12-29", REQUEST, {}, "credit_office"),
                                 ("2027-01-19", ANSWER, {"r": "VERIFIED"}, "provider")):
        clock.set(day)
        case = await step(gql, doc, {"id": cid, **vars_}, as_=who)
    assert case["steps"][-1]["dueOn"] == "2027-01-20" and case["steps"][-1]["dueProvisional"] is True
    assert (case["deadline"]["dueOn"], case["deadline"]["provisional"]) == ("2027-01-28", True)
