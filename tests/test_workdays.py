"""The working-day calendar, pure (api/workdays): Art. 13, 38, 39 deadlines under the State
Council's holiday notices with make-up working days, and the provisional statutory fallback."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import chinese_calendar
import pytest

from api.errors import InvalidInput
from api.i18n import use_locale
from api.workdays import DayKind, NamedDay, WorkCalendar, YearSchedule, china_date
from api.workdays.cli import format_schedule
from api.workdays.files import ScheduleFileError, read_schedule_file
from api.workdays.package import package_schedules
from api.workdays.statutory import statutory_holidays, statutory_schedule

D = dt.date.fromisoformat
PACKAGE = package_schedules()


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar(PACKAGE)


# An invented 2027 notice, for the tests that load a year (not the real one, not yet published).
SCHEDULE_2027_CSV = """\
# 2027 holiday arrangement (test data)
year,kind,name,from,to
2027,holiday,New Year's Day,2027-01-01,2027-01-03
2027,holiday,Spring Festival,2027-02-05,2027-02-13
2027,make_up,Spring Festival,2027-02-20,
2027,holiday,Tomb-sweeping Day,2027-04-03,2027-04-05
2027,holiday,Labour Day,2027-05-01,2027-05-05
2027,make_up,Labour Day,2027-04-25,
2027,holiday,Dragon Boat Festival,2027-06-09,2027-06-09
2027,holiday,Mid-autumn Festival,2027-09-15,2027-09-15
2027,holiday,National Day,2027-10-01,2027-10-07
2027,make_up,National Day,2027-09-26,
2027,make_up,National Day,2027-10-09,
"""

SCHEDULE_2027_YAML = """\
year: 2027
notice: test notice
holidays:
  - {name: New Year's Day, from: 2027-01-01, to: 2027-01-03}
  - {name: Spring Festival, from: 2027-02-05, to: 2027-02-13}
  - {name: Tomb-sweeping Day, from: 2027-04-03, to: 2027-04-05}
  - {name: Labour Day, from: 2027-05-01, to: 2027-05-05}
  - {name: Dragon Boat Festival, date: 2027-06-09}
  - {name: Mid-autumn Festival, date: 2027-09-15}
  - {name: National Day, from: 2027-10-01, to: 2027-10-07}
make_up_days:
  - {name: Spring Festival, date: 2027-02-20}
  - {name: Labour Day, date: 2027-04-25}
  - {name: National Day, date: 2027-09-26}
  - {name: National Day, date: 2027-10-09}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- deadlines in the official years -----------------------------------------------------------


def test_art13_penalty_of_0928_submitted_on_1012_is_on_time(cal):
    """National Day 10/1-10/7 is off and Saturday 10/10 is a make-up working day."""
    deadline = cal.add_working_days(D("2026-09-28"), 7)
    assert deadline.due == D("2026-10-13")
    assert not deadline.provisional
    assert deadline.met_by(D("2026-10-12"))
    assert deadline.met_by(D("2026-10-13"))
    assert not deadline.met_by(D("2026-10-14"))


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        ("2026-09-18", 1, "2026-09-20"),  # Friday; Sunday 9/20 is a make-up working day
        ("2026-09-19", 1, "2026-09-20"),  # from a Saturday
        ("2026-09-20", 1, "2026-09-21"),
        ("2026-09-24", 1, "2026-09-28"),  # Mid-Autumn 9/25-9/27
        ("2026-09-30", 1, "2026-10-08"),  # National Day 10/1-10/7
        ("2026-10-01", 1, "2026-10-08"),  # from inside the holiday
        ("2026-10-07", 1, "2026-10-08"),
        ("2026-10-09", 1, "2026-10-10"),  # Saturday 10/10 is worked
        ("2026-10-10", 1, "2026-10-12"),
        ("2026-09-28", 1, "2026-09-29"),
        ("2026-09-28", 3, "2026-10-08"),
        ("2026-09-28", 15, "2026-10-23"),  # Art. 38: provider verifies within 15
        ("2026-09-30", 3, "2026-10-10"),  # Art. 38: correct within 3, the make-up Saturday counts
        ("2026-02-13", 1, "2026-02-14"),  # Spring Festival: Saturday 2/14 worked
        ("2026-02-14", 1, "2026-02-24"),  # 2/15-2/23 off
        ("2026-02-13", 3, "2026-02-25"),
        ("2026-02-27", 1, "2026-02-28"),  # Saturday 2/28 worked
        ("2026-02-28", 1, "2026-03-02"),
        ("2025-12-31", 1, "2026-01-04"),  # New Year 1/1-1/3 off, Sunday 1/4 worked
        ("2026-01-02", 1, "2026-01-04"),
        ("2026-04-02", 1, "2026-04-03"),
        ("2026-04-03", 1, "2026-04-07"),  # Qingming 4/4-4/6
        ("2026-04-30", 1, "2026-05-06"),  # Labour Day 5/1-5/5
        ("2026-05-08", 1, "2026-05-09"),  # Saturday 5/9 worked
        ("2026-06-18", 1, "2026-06-22"),  # Dragon Boat 6/19-6/21
        ("2026-03-06", 5, "2026-03-13"),  # an ordinary week
        ("2026-03-06", 0, "2026-03-06"),  # zero working days: the day itself
        ("2026-12-29", 2, "2026-12-31"),
        ("2024-09-27", 7, "2024-10-12"),  # 2024: 9/29 worked, 10/1-10/7 off, 10/12 worked
        ("2020-01-23", 1, "2020-02-03"),  # 2020: Spring Festival extended to 2/2
    ],
)
def test_add_working_days_official(cal, start, n, due):
    deadline = cal.add_working_days(D(start), n)
    assert deadline.due == D(due)
    assert not deadline.provisional
    assert cal.working_days_between(D(start), D(due)) == n


