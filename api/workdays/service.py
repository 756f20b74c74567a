"""The calendar as the platform keeps it: official schedules in the database, seeded from the
chinesecalendar package and extended by the data office with each newly published State
Council notice; held in memory by every running server, which reloads it when a load commits."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from ..audit.trail import record_act
from ..auth.principal import Principal
from ..db import transaction
from ..demo import DATA_OFFICE, ORGANISATIONS
from ..errors import DomainError, InvalidInput
from ..i18n import _
from ..listener import Listener
from . import repository
from .calendar import CHINA, CalendarDay, Deadline, WorkCalendar, YearSchedule
from .package import package_schedules, package_source

log = logging.getLogger("credit.workdays")

MAX_WORKING_DAYS = 366  # a deadline asked through the API
MAX_RANGE_DAYS = 366  # days listed at once through the API

# The platform itself, when it seeds the calendar from the package at start-up.
SYSTEM = Principal(
    user_id="system",
    name="platform start-up",
    org_code=DATA_OFFICE,
    org_name=next(name for code, name, _ in ORGANISATIONS if code == DATA_OFFICE),
    roles=("data_office",),
)

# Modules with `async def recompute_deadlines(conn, calendar, year) -> int`: each runs inside a
# load's transaction with the new calendar, so stored provisional due dates touching `year` are
# recomputed together with the load, or not at all. Returns how many it changed.
RECOMPUTE_MODULES: list[str] = ["api.ingestion.timeliness"]


class YearAlreadyLoaded(DomainError):
    code = "CALENDAR_YEAR_LOADED"


@dataclass(frozen=True)
class LoadResult:
    year: int
    holidays: int
    make_up_days: int
    replaced: str | None  # the source of the schedule replaced, if any
    recomputed: dict[str, int]


async def read_calendar(pool: asyncpg.Pool) -> WorkCalendar:
    """The calendar as the database holds it now (one consistent snapshot)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return WorkCalendar(await repository.official_schedules(conn))


async def seed_from_package(pool: asyncpg.Pool) -> list[int]:
    """Insert every year the chinesecalendar package covers that the database lacks. A year
    already there (from an earlier seed or an administrator's file) is never touched, so a
    later package release only adds its new years."""
    schedules = package_schedules()
    async with transaction(pool) as conn:
        if {s.year for s in schedules} <= await repository.loaded_years(conn):
            return []
        await repository.lock(conn)  # two servers starting at once seed once
        have = await repository.loaded_years(conn)
        missing = [s for s in schedules if s.year not in have]
        for s in missing:
            await repository.insert_year(conn, s, SYSTEM.user_id or "system")
        years = [s.year for s in missing]
        await record_act(
            conn, SYSTEM, kind="calendar", operation="calendar.seed",
            details={"source": package_source(), "years": years},
        )
    log.info("working-day calendar seeded from %s: %s", package_source(), years)
    return years


async def open_calendar(pool: asyncpg.Pool) -> WorkCalendar:
    """At start-up: seed what the package adds, then read the calendar into memory."""
    await seed_from_package(pool)
    return await read_calendar(pool)


