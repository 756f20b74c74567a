"""Due dates of the open steps (Art. 38, 39) in working days, and the steps overdue.

A due date is the n-th working day after the day its step was opened (that day not counted),
under the official calendar with its make-up days; a day in a year whose schedule is not loaded
makes it provisional. Loading that year recomputes every provisional due date of an open step
(`recompute_deadlines`, run by the calendar's load in its own transaction)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from ..workdays import Deadline, WorkCalendar

Pause = tuple[dt.date, dt.date]


def due(calendar: WorkCalendar, since: dt.date, days: int, pauses: Iterable[Pause] = ()) -> Deadline:
    """Art. 38 ¶3: working days inside a (closed) pause do not count."""
    return calendar.add_working_days(since, days, paused=list(pauses))


def pauses_of(value) -> tuple[Pause, ...]:
    """The closed pauses stored with a case (jsonb [[first, last], ...])."""
    if isinstance(value, str):
        value = json.loads(value)
    return tuple((dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in value or ())


def pauses_json(pauses: Iterable[Pause]) -> str:
    return json.dumps([[a.isoformat(), b.isoformat()] for a, b in pauses])


def is_overdue(today: dt.date, due_on: dt.date, paused_since: dt.date | None) -> bool:
    """Past due and not stopped in time: a pause that began after the deadline does not help
    (its days lie beyond the due date and were never counted)."""
    return today > due_on and (paused_since is None or paused_since > due_on)


OPEN_PROVISIONAL = """
SELECT id, stage_since, due_days, pauses, due_on, due_provisional
FROM rights_cases
WHERE closed_at IS NULL AND due_provisional AND stage_since <= make_date($1, 12, 31)
  AND extract(year FROM due_on) >= $1
"""
SET_DUE = "UPDATE rights_cases SET due_on = $2, due_provisional = $3 WHERE id = $1"


async def recompute_deadlines(conn: asyncpg.Connection, calendar: WorkCalendar, year: int) -> int:
    """Called by the calendar load (api/workdays/service.py, RECOMPUTE_MODULES) inside its
    transaction, once `year` is official: open steps whose provisional due date counted days
    of `year` are computed again. Returns how many changed."""
    changes = []
    for r in await conn.fetch(OPEN_PROVISIONAL, year):
        d = due(calendar, r["stage_since"], r["due_days"], pauses_of(r["pauses"]))
        if (d.due, d.provisional) != (r["due_on"], r["due_provisional"]):
            changes.append((r["id"], d.due, d.provisional))
    if changes:
        await conn.executemany(SET_DUE, changes)
    return len(changes)


@dataclass(frozen=True)
class OverdueStep:
    case_id: str
    number: str
    kind: str
    stage: str
    role: str
    org_code: str | None
    org_name: str | None
    since: dt.date
    due_on: dt.date
    provisional: bool
    working_days_late: int


@dataclass(frozen=True)
class OverdueCount:
    role: str
    org_code: str | None
    org_name: str | None
    count: int


@dataclass(frozen=True)
class OverdueReport:
    as_of: dt.date
    steps: list[OverdueStep]
    by_role: list[OverdueCount]  # org_code None
    by_organisation: list[OverdueCount]


def overdue_report(calendar: WorkCalendar, as_of: dt.date, rows: list) -> OverdueReport:
    """The open steps past their due date on `as_of`, oldest due first, counted per role and
    per organisation."""
    steps = [
        OverdueStep(
            case_id=str(r["id"]), number=r["number"], kind=r["kind"], stage=r["stage"],
            role=r["stage_role"], org_code=r["stage_org"], org_name=r["org_name"],
            since=r["stage_since"], due_on=r["due_on"], provisional=r["due_provisional"],
            working_days_late=calendar.working_days_between(r["due_on"], as_of),
        )
        for r in rows
        if is_overdue(as_of, r["due_on"], r["paused_since"])
    ]
    steps.sort(key=lambda s: (s.due_on, s.number))
    per_role: dict[str, int] = {}
    per_org: dict[tuple[str, str | None], tuple[str | None, int]] = {}
    for s in steps:
        per_role[s.role] = per_role.get(s.role, 0) + 1
        name, n = per_org.get((s.role, s.org_code), (s.org_name, 0))
        per_org[(s.role, s.org_code)] = (name, n + 1)
    return OverdueReport(
        as_of=as_of,
        steps=steps,
        by_role=[OverdueCount(role, None, None, n) for role, n in sorted(per_role.items())],
        by_organisation=[
            OverdueCount(role, org, name, n)
            for (role, org), (name, n) in sorted(per_org.items(), key=lambda e: (e[0][0], e[0][1] or ""))
        ],
    )