@pytest.mark.parametrize(
    ("day", "working", "kind", "name"),
    [
        ("2026-10-10", True, DayKind.MAKE_UP_DAY, "National Day"),
        ("2026-09-20", True, DayKind.MAKE_UP_DAY, "National Day"),
        ("2026-02-14", True, DayKind.MAKE_UP_DAY, "Spring Festival"),
        ("2026-02-28", True, DayKind.MAKE_UP_DAY, "Spring Festival"),
        ("2026-01-04", True, DayKind.MAKE_UP_DAY, "New Year's Day"),
        ("2026-10-01", False, DayKind.HOLIDAY, "National Day"),
        ("2026-10-03", False, DayKind.HOLIDAY, "National Day"),  # a Saturday inside the holiday
        ("2026-10-07", False, DayKind.HOLIDAY, "National Day"),
        ("2026-02-17", False, DayKind.HOLIDAY, "Spring Festival"),
        ("2026-10-11", False, DayKind.REST_DAY, None),
        ("2026-10-08", True, DayKind.WORKING_DAY, None),
        ("2026-03-07", False, DayKind.REST_DAY, None),
    ],
)
def test_days_of_2026(cal, day, working, kind, name):
    d = cal.day(D(day))
    assert (cal.is_working_day(D(day)), d.kind, d.name, d.official) == (working, kind, name, True)
    assert d.working is working


def test_every_day_of_the_package_years_agrees_with_chinesecalendar(cal):
    day, checked = D("2004-01-01"), 0
    while day <= D("2026-12-31"):
        assert cal.is_working_day(day) is chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)
        checked += 1
    assert checked == 8401


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 15, 30])
@pytest.mark.parametrize("start", ["2026-01-01", "2026-02-10", "2026-04-30", "2026-09-17", "2026-09-30"])
def test_due_day_is_the_nth_working_day(cal, start, n):
    deadline = cal.add_working_days(D(start), n)
    assert cal.is_working_day(deadline.due)
    assert cal.working_days_between(D(start), deadline.due) == n
    assert cal.working_days_between(D(start), deadline.due - dt.timedelta(days=1)) == n - 1


def test_working_days_between_is_signed(cal):
    assert cal.working_days_between(D("2026-09-28"), D("2026-10-13")) == 7
    assert cal.working_days_between(D("2026-10-13"), D("2026-09-28")) == -7
    assert cal.working_days_between(D("2026-10-13"), D("2026-10-13")) == 0


