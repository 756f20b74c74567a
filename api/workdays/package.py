"""The official schedules shipped in the `chinesecalendar` package (import `chinese_calendar`),
which seed the database. Only its data tables are read: its functions raise
NotImplementedError for any date after the last year it covers (2026 in 1.11.0)."""

from __future__ import annotations

from importlib.metadata import version

from .calendar import NamedDay, YearSchedule


def package_source() -> str:
    return f"chinesecalendar {version('chinesecalendar')}"


def package_schedules() -> list[YearSchedule]:
    """Every year the package covers, as official schedules."""
    from chinese_calendar import constants

    source = package_source()
    holidays: dict[int, list[NamedDay]] = {}
    make_up: dict[int, list[NamedDay]] = {}
    for table, into in ((constants.holidays, holidays), (constants.workdays, make_up)):
        for day, name in table.items():
            into.setdefault(day.year, []).append(NamedDay(day, str(name)))
    return [
        YearSchedule(
            year=year,
            holidays=tuple(holidays[year]),
            make_up_days=tuple(make_up.get(year, ())),
            official=True,
            source=source,
        )
        for year in sorted(holidays)
    ]
