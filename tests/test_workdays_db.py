"""The working-day calendar with its database: the seed from chinesecalendar at start-up,
`credit calendar load` / `show` run as the CLI runs them (their own event loop and pool, in a
thread, against the test database), the running app picking up a load, and the GraphQL fields."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from api.cli import _parser, main
from api.errors import InvalidInput
from api.workdays import WorkCalendar, service
from api.workdays.files import ScheduleFileError
from api.workdays.service import YearAlreadyLoaded, seed_from_package

from .conftest import TEST_SECRET
from .test_workdays import SCHEDULE_2027_CSV, SCHEDULE_2027_YAML, write

D = dt.date.fromisoformat
PACKAGE_YEARS = list(range(2004, 2027))


async def calendar_acts(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT * FROM query_log WHERE kind = 'calendar' ORDER BY at")


async def years(pool: asyncpg.Pool) -> dict[int, asyncpg.Record]:
    async with pool.acquire() as conn:
        return {r["year"]: r for r in await conn.fetch("SELECT * FROM calendar_years ORDER BY year")}


@pytest.fixture
def follower(app) -> service.CalendarFollower:
    return app.state.calendar_follower


@pytest.fixture
async def clean_calendar(dsn, state, follower) -> AsyncIterator[None]:
    """Tests that load years leave the calendar as the seed made it, in the database and in the
    running app: the other tests' deadlines around 2027 stay provisional."""
    yield
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM calendar_years WHERE loaded_by <> 'system'")
    finally:
        await conn.close()
    await seed_from_package(state.pool)  # a replaced package year comes back from the package
    calendar = await follower.reload()
    assert calendar.official_years == tuple(PACKAGE_YEARS)


async def cli(settings, *argv: str) -> int | None:
    """Parse as `credit` does and run the command function in a thread with its own loop."""
    args = _parser().parse_args(list(argv))
    return await asyncio.to_thread(args.run, settings, args)


def load_args(path: Path, *extra: str) -> list[str]:
    return ["calendar", "load", str(path), "--operator-name", "杨帆", *extra]


# --- the seed --------------------------------------------------------------------------------


async def test_a_fresh_database_is_seeded_from_chinesecalendar(state, pool):
    found = await years(pool)
    assert list(found) == PACKAGE_YEARS
    assert {r["source"] for r in found.values()} == {"chinesecalendar 1.11.0"}
    assert {r["loaded_by"] for r in found.values()} == {"system"}
    async with pool.acquire() as conn:
        days = await conn.fetch("SELECT day, is_workday, name FROM calendar_days WHERE year = 2026 ORDER BY day")
    assert len(days) == 33 + 6
    assert (days[-1]["day"], days[-1]["is_workday"], days[-1]["name"]) == (D("2026-10-10"), True, "National Day")
    assert state.calendar.official_years == tuple(PACKAGE_YEARS)
    assert state.calendar.add_working_days(D("2026-09-28"), 7).due == D("2026-10-13")


async def test_seeding_again_adds_nothing_and_logs_nothing(pool):
    assert await seed_from_package(pool) == []
    assert await calendar_acts(pool) == []


async def test_a_missing_package_year_is_seeded_again_and_logged(dsn, pool):
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM calendar_years WHERE year = 2004")
    finally:
        await conn.close()
    assert await seed_from_package(pool) == [2004]
    assert 2004 in await years(pool)
    acts = await calendar_acts(pool)
    assert [(a["operation"], a["user_id"], a["retention"]) for a in acts] == [("calendar.seed", "system", "long_term")]
    assert acts[0]["details"]["years"] == [2004]


# --- loading a year --------------------------------------------------------------------------


async def test_loading_2027_makes_it_official_in_the_running_app(
    settings, state, pool, follower, gql, tmp_path, clean_calendar
):
    before = state.calendar.add_working_days(D("2026-12-24"), 7)
    assert before.provisional
    assert await cli(settings, *load_args(write(tmp_path, "2027.csv", SCHEDULE_2027_CSV))) == 0

    found = await years(pool)
    assert found[2027]["source"].startswith("file 2027.csv sha256:")
    calendar = await follower.wait_for(lambda c: c.is_official(2027))
    deadline = calendar.add_working_days(D("2026-12-24"), 7)
    assert (deadline.due, deadline.provisional) == (D("2027-01-05"), False)
    assert calendar.add_working_days(D("2027-09-30"), 2).due == D("2027-10-09")  # its make-up day

    acts = await calendar_acts(pool)
    assert len(acts) == 1
    act = acts[0]
    assert (act["operation"], act["user_name"], act["org_code"], act["roles"], act["retention"]) == (
        "calendar.load", "杨帆", "12130900000004044P", ["data_office"], "long_term"
    )
    assert act["details"]["year"] == 2027 and act["details"]["file"] == "2027.csv"
    assert "2027-10-09" in act["details"]["make_up_days"]

    r = await gql('{ deadline(start: "2026-12-24", workingDays: 7) { due provisional } '
                  'calendarYear(year: 2027) { official source } }')
    assert r["data"]["deadline"] == {"due": "2027-01-05", "provisional": False}
    assert r["data"]["calendarYear"]["official"] is True