# --- pauses (Art. 38: testing, inspection, quarantine, appraisal, expert review) -------------


@pytest.mark.parametrize(
    ("paused", "due"),
    [
        ([], "2026-10-23"),
        ([("2026-10-12", "2026-10-16")], "2026-10-30"),  # five working days paused
        ([("2026-10-17", "2026-10-18")], "2026-10-23"),  # a weekend paused changes nothing
        ([("2026-10-01", "2026-10-07")], "2026-10-23"),  # the holiday paused changes nothing
        ([("2026-10-10", "2026-10-10")], "2026-10-26"),  # the make-up Saturday paused
        ([("2026-10-12", "2026-10-13"), ("2026-10-19", "2026-10-19")], "2026-10-28"),
        ([("2026-09-01", "2026-09-28")], "2026-10-23"),  # a pause before the start
    ],
)
def test_paused_working_days_do_not_count(cal, paused, due):
    ranges = [(D(a), D(b)) for a, b in paused]
    assert cal.add_working_days(D("2026-09-28"), 15, paused=ranges).due == D(due)


def test_a_pause_that_ends_before_it_begins_is_refused(cal):
    with use_locale("en"), pytest.raises(InvalidInput, match="cannot end") as e:
        cal.add_working_days(D("2026-09-28"), 15, paused=[(D("2026-10-16"), D("2026-10-12"))])
    assert e.value.field == "paused"


def test_a_negative_count_is_refused(cal):
    with pytest.raises(InvalidInput):
        cal.add_working_days(D("2026-09-28"), -1)


# --- beyond the official years: provisional, never an error ----------------------------------


def test_a_deadline_from_1224_reaches_into_2027_provisionally(cal):
    """1/1/2027 is a statutory holiday, 1/2-1/3 a weekend."""
    deadline = cal.add_working_days(D("2026-12-24"), 7)
    assert deadline == type(deadline)(due=D("2027-01-05"), provisional=True)


@pytest.mark.parametrize(
    ("start", "n", "due", "provisional"),
    [
        ("2026-12-30", 1, "2026-12-31", False),  # stays in 2026
        ("2026-12-31", 1, "2027-01-04", True),
        ("2026-12-31", 0, "2026-12-31", False),
        ("2027-09-28", 7, "2027-10-12", True),  # fallback National Day 10/1-10/3, in lieu 10/4-10/5
        ("2027-02-04", 1, "2027-02-11", True),  # fallback Spring Festival 2/5-2/8, in lieu 2/9-2/10
        ("2030-12-20", 30, "2031-02-07", True),  # 1/1, 1/22-1/24 and 1/27 in lieu off
    ],
)
def test_fallback_deadlines(cal, start, n, due, provisional):
    deadline = cal.add_working_days(D(start), n)
    assert (deadline.due, deadline.provisional) == (D(due), provisional)


def test_a_deadline_in_a_loaded_year_is_official():
    loaded = WorkCalendar([*PACKAGE, schedule_2027()])
    deadline = loaded.add_working_days(D("2026-12-24"), 7)
    # official 2027: 1/1-1/3 off, so the 7th working day is still 1/5, and now not provisional
    assert deadline == type(deadline)(due=D("2027-01-05"), provisional=False)
    # the invented notice's 10/9 make-up Saturday counts, its 10/4-10/7 holiday does not
    assert loaded.add_working_days(D("2027-09-30"), 2).due == D("2027-10-09")
    assert WorkCalendar(PACKAGE).add_working_days(D("2027-09-30"), 2).due == D("2027-10-07")


