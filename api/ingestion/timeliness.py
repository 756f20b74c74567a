"""Art. 13, 15: 双公示 records reach the platform within 7 working days of the decision; late
records are stored and marked late; timeliness is monitored per provider and per county.

A deadline that counts a day of a year whose official schedule is not loaded is provisional;
loading that year recomputes it (`recompute_deadlines`, run by the calendar's load)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from ..auth.principal import Principal
from ..errors import Forbidden, InvalidInput
from ..i18n import _

MONITORS = ("data_office", "credit_office", "auditor")
MAX_PERIOD_DAYS = 366 * 3
LATE_LIST_MAX = 200


class Deadlines:
    """Art. 13 due dates from a working-day calendar, cached per (decision date, days)."""

    def __init__(self, calendar):
        self.calendar = calendar
        self._cache: dict[tuple[dt.date, int], tuple[dt.date, bool]] = {}

    def due(self, decided_on: dt.date, working_days: int | None) -> tuple[dt.date, bool] | None:
        """(due date, provisional), or None for an item without a deadline."""
        if not working_days or self.calendar is None:
            return None
        found = self._cache.get((decided_on, working_days))
        if found is None:
            d = self.calendar.add_working_days(decided_on, working_days)
            found = self._cache[(decided_on, working_days)] = (d.due, d.provisional)
        return found


RECOMPUTE_CANDIDATES = """
SELECT r.id, r.decided_on, r.received_on, r.due_on, r.due_provisional, e.deadline_working_days
FROM records r JOIN catalog_entries e ON e.year = r.catalog_year AND e.code = r.item_code
WHERE r.due_on IS NOT NULL
  AND r.due_on >= make_date($1::int, 1, 1) AND r.decided_on <= make_date($1::int, 12, 31)
"""
SET_DEADLINE = """
UPDATE records SET due_on = $2, due_provisional = $3,
    late = CASE WHEN received_on IS NULL THEN NULL ELSE received_on > $2 END
WHERE id = $1
"""


async def recompute_deadlines(conn: asyncpg.Connection, calendar, year: int) -> int:
    """Called by the calendar load (api/workdays) in its transaction once `year` is official (or
    its schedule replaced): due dates that counted days of `year` are computed again, and with
    them whether the record was late."""
    rows = await conn.fetch(RECOMPUTE_CANDIDATES, year)
    changes = []
    for r in rows:
        d = calendar.add_working_days(r["decided_on"], r["deadline_working_days"])
        if (d.due, d.provisional) != (r["due_on"], r["due_provisional"]):
            changes.append((r["id"], d.due, d.provisional))
    if changes:
        await conn.executemany(SET_DEADLINE, changes)
    return len(changes)


@dataclass(frozen=True)
class TimelinessRow:
    provider_org: str | None
    provider_name: str | None
    county: str | None
    received: int
    with_deadline: int
    on_time: int
    late: int
    provisional: int

    @property
    def on_time_rate(self) -> float | None:
        return None if not self.with_deadline else self.on_time / self.with_deadline


@dataclass(frozen=True)
class LateRecord:
    record_id: str
    provider_org: str
    item_code: str
    source_ref: str
    decided_on: dt.date
    received_on: dt.date
    due_on: dt.date
    provisional: bool


@dataclass(frozen=True)
class TimelinessReport:
    since: dt.date
    until: dt.date
    providers: list[TimelinessRow]
    counties: list[TimelinessRow]
    late_records: list[LateRecord]


REPORT = """
SELECT r.provider_org, o.name AS provider_name, o.division_code AS county,
       grouping(r.provider_org) AS by_county,
       count(*) AS received,
       count(*) FILTER (WHERE r.late IS NOT NULL) AS with_deadline,
       count(*) FILTER (WHERE r.late = false) AS on_time,
       count(*) FILTER (WHERE r.late) AS late,
       count(*) FILTER (WHERE r.late IS NOT NULL AND r.due_provisional) AS provisional
FROM records r JOIN organisations o ON o.code = r.provider_org
WHERE r.received_on BETWEEN $1 AND $2 AND ($3::text IS NULL OR r.provider_org = $3)
GROUP BY GROUPING SETS ((r.provider_org, o.name, o.division_code), (o.division_code))
ORDER BY by_county, county, r.provider_org
"""
LATE = """
SELECT id, provider_org, item_code, source_ref, decided_on, received_on, due_on, due_provisional
FROM records
WHERE received_on BETWEEN $1 AND $2 AND late AND ($3::text IS NULL OR provider_org = $3)
ORDER BY received_on, provider_org, source_ref
LIMIT $4
"""


async def timeliness_report(
    pool: asyncpg.Pool, principal: Principal, since: dt.date, until: dt.date
) -> TimelinessReport:
    """Art. 15: per provider and per county (the division of the provider organisation),
    records received in [since, until], how many had a deadline, the on-time rate, late ones.
    The data office, credit office and auditors see all; a provider sees its own."""
    if any(principal.has(r) for r in MONITORS):
        only = None
    elif principal.has("provider") and principal.org_code:
        only = principal.org_code
    else:
        raise Forbidden(_("timeliness is monitored by the data office and the credit office (Art. 15)"),
                        rule="monitor_role")
    if until < since:
        raise InvalidInput(_("until ({until}) is before since ({since})", until=until, since=since), field="until", rule="range")
    if (until - since).days > MAX_PERIOD_DAYS:
        raise InvalidInput(_("a period of at most three years"), field="until", rule="range")
    async with pool.acquire() as conn:
        rows = await conn.fetch(REPORT, since, until, only)
        late = await conn.fetch(LATE, since, until, only, LATE_LIST_MAX)
    providers, counties = [], []
    for r in rows:
        row = TimelinessRow(
            provider_org=None if r["by_county"] else r["provider_org"],
            provider_name=None if r["by_county"] else r["provider_name"],
            county=r["county"],
            received=r["received"],
            with_deadline=r["with_deadline"],
            on_time=r["on_time"],
            late=r["late"],
            provisional=r["provisional"],
        )
        (counties if r["by_county"] else providers).append(row)
    return TimelinessReport(
        since=since,
        until=until,
        providers=providers,
        counties=counties,
        late_records=[
            LateRecord(
                record_id=str(r["id"]), provider_org=r["provider_org"], item_code=r["item_code"],
                source_ref=r["source_ref"], decided_on=r["decided_on"], received_on=r["received_on"],
                due_on=r["due_on"], provisional=r["due_provisional"],
            )
            for r in late
        ],
    )
