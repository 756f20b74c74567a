"""The provisional schedule of a year whose State Council notice is not loaded: the statutory
holidays of 全国年节及纪念日放假办法 (National Holidays and Memorial Days, as revised in force
from 1 January 2025), with Art. 6's days off in lieu (补假), on top of ordinary weekends.

Holidays for all citizens (Art. 2): New Year's Day 1/1; Spring Festival 4 days, lunar New
Year's Eve and lunar 1/1-1/3; Qingming 1 day, the day of the Qingming solar term; Labour Day
5/1-5/2; Dragon Boat Festival, lunar 5/5; Mid-Autumn Festival, lunar 8/15; National Day
10/1-10/3. Art. 6: such a holiday falling on a Saturday or Sunday is made up on a working day;
here that is the first weekday after its holiday that is not already a day off.

The yearly notice then moves weekends around (调休) to make longer breaks; no rule predicts
that, so deadlines computed on this schedule are provisional until the notice is loaded.
Lunar dates and the solar term come from the lunar-python library."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from lunar_python import Lunar

from ..i18n import N_
from .calendar import ONE_DAY, NamedDay, YearSchedule
from .names import BOTH, IN_LIEU

SOURCE = "statutory holidays of 全国年节及纪念日放假办法 (2025 revision) with days in lieu"

NEW_YEAR = N_("New Year's Day")
SPRING_FESTIVAL = N_("Spring Festival")
QINGMING = N_("Tomb-sweeping Day")
LABOUR_DAY = N_("Labour Day")
DRAGON_BOAT = N_("Dragon Boat Festival")
MID_AUTUMN = N_("Mid-autumn Festival")
NATIONAL_DAY = N_("National Day")


def _lunar(year: int, month: int, day: int) -> dt.date:
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


def _qingming(year: int) -> dt.date:
    # The jieqi table of lunar year `year` runs from the winter solstice before it, so its
    # Qingming (about 4/5) is the one of solar year `year`.
    solar = Lunar.fromYmd(year, 1, 1).getJieQiTable()["清明"]
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


def statutory_holidays(year: int) -> list[NamedDay]:
    """The statutory days off of a year, by holiday, in date order (no days in lieu)."""
    new_year = _lunar(year, 1, 1)
    blocks = [
        (NEW_YEAR, [dt.date(year, 1, 1)]),
        (SPRING_FESTIVAL, [new_year - ONE_DAY, *(new_year + i * ONE_DAY for i in range(3))]),
        (QINGMING, [_qingming(year)]),
        (LABOUR_DAY, [dt.date(year, 5, 1), dt.date(year, 5, 2)]),
        (DRAGON_BOAT, [_lunar(year, 5, 5)]),
        (MID_AUTUMN, [_lunar(year, 8, 15)]),
        (NATIONAL_DAY, [dt.date(year, 10, d) for d in (1, 2, 3)]),
    ]
    out: dict[dt.date, str] = {}
    for name, days in blocks:
        for day in days:
            # Mid-Autumn can fall on National Day: the day counts once, under both names.
            out[day] = f"{out[day]}{BOTH}{name}" if day in out else name
    return [NamedDay(day, name) for day, name in sorted(out.items())]


@lru_cache(maxsize=256)
def statutory_schedule(year: int) -> YearSchedule:
    """The provisional schedule: statutory holidays plus Art. 6 days in lieu (补假)."""
    holidays = statutory_holidays(year)
    off = {h.day: h.name for h in holidays}
    # Each holiday's weekend days are made up after that holiday's last day.
    by_name: dict[str, list[dt.date]] = {}
    for h in holidays:
        by_name.setdefault(h.name, []).append(h.day)
    for name, days in sorted(by_name.items(), key=lambda item: item[1][0]):
        owed = sum(d.weekday() >= 5 for d in days)
        day = days[-1]
        while owed:
            day += ONE_DAY
            if day.weekday() < 5 and day not in off:
                off[day] = f"{name}{IN_LIEU}"
                owed -= 1
    return YearSchedule(
        year=year,
        holidays=tuple(NamedDay(d, n) for d, n in off.items()),
        make_up_days=(),
        official=False,
        source=SOURCE,
    )