@pytest.mark.parametrize(
    ("day", "name"),
    [
        ("2027-01-01", "New Year's Day"),
        ("2027-02-05", "Spring Festival"),  # lunar New Year's Eve
        ("2027-02-06", "Spring Festival"),  # lunar 1/1
        ("2027-02-08", "Spring Festival"),  # lunar 1/3
        ("2027-04-05", "Tomb-sweeping Day"),
        ("2027-05-01", "Labour Day"),
        ("2027-05-02", "Labour Day"),
        ("2027-06-09", "Dragon Boat Festival"),
        ("2027-09-15", "Mid-autumn Festival"),
        ("2027-10-01", "National Day"),
        ("2027-10-03", "National Day"),
        ("2027-10-04", "National Day (in lieu)"),  # Art. 6: 10/2-10/3 fell on a weekend
        ("2027-02-09", "Spring Festival (in lieu)"),
        ("2028-01-03", "New Year's Day (in lieu)"),  # 1/1/2028 is a Saturday
        ("2028-01-25", "Spring Festival"),  # lunar New Year's Eve 2028
        ("2099-10-01", "National Day"),
    ],
)
def test_a_fallback_year_keeps_the_statutory_holidays(cal, day, name):
    d = cal.day(D(day))
    assert (d.kind, d.name, d.official, cal.is_working_day(D(day))) == (DayKind.HOLIDAY, name, False, False)


def test_a_fallback_year_has_weekends_and_no_make_up_days(cal):
    s = cal.schedule(2027)
    assert not s.official and s.make_up_days == ()
    assert cal.day(D("2027-10-09")).kind is DayKind.REST_DAY
    assert cal.is_working_day(D("2027-10-08"))


@pytest.mark.parametrize("year", [2025, 2026])
def test_statutory_days_are_official_holidays_since_the_2025_revision(cal, year):
    """Checks the lunar dates and the Qingming solar term against the published notices."""
    official = {h.day for h in cal.schedule(year).holidays}
    days = statutory_holidays(year)
    assert len(days) == 13
    assert {d.day for d in days} <= official


@pytest.mark.parametrize("year", range(2008, 2025))
def test_statutory_days_of_before_2025_are_official_holidays(cal, year):
    """Until 2024 Labour Day was one day and New Year's Eve was not always off. (The package
    leaves a few weekend days inside holidays unnamed, e.g. 2012-06-23: compare working days.)"""
    eve = min(d.day for d in statutory_holidays(year) if d.name == "Spring Festival")
    older = {d.day for d in statutory_holidays(year)} - {eve, dt.date(year, 5, 2)}
    assert len(older) >= 10  # fewer when Mid-Autumn falls on National Day
    assert [d for d in sorted(older) if cal.is_working_day(d)] == []


def test_mid_autumn_on_national_day_counts_once():
    s = statutory_schedule(2020)  # Mid-Autumn 2020 fell on 10/1
    names = {h.day: h.name for h in s.holidays}
    assert names[D("2020-10-01")] == "Mid-autumn Festival / National Day"


def test_years_beyond_the_lunar_tables_are_refused_clearly(cal):
    with pytest.raises(InvalidInput, match="没有 2100 年的工作日历") as e:
        cal.add_working_days(D("2099-12-31"), 1)
    assert e.value.rule == "calendar_range"
    with use_locale("en"), pytest.raises(InvalidInput, match="no working-day calendar for 2100"):
        cal.add_working_days(D("2099-12-31"), 1)


def test_china_date_is_beijing_time():
    assert china_date(dt.datetime(2026, 10, 12, 17, 0, tzinfo=dt.UTC)) == D("2026-10-13")
    assert china_date(dt.datetime(2026, 10, 12, 15, 59, tzinfo=dt.UTC)) == D("2026-10-12")
    with pytest.raises(ValueError):
        china_date(dt.datetime(2026, 10, 12, 17, 0))


@pytest.mark.parametrize(
    ("holidays", "make_up", "message"),
    [
        ([("2028-01-01", "x")], [], "not in 2027"),
        ([("2027-01-01", "x")], [("2027-01-01", "x")], "listed twice"),
        ([], [("2027-01-04", "x")], "not a Saturday or Sunday"),
    ],
)
def test_a_schedule_keeps_its_invariants(holidays, make_up, message):
    with pytest.raises(ValueError, match=message):
        YearSchedule(
            2027,
            tuple(NamedDay(D(d), n) for d, n in holidays),
            tuple(NamedDay(D(d), n) for d, n in make_up),
            official=True,
            source="test",
        )


# --- schedule files ---------------------------------------------------------------------------


