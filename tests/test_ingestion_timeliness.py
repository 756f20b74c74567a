"""Art. 13, 15: 双公示 records within 7 working days of the decision, counted on the official
calendar with its make-up days; late records stored and marked; monitoring per provider and
county. The submission clock is fixed per test; the calendar is the platform's own."""

from __future__ import annotations

import datetime as dt

import pytest

from api import demo
from api.auth.principal import Principal
from api.catalog import CHINA_TIME
from api.ingestion.record import RecordInput
from api.ingestion.service import Collector
from api.ingestion.timeliness import recompute_deadlines
from api.workdays import NamedDay, WorkCalendar, YearSchedule

PROVIDER = Principal(user_id="user-provider", name="刘洋", org_code=demo.MARKET,
                     org_name="沧州市市场监督管理局", roles=("provider",))


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=CHINA_TIME)


def penalty(ref: str, decided: str) -> RecordInput:
    return RecordInput(
        subject_key=demo.COMPANY, subject_type="legal_person", subject_name="沧州运河示范商贸有限公司",
        item_code="ADM_PENALTY", source_ref=ref, decided_on=decided,
        data={"cf_wsh": f"沧市监罚〔2026〕{ref}号", "cf_xdr_mc": "沧州运河示范商贸有限公司", "cf_xdr_lb": "02",
              "cf_wfxw": "违反广告法", "cf_cflb": "警告", "cf_nr": "警告", "cf_jdrq": decided,
              "cf_cfjg": "沧州市市场监督管理局", "cf_cfjgdm": demo.MARKET},
    )


async def submit(state, received: str, *records: RecordInput):
    collector = Collector(state.pool, state.catalog, PROVIDER, calendar=state.calendar,
                          operation="test", clock=lambda: at(received))
    return await collector.submit(list(enumerate(records)))


async def test_a_penalty_of_09_28_submitted_on_10_12_is_on_time(state):
    # 9-29, 9-30, (10-1..10-7 National Day), 10-8, 10-9, 10-10 (Saturday worked), 10-12, 10-13
    (out,) = await submit(state, "2026-10-12", penalty("T-1", "2026-09-28"))
    assert out.status == "created"
    assert (out.due_on, out.provisional, out.late) == (dt.date(2026, 10, 13), False, False)
    (late,) = await submit(state, "2026-10-14", penalty("T-2", "2026-09-28"))
    assert (late.status, late.late) == ("created", True)  # stored all the same, marked late
    async with state.pool.acquire() as conn:
        rows = await conn.fetch("SELECT source_ref, received_on, due_on, late FROM records "
                                "WHERE source_ref IN ('T-1', 'T-2') ORDER BY source_ref")
    assert [tuple(r) for r in rows] == [
        ("T-1", dt.date(2026, 10, 12), dt.date(2026, 10, 13), False),
        ("T-2", dt.date(2026, 10, 14), dt.date(2026, 10, 13), True)]


async def test_a_deadline_reaching_into_an_unpublished_year_is_provisional_and_does_not_fail(state):
    assert not state.calendar.is_official(2027)
    (out,) = await submit(state, "2026-12-29", penalty("T-3", "2026-12-28"))
    assert out.status == "created" and out.provisional and out.late is False
    assert out.due_on.year == 2027
    async with state.pool.acquire() as conn:
        assert await conn.fetchval("SELECT due_provisional FROM records WHERE source_ref = 'T-3'") is True


async def test_loading_the_year_recomputes_provisional_deadlines(state):
    await submit(state, "2026-12-29", penalty("T-4", "2026-12-28"))
    # a 2027 notice that makes 2027-01-04 .. 01-08 days off: the deadline moves a week later
    schedule = YearSchedule(
        year=2027, official=True, source="test notice",
        holidays=tuple(NamedDay(dt.date(2027, 1, d), "测试假日") for d in range(1, 9)), make_up_days=(),
    )
    official = WorkCalendar([state.calendar.schedule(y) for y in state.calendar.official_years] + [schedule])
    expected = official.add_working_days(dt.date(2026, 12, 28), 7)
    assert not expected.provisional
    async with state.pool.acquire() as conn, conn.transaction():
        assert await recompute_deadlines(conn, official, 2027) == 1
        row = await conn.fetchrow("SELECT due_on, due_provisional FROM records WHERE source_ref = 'T-4'")
    assert tuple(row) == (expected.due, False)


TIMELINESS = """
query($since: Date!, $until: Date!) { collectionTimeliness(since: $since, until: $until) {
  providers { providerOrg county received withDeadline onTime late provisional onTimeRate }
  counties { county received withDeadline onTime late onTimeRate }
  lateRecords { sourceRef decidedOn receivedOn dueOn } } }
"""


async def test_timeliness_is_monitored_per_provider_and_county(state, gql):
    await submit(state, "2026-10-12", penalty("M-1", "2026-09-28"))
    await submit(state, "2026-10-14", penalty("M-2", "2026-09-28"))
    await submit(state, "2026-10-09", penalty("M-3", "2026-09-30"))
    period = {"since": "2026-10-01", "until": "2026-10-31"}
    report = (await gql(TIMELINESS, period, as_="data_office"))["data"]["collectionTimeliness"]
    assert report["providers"] == [{
        "providerOrg": demo.MARKET, "county": "130900", "received": 3, "withDeadline": 3, "onTime": 2,
        "late": 1, "provisional": 0, "onTimeRate": pytest.approx(2 / 3)}]
    assert report["counties"] == [{"county": "130900", "received": 3, "withDeadline": 3, "onTime": 2,
                                   "late": 1, "onTimeRate": pytest.approx(2 / 3)}]
    assert report["lateRecords"] == [{"sourceRef": "M-2", "decidedOn": "2026-09-28",
                                      "receivedOn": "2026-10-14", "dueOn": "2026-10-13"}]
    other = {"org": demo.TAX, "org_name": "国家税务总局沧州市税务局"}
    own = (await gql(TIMELINESS, period, as_="provider", **other))["data"]["collectionTimeliness"]
    assert own["providers"] == [] and own["lateRecords"] == []
    mine = (await gql(TIMELINESS, period, as_="provider"))["data"]["collectionTimeliness"]
    assert mine["providers"][0]["received"] == 3
    refused = await gql(TIMELINESS, period, as_="credit_service")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
