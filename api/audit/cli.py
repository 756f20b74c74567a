"""`credit audit ...`: seal, verify, purge, maintain, repair-partitions. Run `credit audit
maintain` daily (it makes partitions ahead, seals, and purges what Art. 21 lets go); see README
"The audit trail"."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json

import asyncpg

from ..auth.principal import Principal
from ..config import Settings
from ..db import create_pool
from ..db_migrate import migrate
from ..db_server import resolve_database_url
from .integrity import seal
from .records_check import register as register_records
from .records_check import verify_records
from .upkeep import PartitionProblem, ensure_partitions, purge_expired, reattach
from .verify import verify


def _operator(args: argparse.Namespace) -> Principal:
    from ..demo import DATA_OFFICE

    return Principal(
        user_id=f"os:{getpass.getuser()}",
        name=args.operator_name,
        org_code=args.org or DATA_OFFICE,
        org_name=args.org_name,
        roles=("data_office",),
    )


async def _with_db(settings: Settings, work):
    dsn = resolve_database_url(settings)
    await migrate(dsn, settings.migrations_dir)
    pool = await create_pool(dsn, audit_key=settings.audit_key, min_size=1, max_size=2)
    owner = await asyncpg.connect(dsn)
    try:
        return await work(dsn, pool, owner)
    finally:
        await owner.close()
        await pool.close()


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    async def work(dsn, pool, owner):
        async with pool.acquire() as conn:
            return await verify(
                conn, settings.audit_key, expect_head=args.expect_head,
                window=dt.timedelta(seconds=settings.audit_seal_window_seconds),
            )

    report = asyncio.run(_with_db(settings, work))
    records_ok = verify_records(settings, args.show)  # records, versions, tombstones, subjects
    print(f"checked {report.rows_checked} entries, {report.seals_checked} seals, "
          f"{report.partitions_purged} purged partitions; {report.unsealed_rows} entries not "
          "sealed yet")
    if report.head:
        print(f"chain head: {report.head}  (keep it outside the database; pass it to the next "
              "verify as --expect-head)")
    if report.ok:
        print("audit trail verified: no entry altered, removed or inserted")
        return 0 if records_ok else 1
    first = report.findings[0]
    print(f"AUDIT TRAIL BROKEN: {len(report.findings)} finding(s); first: {first.message}")
    for f in report.findings[: args.show]:
        print(f"- [{f.what}] {f.message}")
    return 1


def _repair(settings: Settings, args: argparse.Namespace) -> int:
    """Re-attach detached month partitions (or set aside those that cannot be), then make the
    months the platform keeps ready. Runs as the owner."""

    async def work(dsn, pool, owner):
        done = await reattach(owner, set_aside=args.set_aside)
        made = await ensure_partitions(dsn)
        return done + ([f"made {made} month partition(s)"] if made else [])

    try:
        done = asyncio.run(_with_db(settings, work))
    except PartitionProblem as e:
        print(f"credit: {e}")
        return 1
    print("\n".join(done) if done else "audit partitions: nothing to repair")
    return 0


def _seal(settings: Settings, args: argparse.Namespace) -> int:
    async def work(dsn, pool, owner):
        async with pool.acquire() as conn:
            return await seal(conn, settings.audit_key)

    made = asyncio.run(_with_db(settings, work))
    print(f"sealed {sum(s['row_count'] for s in made)} entries in {len(made)} seal(s)")
    return 0


def _purge(settings: Settings, args: argparse.Namespace, *, maintain: bool = False) -> int:
    today = dt.date.fromisoformat(args.today) if args.today else None

    async def work(dsn, pool, owner):
        if maintain:
            made = await ensure_partitions(dsn)
            print(f"partitions made ahead: {made}")
        async with pool.acquire() as conn:
            return await purge_expired(owner, conn, settings.audit_key, _operator(args), today=today)

    done = asyncio.run(_with_db(settings, work))
    print(json.dumps({"purged": [p.__dict__ for p in done]}, ensure_ascii=False))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="the audit trail: verify, seal, purge, maintain")
    cmds = audit.add_subparsers(dest="audit_command", required=True)
    v = cmds.add_parser("verify", help="report the first altered, removed or inserted entry")
    v.add_argument("--show", type=int, default=20, help="findings to list")
    v.add_argument(
        "--expect-head", metavar="SEQ:MAC",
        help="a chain head printed by an earlier verify: it must still be there, unchanged",
    )
    v.set_defaults(run=_verify)
    cmds.add_parser("seal", help="seal committed entries now").set_defaults(run=_seal)
    r = cmds.add_parser(
        "repair-partitions",
        help="re-attach detached month partitions of the trail and make the months ahead",
    )
    r.add_argument(
        "--set-aside", action="store_true",
        help="rename a detached table that cannot be re-attached as it is, and make the month anew",
    )
    r.set_defaults(run=_repair)
    register_records(cmds)
    for name, maintain in (("purge", False), ("maintain", True)):
        p = cmds.add_parser(
            name,
            help="drop expired three-year partitions (Art. 21)" if not maintain
            else "daily upkeep: partitions ahead, seal, purge",
        )
        p.add_argument("--operator-name", required=True, help="who runs it (logged)")
        p.add_argument("--org", help="operator's organisation code (default: the data office)")
        p.add_argument("--org-name", default="沧州市大数据服务中心")
        p.add_argument("--today", help="YYYY-MM-DD, to purge as of another day")
        p.set_defaults(run=lambda s, a, m=maintain: _purge(s, a, maintain=m))