async def load_year(
    pool: asyncpg.Pool,
    schedule: YearSchedule,
    actor: Principal,
    *,
    replace: bool = False,
    details: dict[str, Any] | None = None,
) -> LoadResult:
    """Make a year official (Art. 13, 38, 39 deadlines then count its notice). Refused if the
    year is loaded already, unless replace. The act goes into the audit trail in the same
    transaction; running servers reload when it commits."""
    if not schedule.official:
        raise ValueError("only an official schedule can be loaded")
    year = schedule.year
    async with transaction(pool) as conn:
        await repository.lock(conn)
        previous = await repository.loaded_year(conn, year)
        if previous is not None and not replace:
            raise YearAlreadyLoaded(
                _("{year} is already loaded ({source}, by {loaded_by} at {loaded_at} Beijing time); load it with replace (credit calendar load --replace) to change it", year=year, source=previous['source'], loaded_by=previous['loaded_by'], loaded_at=f"{previous['loaded_at'].astimezone(CHINA):%Y-%m-%d %H:%M}"),
                field="year",
                rule="calendar_year_loaded",
            )
        if previous is not None:
            await repository.delete_year(conn, year)
        await repository.insert_year(conn, schedule, actor.user_id or "unknown")
        calendar = WorkCalendar(await repository.official_schedules(conn))
        recomputed = {}
        for module in RECOMPUTE_MODULES:
            hook = importlib.import_module(module).recompute_deadlines
            recomputed[module] = await hook(conn, calendar, year)
        result = LoadResult(
            year=year,
            holidays=len(schedule.holidays),
            make_up_days=len(schedule.make_up_days),
            replaced=previous["source"] if previous is not None else None,
            recomputed=recomputed,
        )
        await record_act(
            conn, actor, kind="calendar", operation="calendar.load",
            details={
                **(details or {}),
                "year": year,
                "source": schedule.source,
                "holidays": [h.day.isoformat() for h in schedule.holidays],
                "make_up_days": [m.day.isoformat() for m in schedule.make_up_days],
                "replaced": result.replaced,
                "recomputed": recomputed,
            },
        )
        await repository.notify(conn, year)
    return result


# What the API offers anyone (schema/workdays.py): limits on what one request may ask.


def deadline(calendar: WorkCalendar, start: dt.date, working_days: int) -> Deadline:
    if not 0 <= working_days <= MAX_WORKING_DAYS:
        raise InvalidInput(
            _("workingDays must be from 0 to {max_working_days}", max_working_days=MAX_WORKING_DAYS), field="workingDays", rule="range"
        )
    return calendar.add_working_days(start, working_days)


def days(calendar: WorkCalendar, first: dt.date, last: dt.date) -> list[CalendarDay]:
    if last < first:
        raise InvalidInput(_("to ({last}) is before from ({first})", last=last, first=first), field="to", rule="range")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(_("at most {max_range_days} days at once", max_range_days=MAX_RANGE_DAYS), field="to", rule="range")
    return calendar.days(first, last)


class HasCalendar(Protocol):
    pool: asyncpg.Pool
    calendar: WorkCalendar


class CalendarFollower:
    """Keeps `state.calendar` current in a running server: every committed load NOTIFYs, and
    the follower reads the calendar again (reloads run one at a time, each reading the latest)."""

    def __init__(self, state: HasCalendar):
        self.state = state
        self.listener: Listener | None = None
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task] = set()

    async def start(self, dsn: str) -> None:
        """Listen for loads; after a lost connection (a database restart) listen again and read
        the calendar once more, since a load may have been missed meanwhile."""
        self.listener = Listener(dsn, repository.CHANNEL, on_notify=self._notified,
                                 catch_up=self._reload_logged, name="the calendar follower")
        await self.listener.start()

    def _notified(self, payload: str) -> None:
        task = asyncio.get_running_loop().create_task(self._reload_logged())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reload_logged(self) -> None:
        try:
            await self.reload()
        except Exception:  # keep serving with the calendar we have
            log.exception("could not reload the working-day calendar")

    async def reload(self) -> WorkCalendar:
        async with self._lock:
            calendar = await read_calendar(self.state.pool)
            self.state.calendar = calendar
        async with self._changed:
            self._changed.notify_all()
        log.info("working-day calendar reloaded: official years %s", calendar.official_years)
        return calendar

    async def wait_for(self, predicate: Callable[[WorkCalendar], bool], timeout: float = 10) -> WorkCalendar:
        """Wait until the calendar in use satisfies predicate (e.g. a load has been picked up)."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: predicate(self.state.calendar)), timeout
            )
        return self.state.calendar

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.listener is not None:
            await self.listener.close()


@asynccontextmanager
async def follow_calendar(dsn: str, state: HasCalendar) -> AsyncIterator[CalendarFollower]:
    follower = CalendarFollower(state)
    await follower.start(dsn)
    try:
        yield follower
    finally:
        await follower.close()
