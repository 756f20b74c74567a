"""The working-day calendar (工作日), pure: Art. 13, 38 and 39 count deadlines in working days
under the State Council's yearly holiday notice, which also turns some weekend days into make-up
working days (调休). No I/O here: the calendar is built from the official schedules the database
holds (service.py) and, for a year without one, from the statutory holidays (statutory.py);
every deadline that touches such a year is provisional."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from ..errors import InvalidInput
from ..i18n import _

ONE_DAY = dt.timedelta(days=1)
# Beijing time: a deadline's days are China's calendar days (no daylight saving since 1991).
CHINA = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
# The statutory fallback needs lunar dates and solar terms; the lunar library is exact here.
MIN_YEAR, MAX_YEAR = 1901, 2099
_CACHE_MAX = 50_000  # deadlines remembered per calendar

Pause = tuple[dt.date, dt.date]


def china_date(at: dt.datetime) -> dt.date:
    """The calendar day in China of an aware timestamp (e.g. when a record was received)."""
    if at.tzinfo is None:
        raise ValueError("china_date needs an aware datetime")
    return at.astimezone(CHINA).date()


@dataclass(frozen=True, order=True)
class NamedDay:
    day: dt.date
    name: str


@dataclass(frozen=True)
class YearSchedule:
    """One year's holiday arrangement (放假安排): the days off, including weekend days inside a
    holiday block and days off in lieu, and the make-up working days (调休上班), which are
    weekend days worked. Every other day is worked Monday to Friday and free at weekends."""

    year: int
    holidays: tuple[NamedDay, ...]
    make_up_days: tuple[NamedDay, ...]
    official: bool
    source: str
    loaded_by: str | None = None
    loaded_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", tuple(sorted(self.holidays)))
        object.__setattr__(self, "make_up_days", tuple(sorted(self.make_up_days)))
        seen: set[dt.date] = set()
        for entry in (*self.holidays, *self.make_up_days):
            if entry.day.year != self.year:
                raise ValueError(f"{entry.day} is not in {self.year}")
            if entry.day in seen:
                raise ValueError(f"{entry.day} is listed twice in the {self.year} schedule")
            seen.add(entry.day)
        for entry in self.make_up_days:
            if entry.day.weekday() < 5:
                raise ValueError(f"make-up working day {entry.day} is not a Saturday or Sunday")


@dataclass(frozen=True)
class Deadline:
    """The last day on which something due "within n working days" is on time."""

    due: dt.date
    provisional: bool  # some day counted lies in a year with no official schedule yet

    def met_by(self, day: dt.date) -> bool:
        return day <= self.due


class DayKind(Enum):
    WORKING_DAY = "working_day"
    REST_DAY = "rest_day"  # an ordinary Saturday or Sunday
    HOLIDAY = "holiday"
    MAKE_UP_DAY = "make_up_day"  # a weekend day worked (调休上班)


@dataclass(frozen=True)
class CalendarDay:
    day: dt.date
    kind: DayKind
    name: str | None  # the holiday, or the holiday a make-up day belongs to
    official: bool

    @property
    def working(self) -> bool:
        return self.kind in (DayKind.WORKING_DAY, DayKind.MAKE_UP_DAY)


@dataclass(frozen=True)
class _Year:
    off: dict[dt.date, str]
    on: dict[dt.date, str]
    official: bool


class WorkCalendar:
    """Official schedules by year, and the statutory fallback for every other year.

    Immutable: loading a new year builds a new calendar (service.read_calendar)."""

    def __init__(self, official: Iterable[YearSchedule]):
        self._official = {s.year: s for s in official}
        self._years: dict[int, _Year] = {}
        self._deadlines: dict[tuple[dt.date, int], Deadline] = {}

    @property
    def official_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._official))

    def is_official(self, year: int) -> bool:
        return year in self._official

    def schedule(self, year: int) -> YearSchedule:
        """The official schedule of a year, or its provisional statutory one."""
        found = self._official.get(year)
        if found is not None:
            return found
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise InvalidInput(
                _("no working-day calendar for {year}: official schedules cover {official_years}, the statutory fallback {min_year}-{max_year}", year=year, official_years=_span(self.official_years), min_year=MIN_YEAR, max_year=MAX_YEAR),
                field="date",
                rule="calendar_range",
            )
        from .statutory import statutory_schedule

        return statutory_schedule(year)

    def _year(self, year: int) -> _Year:
        found = self._years.get(year)
        if found is None:
            s = self.schedule(year)
            found = _Year(
                off={h.day: h.name for h in s.holidays},
                on={m.day: m.name for m in s.make_up_days},
                official=s.official,
            )
            self._years[year] = found
        return found

    def day(self, d: dt.date) -> CalendarDay:
        y = self._year(d.year)
        if d in y.on:
            return CalendarDay(d, DayKind.MAKE_UP_DAY, y.on[d], y.official)
        if d in y.off:
            return CalendarDay(d, DayKind.HOLIDAY, y.off[d], y.official)
        kind = DayKind.WORKING_DAY if d.weekday() < 5 else DayKind.REST_DAY
        return CalendarDay(d, kind, None, y.official)

    def is_working_day(self, d: dt.date) -> bool:
        y = self._year(d.year)
        if d in y.on:
            return True
        return d.weekday() < 5 and d not in y.off

    def add_working_days(self, start: dt.date, n: int, *, paused: Iterable[Pause] = ()) -> Deadline:
        """The deadline of something due within n working days of start: start itself is not
        counted, the due day is the n-th working day after it.

        `paused` lists inclusive (first, last) date ranges whose working days do not count
        (Art. 38: time for testing, inspection, quarantine, appraisal or expert review). An open
        pause has no due date yet: pass it closed at the day it is looked at, or not at all."""
        if n < 0:
            raise InvalidInput(_("a deadline counts zero or more working days"), field="workingDays")
        pauses = sorted(paused)
        for first, last in pauses:
            if first > last:
                raise InvalidInput(_("a pause cannot end ({last}) before it begins ({first})", last=last, first=first), field="paused")
        if not pauses:
            cached = self._deadlines.get((start, n))
            if cached is not None:
                return cached
        day, counted, provisional = start, 0, False
        while counted < n:
            day += ONE_DAY
            y = self._year(day.year)
            provisional = provisional or not y.official
            if any(first <= day <= last for first, last in pauses):
                continue
            if self.is_working_day(day):
                counted += 1
        deadline = Deadline(day, provisional)
        if not pauses:
            if len(self._deadlines) >= _CACHE_MAX:  # bounded: API callers choose any date
                self._deadlines.clear()
            self._deadlines[(start, n)] = deadline
        return deadline

    def working_days_between(self, a: dt.date, b: dt.date) -> int:
        """Working days after a up to and including b: how many working days of a deadline
        counted from a have passed on b (negative when b is before a)."""
        if b < a:
            return -self.working_days_between(b, a)
        count, day = 0, a
        while day < b:
            day += ONE_DAY
            count += self.is_working_day(day)
        return count

    def covers(self, first: dt.date, last: dt.date) -> bool:
        """Whether every day from first to last lies in an officially scheduled year."""
        return all(self.is_official(y) for y in range(first.year, last.year + 1))

    def days(self, first: dt.date, last: dt.date) -> list[CalendarDay]:
        out, day = [], first
        while day <= last:
            out.append(self.day(day))
            day += ONE_DAY
        return out


def _span(years: tuple[int, ...]) -> str:
    if not years:
        return "no year"
    return f"{years[0]}-{years[-1]}" if len(years) > 1 else str(years[0])
