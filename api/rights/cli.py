"""`credit rights overdue [--as-of DATE]`: the open steps of objections and repairs past their
due date, per role and organisation, as the credit office chases them (a cron job can run it)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt

from ..auth.principal import Principal
from ..catalog import Catalog
from ..config import Settings
from ..db import create_pool
from ..db_migrate import migrate
from ..db_server import resolve_database_url
from ..errors import InvalidInput
from ..i18n import _
from ..workdays.service import read_calendar
from .cases import Rights, overdue_steps
from .offices import Offices


def register(subparsers: argparse._SubParsersAction) -> None:
    rights = subparsers.add_parser("rights", help="objections, repairs, deletions (Art. 37-40)")
    sub = rights.add_subparsers(dest="rights_command", required=True)
    overdue = sub.add_parser("overdue", help="open steps past due, per role and organisation")
    overdue.add_argument("--as-of", help="YYYY-MM-DD (default: today, Beijing time)")
    overdue.set_defaults(run=run_overdue)


def run_overdue(settings: Settings, args: argparse.Namespace) -> int:
    try:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        raise InvalidInput(_("--as-of {as_of} is not a date YYYY-MM-DD", as_of=repr(args.as_of)), field="as-of") from None
    offices = Offices.from_env()
    office = Principal(user_id="cli", name="credit rights overdue", org_code=offices.credit_office,
                       org_name=None, roles=("credit_office",))

    async def report():
        dsn = resolve_database_url(settings)
        await migrate(dsn, settings.migrations_dir)
        pool = await create_pool(dsn, audit_key=settings.audit_key, min_size=1, max_size=2)
        try:
            env = Rights(pool=pool, catalog=Catalog(pool), calendar=await read_calendar(pool),
                         clock=lambda: dt.datetime.now(dt.UTC), offices=offices)
            return await overdue_steps(env, office, as_of)
        finally:
            await pool.close()

    r = asyncio.run(report())
    print(f"overdue on {r.as_of}: {len(r.steps)} step(s)")
    for c in r.by_organisation:
        print(f"  {c.role:<14} {c.org_code or '-':<20} {c.org_name or '':<24} {c.count}")
    for s in r.steps:
        print(f"  {s.number}  {s.stage:<22} {s.role:<14} due {s.due_on}"
              f"{' (provisional)' if s.provisional else ''}  {s.working_days_late} working day(s) late")
    return 0