async def test_the_follower_listens_again_after_its_connection_is_lost(
    settings, state, owner, follower, tmp_path, clean_calendar
):
    """A database restart ends every connection: the follower connects again, reads the calendar
    once (a load announced meanwhile is not lost), and picks up the next load as before."""
    listener = follower.listener
    before, old_calendar, old_pid = listener.reconnects, state.calendar, listener.server_pid
    assert await owner.fetchval("SELECT pg_terminate_backend($1)", old_pid)
    await listener.wait_reconnected(before + 1)
    assert listener.server_pid != old_pid
    assert state.calendar is not old_calendar  # caught up on reconnecting

    assert await cli(settings, *load_args(write(tmp_path, "2027.csv", SCHEDULE_2027_CSV))) == 0
    calendar = await follower.wait_for(lambda c: c.is_official(2027))
    assert calendar.add_working_days(D("2026-12-24"), 7).due == D("2027-01-05")


async def test_a_yaml_file_loads_the_same(settings, pool, follower, tmp_path, clean_calendar):
    assert await cli(settings, *load_args(write(tmp_path, "2027.yaml", SCHEDULE_2027_YAML))) == 0
    calendar = await follower.wait_for(lambda c: c.is_official(2027))
    assert calendar.schedule(2027).source.endswith("(test notice)")
    assert len(calendar.schedule(2027).make_up_days) == 4


async def test_a_bad_file_is_refused_and_changes_nothing(settings, pool, tmp_path, clean_calendar):
    bad = SCHEDULE_2027_CSV.replace("2027,make_up,National Day,2027-10-09,", "2027,make_up,National Day,2027-10-02,")
    with pytest.raises(ScheduleFileError) as e:
        await cli(settings, *load_args(write(tmp_path, "2027.csv", bad)))
    assert e.value.problems == ["line 13: 2027-10-02 is both a holiday and a make-up day (also line 11)"]
    assert 2027 not in await years(pool)
    assert await calendar_acts(pool) == []


async def test_reloading_a_year_needs_replace(settings, pool, follower, tmp_path, clean_calendar):
    path = write(tmp_path, "2027.csv", SCHEDULE_2027_CSV)
    assert await cli(settings, *load_args(path)) == 0
    with pytest.raises(YearAlreadyLoaded, match=r"2027 年已加载（file 2027.csv .*--replace"):
        await cli(settings, *load_args(path))
    assert len(await calendar_acts(pool)) == 1

    changed = write(tmp_path, "2027-corrected.csv",
                    SCHEDULE_2027_CSV.replace("2027,make_up,National Day,2027-10-09,\n", ""))
    assert await cli(settings, *load_args(changed, "--replace")) == 0
    calendar = await follower.wait_for(lambda c: c.is_official(2027) and len(c.schedule(2027).make_up_days) == 3)
    assert calendar.schedule(2027).source.startswith("file 2027-corrected.csv")
    acts = await calendar_acts(pool)
    assert len(acts) == 2
    assert acts[1]["details"]["replaced"].startswith("file 2027.csv")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM calendar_days WHERE year = 2027") == 29 + 3


async def test_the_operator_must_be_named_and_the_org_valid(settings, tmp_path, pool):
    path = write(tmp_path, "2027.csv", SCHEDULE_2027_CSV)
    with pytest.raises(InvalidInput, match="--operator-name"):
        await cli(settings, "calendar", "load", str(path), "--operator-name", " ")
    with pytest.raises(InvalidInput, match="--org 12130900000004044X"):
        await cli(settings, *load_args(path, "--org", "12130900000004044X"))
    assert 2027 not in await years(pool)


async def test_the_credit_command_reports_a_refusal_with_exit_code_2(
    settings, dsn, tmp_path, monkeypatch, capsys, pool
):
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("CREDIT_JWT_SECRET", TEST_SECRET)
    monkeypatch.setenv("CREDIT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CREDIT_AUDIT_KEY", settings.audit_key.decode())
    path = write(tmp_path, "2027.csv", SCHEDULE_2027_CSV.replace("2027-02-20", "2027-02-17"))  # a Wednesday
    code = await asyncio.to_thread(main, load_args(path))
    assert code == 2
    err = capsys.readouterr().err
    assert "credit: " in err and "1 problem, nothing loaded" in err
    assert "line 5: 2027-02-17 is a Wednesday: a make-up working day is a Saturday or Sunday" in err
    assert 2027 not in await years(pool)


