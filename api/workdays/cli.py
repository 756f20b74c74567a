"""`credit calendar load FILE` and `credit calendar show [YEAR]`: the data office loads a newly
published State Council holiday notice; anyone checks what a year's schedule is."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import sys
from pathlib import Path

from ..auth.principal import Principal
from ..config import Settings
from ..db import create_pool
from ..db_migrate import migrate
from ..db_server import resolve_database_url
from ..demo import DATA_OFFICE, ORGANISATIONS
from ..errors import InvalidInput
from ..i18n import _
from ..identifiers import IdentifierError, validate_uscc
from .calendar import CHINA, NamedDay, WorkCalendar, YearSchedule
from .files import read_schedule_file
from .service import load_year, read_calendar, seed_from_package

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def register(subparsers: argparse._SubParsersAction) -> None:
    calendar = subparsers.add_parser(
        "calendar", help="the working-day calendar (State Council holiday schedules)"
    )
    sub = calendar.add_subparsers(dest="calendar_command", required=True)
    load = sub.add_parser(
        "load",
        help="make a year official from its notice (CSV or YAML; format in README 'Working days')",
    )
    load.add_argument("file", type=Path)
    load.add_argument("--replace", action="store_true", help="replace a year already loaded")
    load.add_argument("--operator-name", required=True, help="your real name, for the audit trail")
    load.add_argument("--org", default=DATA_OFFICE, help="your organisation's USCC (default: the data office)")
    load.add_argument("--org-name", help="your organisation's name")
    load.set_defaults(run=run_load)
    show = sub.add_parser("show", help="a year's holidays and make-up days; without YEAR, the official years")
    show.add_argument("year", type=int, nargs="?")
    show.set_defaults(run=run_show)


def operator(args: argparse.Namespace) -> Principal:
    """The person at the terminal, as the audit trail records them."""
    name = (args.operator_name or "").strip()
    if not name:
        raise InvalidInput(_("--operator-name must give your real name"), field="operator-name")
    try:
        org = validate_uscc(args.org)
    except IdentifierError as e:
        raise InvalidInput(_("--org {org}: {e}", org=args.org, e=e), field="org", rule=e.rule) from e
    known = {code: org_name for code, org_name, _ in ORGANISATIONS}
    return Principal(
        user_id=getpass.getuser(),
        name=name,
        org_code=org,
        org_name=args.org_name or known.get(org),
        roles=("data_office",),
    )


async def _pool(settings: Settings):
    dsn = resolve_database_url(settings)
    await migrate(dsn, settings.migrations_dir)
    return await create_pool(dsn, audit_key=settings.audit_key, min_size=1, max_size=2)


def run_load(settings: Settings, args: argparse.Namespace) -> int:
    actor = operator(args)
    parsed = read_schedule_file(args.file)  # refused here, before any database work

    async def load():
        pool = await _pool(settings)
        try:
            await seed_from_package(pool)  # a fresh database gets the package's years first
            return await load_year(
                pool, parsed.schedule, actor, replace=args.replace,
                details={"file": args.file.name, "sha256": parsed.sha256},
            )
        finally:
            await pool.close()

    result = asyncio.run(load())
    for warning in parsed.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    replaced = f", replacing {result.replaced}" if result.replaced else ""
    print(
        f"loaded {result.year} from {args.file.name}{replaced}: {result.holidays} days off, "
        f"{result.make_up_days} make-up working day(s); deadlines touching {result.year} now "
        "count the official schedule"
    )
    for module, count in result.recomputed.items():
        print(f"recomputed {count} deadlines ({module})")
    return 0


def run_show(settings: Settings, args: argparse.Namespace) -> int:
    async def read() -> WorkCalendar:
        pool = await _pool(settings)
        try:
            return await read_calendar(pool)
        finally:
            await pool.close()

    calendar = asyncio.run(read())
    if args.year is None:
        for year in calendar.official_years:
            s = calendar.schedule(year)
            print(f"{year}  official  {s.source}  (loaded by {s.loaded_by} {_when(s.loaded_at)})")
        return 0
    print(format_schedule(calendar.schedule(args.year)))
    return 0


def _when(at: dt.datetime | None) -> str:
    return f"at {at.astimezone(CHINA):%Y-%m-%d %H:%M} Beijing time" if at else ""


def format_schedule(s: YearSchedule) -> str:
    if s.official:
        head = f"{s.year}: official, {s.source}, loaded by {s.loaded_by} {_when(s.loaded_at)}"
    else:
        head = (f"{s.year}: provisional, no official schedule loaded: weekends and the "
                f"{s.source}. Deadlines touching {s.year} are marked provisional.")
    lines = [head.rstrip(), "", "days off:"]
    lines += [f"  {_range(block)}  {block[0].name}" for block in _blocks(s.holidays)]
    lines += ["", "make-up working days (调休):"]
    lines += [f"  {_range([m])}  {m.name}" for m in s.make_up_days] or ["  none"]
    return "\n".join(lines)


def _blocks(days: tuple[NamedDay, ...]) -> list[list[NamedDay]]:
    """Consecutive days of one holiday, together."""
    out: list[list[NamedDay]] = []
    for d in days:
        last = out[-1][-1] if out else None
        if last and last.name == d.name and (d.day - last.day).days == 1:
            out[-1].append(d)
        else:
            out.append([d])
    return out


def _range(block: list[NamedDay]) -> str:
    first, last = block[0].day, block[-1].day
    if first == last:
        return f"{first} {WEEKDAYS[first.weekday()]}".ljust(36)
    span = f"{first} {WEEKDAYS[first.weekday()]} - {last} {WEEKDAYS[last.weekday()]}"
    return f"{span} ({len(block)})".ljust(36)
