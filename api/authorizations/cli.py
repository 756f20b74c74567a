"""`credit authorizations anomalies [--since DATE] --operator-name NAME`: the auditors' report
(api/authorizations/anomalies.py), and `credit authorizations use-summary`: tell subjects of the
uses of their authorizations since the last summary (a daily cron)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass

from ..auth.principal import Principal
from ..config import Settings
from ..db import create_pool
from ..db_migrate import migrate
from ..db_server import resolve_database_url
from ..errors import InvalidInput
from ..i18n import _
from .anomalies import anomalies, render
from .views import send_use_summaries


def register(subparsers: argparse._SubParsersAction) -> None:
    top = subparsers.add_parser("authorizations", help="written authorizations (Art. 19)")
    sub = top.add_subparsers(dest="authorizations_command", required=True)
    report = sub.add_parser("anomalies", help="bursts, stale pending, quick archived uses, disputes")
    report.add_argument("--since", help="YYYY-MM-DD (default: 30 days ago)")
    report.add_argument("--operator-name", required=True, help="the auditor running the report")
    report.add_argument("--org", help="the auditor's organisation (USCC)")
    report.set_defaults(run=run_anomalies)
    summary = sub.add_parser("use-summary", help="notify subjects of new uses of their authorizations")
    summary.set_defaults(run=run_use_summary)


async def _with_pool(settings: Settings, work):
    dsn = resolve_database_url(settings)
    await migrate(dsn, settings.migrations_dir)
    pool = await create_pool(dsn, audit_key=settings.audit_key, min_size=1, max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


def run_anomalies(settings: Settings, args: argparse.Namespace) -> int:
    try:
        since = (dt.datetime.combine(dt.date.fromisoformat(args.since), dt.time(), dt.UTC)
                 if args.since else None)
    except ValueError:
        raise InvalidInput(_("--since {since} is not a date YYYY-MM-DD", since=repr(args.since)), field="since") from None
    auditor = Principal(user_id=f"os:{getpass.getuser()}", name=args.operator_name,
                        org_code=args.org, org_name=None, roles=("auditor",))
    report = asyncio.run(_with_pool(
        settings, lambda pool: anomalies(pool, auditor, settings.authorizations, since=since)))
    print("\n".join(render(report)))
    return 0


def run_use_summary(settings: Settings, args: argparse.Namespace) -> int:
    sent = asyncio.run(_with_pool(settings, send_use_summaries))
    print(f"use summaries sent: {sent}")
    return 0