def schedule_2027() -> YearSchedule:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return read_schedule_file(write(Path(tmp), "2027.csv", SCHEDULE_2027_CSV)).schedule


def test_csv_and_yaml_describe_the_same_year(tmp_path):
    csv_file = read_schedule_file(write(tmp_path, "2027.csv", SCHEDULE_2027_CSV))
    yaml_file = read_schedule_file(write(tmp_path, "2027.yaml", SCHEDULE_2027_YAML))
    for parsed in (csv_file, yaml_file):
        s = parsed.schedule
        assert s.year == 2027 and s.official
        assert len(s.holidays) == 3 + 9 + 3 + 5 + 1 + 1 + 7
        assert [m.day for m in s.make_up_days] == [D(d) for d in ("2027-02-20", "2027-04-25", "2027-09-26", "2027-10-09")]
        assert parsed.warnings == []
    assert csv_file.schedule.holidays == yaml_file.schedule.holidays
    assert csv_file.schedule.source.startswith("file 2027.csv sha256:")
    assert yaml_file.schedule.source.endswith("(test notice)")


def problems_of(tmp_path: Path, name: str, text: str) -> list[str]:
    with pytest.raises(ScheduleFileError) as e:
        read_schedule_file(write(tmp_path, name, text))
    assert "nothing loaded" in str(e.value)
    assert e.value.code == "CALENDAR_FILE_INVALID"
    return e.value.problems


HEADER = "year,kind,name,from,to\n"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("2027,holiday,New Year's Day,2027-12-31,2028-01-02\n", ["line 2, field to: 2028-01-02 is not in 2027"]),
        ("2027,holiday,National Day,2026-10-01,2026-10-07\n", ["line 2, field from: 2026-10-01 is not in 2027"]),
        ("2027,holiday,Spring Festival,2027-02-05,2027-02-13\n2027,make_up,Spring Festival,2027-02-13,\n",
         ["line 3: 2027-02-13 is both a holiday and a make-up day (also line 2)"]),
        ("2027,holiday,A,2027-02-05,2027-02-06\n2027,holiday,B,2027-02-06,2027-02-07\n",
         ["line 3: 2027-02-06 is listed twice (also line 2)"]),
        ("2027,holiday,A,2027-02-05,\n2027,make_up,A,2027-02-10,\n",
         ["line 3: 2027-02-10 is a Wednesday: a make-up working day is a Saturday or Sunday"]),
        ("2027,day off,A,2027-02-05,\n", ["line 2, field kind: 'day off' is not a kind: use holiday or make_up"]),
        ("2027,holiday,,2027-02-05,\n", ["line 2, field name: missing: name the holiday (for a make-up day, the holiday it serves)"]),
        ("2027,holiday,A,2027-02-30,\n", ["line 2, field from: '2027-02-30' is not a date YYYY-MM-DD"]),
        ("2027,holiday,A,5 Feb 2027,\n", ["line 2, field from: '5 Feb 2027' is not a date YYYY-MM-DD"]),
        ("2027,holiday,A,,\n", ["line 2, field from: missing"]),
        ("2027,holiday,A,2027-02-07,2027-02-05\n", ["line 2, field to: 2027-02-05 is before from 2027-02-07"]),
        ("2027,holiday,A,2027-01-01,2027-03-01\n",
         ["line 2, field to: 60 days from 2027-01-01 to 2027-03-01 is longer than 31; check the dates"]),
        ("2027,holiday,A,2027-01-01,\n2028,holiday,B,2028-01-01,\n",
         ["line 3, field year: 2028, but the file is for 2027 (one year per file)"]),
        ("twenty,holiday,A,2027-01-01,\n", ["line 2, field year: 'twenty' is not a year"]),
        ("2027,make_up,A,2027-02-20,\n", ["the file: no holidays for 2027"]),
        ("", ["the file: it has a header but no holidays"]),
        ("2027,holiday,A,2027-01-01,,extra\n", ["line 2: 6 values for 5 columns"]),
    ],
)
def test_a_bad_csv_is_refused_naming_line_and_field(tmp_path, rows, expected):
    assert problems_of(tmp_path, "2027.csv", HEADER + rows) == expected