async def test_recompute_hooks_run_inside_the_load(settings, pool, follower, tmp_path, monkeypatch, clean_calendar):
    seen.clear()
    monkeypatch.setattr(service, "RECOMPUTE_MODULES", [__name__])
    assert await cli(settings, *load_args(write(tmp_path, "2027.csv", SCHEDULE_2027_CSV))) == 0
    assert seen == [(2027, True, D("2027-01-05"))]
    acts = await calendar_acts(pool)
    assert acts[0]["details"]["recomputed"] == {__name__: 1}


seen: list = []


async def recompute_deadlines(conn: asyncpg.Connection, calendar: WorkCalendar, year: int) -> int:
    """A recompute hook as the objections capability would write one (see service.py)."""
    in_tx = conn.is_in_transaction()
    seen.append((year, in_tx, calendar.add_working_days(D("2026-12-24"), 7).due))
    return 1


async def test_show_prints_a_year_and_the_official_years(settings, capsys, pool):
    assert await cli(settings, "calendar", "show", "2026") == 0
    out = capsys.readouterr().out
    assert out.startswith("2026: official, chinesecalendar 1.11.0, loaded by system at ")
    assert "2026-10-01 Thu - 2026-10-07 Wed (7)" in out and "2026-10-10 Sat" in out
    assert await cli(settings, "calendar", "show", "2027") == 0
    assert capsys.readouterr().out.startswith("2027: provisional")
    assert await cli(settings, "calendar", "show") == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(PACKAGE_YEARS) and listed[-1].startswith("2026  official  chinesecalendar 1.11.0")


# --- GraphQL, for anyone ---------------------------------------------------------------------


async def test_anyone_computes_a_deadline(gql):
    r = await gql('{ deadline(start: "2026-09-28", workingDays: 7) { start workingDays due provisional } }')
    assert r["data"]["deadline"] == {"start": "2026-09-28", "workingDays": 7, "due": "2026-10-13", "provisional": False}
    r = await gql('{ deadline(start: "2026-12-24", workingDays: 7) { due provisional } }', as_="provider")
    assert r["data"]["deadline"] == {"due": "2027-01-05", "provisional": True}


async def test_calendar_days_show_holidays_and_make_up_days(gql):
    r = await gql('{ calendarDays(from: "2026-10-07", to: "2026-10-11") { date kind isWorkingDay name provisional } }')
    assert [(d["date"], d["kind"], d["isWorkingDay"], d["name"]) for d in r["data"]["calendarDays"]] == [
        ("2026-10-07", "HOLIDAY", False, "国庆节"),
        ("2026-10-08", "WORKING_DAY", True, None),
        ("2026-10-09", "WORKING_DAY", True, None),
        ("2026-10-10", "MAKE_UP_DAY", True, "国庆节"),
        ("2026-10-11", "REST_DAY", False, None),
    ]
    assert not any(d["provisional"] for d in r["data"]["calendarDays"])


async def test_calendar_years_list_the_official_ones(gql):
    r = await gql("{ calendarYears { year official source } calendarYear(year: 2027) { official source "
                  "holidays { date name } makeUpDays { date } } }")
    listed = r["data"]["calendarYears"]
    assert [y["year"] for y in listed] == PACKAGE_YEARS and all(y["official"] for y in listed)
    fallback = r["data"]["calendarYear"]
    assert fallback["official"] is False and fallback["makeUpDays"] == []
    assert {"date": "2027-10-01", "name": "国庆节"} in fallback["holidays"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ('{ deadline(start: "2026-09-28", workingDays: -1) { due } }', "workingDays"),
        ('{ deadline(start: "2026-09-28", workingDays: 400) { due } }', "workingDays"),
        ('{ deadline(start: "2099-12-31", workingDays: 1) { due } }', "date"),
        ('{ calendarDays(from: "2026-10-07", to: "2026-10-01") { date } }', "to"),
        ('{ calendarDays(from: "2026-01-01", to: "2027-06-01") { date } }', "to"),
        ("{ calendarYear(year: 2200) { official } }", "date"),
    ],
)
async def test_out_of_range_questions_are_refused_clearly(gql, query, field):
    r = await gql(query)
    error = r["errors"][0]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["extensions"]["field"] == field
