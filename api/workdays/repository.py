"""The calendar's tables (migrations/0002_working_calendar.sql). No commits here: the service
owns the transaction."""

from __future__ import annotations

import asyncpg

from .calendar import NamedDay, YearSchedule

# Any fixed 64-bit number: loads and seeds of the calendar take it, one at a time.
CALENDAR_LOCK = 7_310_902_412
CHANNEL = "credit_calendar"  # NOTIFY'd when a load commits; running servers reload

SELECT_YEARS = "SELECT year, source, loaded_by, loaded_at FROM calendar_years ORDER BY year"
SELECT_DAYS = "SELECT day, year, is_workday, name FROM calendar_days ORDER BY day"
SELECT_YEAR = "SELECT year, source, loaded_by, loaded_at FROM calendar_years WHERE year = $1"
DELETE_YEAR = "DELETE FROM calendar_years WHERE year = $1"  # its days go with it (cascade)
INSERT_YEAR = "INSERT INTO calendar_years (year, source, loaded_by) VALUES ($1, $2, $3)"
INSERT_DAYS = """
INSERT INTO calendar_days (day, year, is_workday, name)
SELECT d, $1, w, n FROM unnest($2::date[], $3::boolean[], $4::text[]) AS t (d, w, n)
"""


async def lock(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", CALENDAR_LOCK)


async def notify(conn: asyncpg.Connection, year: int) -> None:
    """Delivered when the transaction commits, never if it rolls back."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(year))


async def official_schedules(conn: asyncpg.Connection) -> list[YearSchedule]:
    years = await conn.fetch(SELECT_YEARS)
    days: dict[int, tuple[list[NamedDay], list[NamedDay]]] = {r["year"]: ([], []) for r in years}
    for d in await conn.fetch(SELECT_DAYS):
        days[d["year"]][1 if d["is_workday"] else 0].append(NamedDay(d["day"], d["name"]))
    return [
        YearSchedule(
            year=r["year"],
            holidays=tuple(days[r["year"]][0]),
            make_up_days=tuple(days[r["year"]][1]),
            official=True,
            source=r["source"],
            loaded_by=r["loaded_by"],
            loaded_at=r["loaded_at"],
        )
        for r in years
    ]


async def loaded_year(conn: asyncpg.Connection, year: int) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_YEAR, year)


async def loaded_years(conn: asyncpg.Connection) -> set[int]:
    return {r["year"] for r in await conn.fetch(SELECT_YEARS)}


async def delete_year(conn: asyncpg.Connection, year: int) -> None:
    await conn.execute(DELETE_YEAR, year)


async def insert_year(conn: asyncpg.Connection, schedule: YearSchedule, loaded_by: str) -> None:
    await conn.execute(INSERT_YEAR, schedule.year, schedule.source, loaded_by)
    entries = [(h, False) for h in schedule.holidays] + [(m, True) for m in schedule.make_up_days]
    await conn.execute(
        INSERT_DAYS,
        schedule.year,
        [e.day for e, _ in entries],
        [w for _, w in entries],
        [e.name for e, _ in entries],
    )