def test_every_problem_is_reported_at_once(tmp_path):
    text = HEADER + "2027,holiday,A,2027-02-30,\n2027,holiday,B,2028-01-01,\n2027,make_up,C,2027-02-10,\n"
    assert problems_of(tmp_path, "2027.csv", text) == [
        "line 2, field from: '2027-02-30' is not a date YYYY-MM-DD",
        "line 3, field from: 2028-01-01 is not in 2027",
        "line 4: 2027-02-10 is a Wednesday: a make-up working day is a Saturday or Sunday",
    ]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("2027.csv", "", ["the file: it is empty"]),
        ("2027.csv", "year,kind,name,from\n", ["line 1: the header must name the columns year,kind,name,from,to; missing to"]),
        ("2027.txt", "x", ["the file name must end in .csv, .yaml or .yml"]),
        ("2027.yaml", "year: 2027\nholidays: [\n", None),
        ("2027.yaml", "- 2027\n", ["the file: expected a mapping with year, holidays and make_up_days"]),
        ("2027.yaml", "year: 2027\nholiday:\n  - {name: A, date: 2027-01-01}\n",
         ["the file: unknown keys holiday (allowed: year, notice, holidays, make_up_days)"]),
        ("2027.yml", "year: 2027\nholidays:\n  - {name: A, date: 2027-01-01, to: 2027-01-02}\n",
         ["holidays[0], field date: give either date or from/to, not both"]),
        ("2027.yaml", "year: 2027\nholidays:\n  - {name: A, from: 2027-01-01, until: 2027-01-02}\n",
         ["holidays[0]: unknown keys until (allowed: name, from, to, date)"]),
        ("2027.yaml", "holidays:\n  - {name: A, date: 2027-01-01}\n", ["the file, field year: missing"]),
        ("2027.yaml", "year: 2027\nholidays:\n  - {name: A, date: 2027-01-01}\nmake_up_days:\n  - {name: A, date: 2027-01-06}\n",
         ["make_up_days[0]: 2027-01-06 is a Wednesday: a make-up working day is a Saturday or Sunday"]),
        ("2027.yaml", "year: 2027\nholidays:\n  - {name: A, date: 2028-01-01}\n",
         ["holidays[0], field date: 2028-01-01 is not in 2027"]),
        ("2027.yaml", "year: 2027\nholidays:\n  - {name: A, from: 2027-01-01 10:00:00}\n",
         ["holidays[0], field from: 2027-01-01 10:00:00 has a time; give a date YYYY-MM-DD"]),
    ],
)
def test_a_bad_file_is_refused(tmp_path, name, text, expected):
    problems = problems_of(tmp_path, name, text)
    if expected is None:
        assert len(problems) == 1 and problems[0].startswith("line 3: not valid YAML")
    else:
        assert problems == expected


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ScheduleFileError, match="cannot read the file"):
        read_schedule_file(tmp_path / "absent.csv")


def test_a_file_that_leaves_out_a_statutory_holiday_loads_with_a_warning(tmp_path):
    text = SCHEDULE_2027_CSV.replace("2027,holiday,National Day,2027-10-01,2027-10-07\n",
                                     "2027,holiday,National Day,2027-10-02,2027-10-07\n")
    parsed = read_schedule_file(write(tmp_path, "2027.csv", text))
    assert parsed.warnings == [
        "2027-10-01 (National Day) is a statutory holiday but the file does not list it as a day off"
    ]


def test_show_prints_holiday_blocks_and_make_up_days(cal):
    text = format_schedule(cal.schedule(2026))
    assert text.startswith("2026: official, chinesecalendar 1.11.0")
    assert "2026-10-01 Thu - 2026-10-07 Wed (7)" in text
    assert "2026-10-10 Sat" in text and "2026-02-28 Sat" in text
    provisional = format_schedule(cal.schedule(2027))
    assert provisional.startswith("2027: provisional")
    assert re.search(r"\n  2027-10-04 Mon - 2027-10-05 Tue \(2\) +National Day \(in lieu\)\n", provisional)
    assert provisional.rstrip().endswith("none")
