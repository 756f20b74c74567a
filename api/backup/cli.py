"""`credit backup` and `credit restore`: Art. 34's backup, and its restore checked against the
audit trail's chain head recorded at backup time."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
from pathlib import Path

from ..config import Settings
from ..db import create_pool
from ..db_server import resolve_database_url
from .service import BackupError, restore_backup, take_backup


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else (
        settings.data_dir / "backups" / f"credit-{dt.datetime.now():%Y%m%dT%H%M%S}.dump")
    try:
        m = asyncio.run(take_backup(resolve_database_url(settings), out))
    except BackupError as e:
        print(f"backup failed: {e}")
        return 1
    print(f"backup: {out} ({m.bytes} bytes, sha256 {m.sha256})")
    print(f"manifest: {out.name}.manifest.json; chain head at backup: {m.chain_head or 'none (no seal yet)'}")
    return 0


async def _verify_restored(settings: Settings, dsn: str, head: str | None):
    from ..audit.verify import verify

    pool = await create_pool(dsn, audit_key=settings.audit_key, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            return await verify(conn, settings.audit_key, expect_head=head)
    finally:
        await pool.close()


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    archive = Path(args.archive)
    try:
        manifest = asyncio.run(restore_backup(archive, args.into))
    except BackupError as e:
        print(f"restore refused: {e}")
        return 1
    print(f"restored {archive.name} (taken {manifest.taken_at}, {len(manifest.migrations)} migrations)")
    restored = dataclasses.replace(settings, database_url=args.into)
    report = asyncio.run(_verify_restored(restored, args.into, manifest.chain_head))
    if report.ok:
        print(f"audit trail verified against the head recorded at backup ({manifest.chain_head}): "
              f"{report.rows_checked} entries, {report.seals_checked} seals")
        return 0
    print(f"RESTORED TRAIL DOES NOT VERIFY: {len(report.findings)} finding(s)")
    for f in report.findings[:20]:
        print(f"- [{f.what}] {f.message}")
    return 1


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("backup", help="dump the database with a manifest (Art. 34)")
    b.add_argument("--out", help="archive path (default: $CREDIT_DATA_DIR/backups/credit-<time>.dump)")
    b.set_defaults(run=_backup)
    r = sub.add_parser("restore", help="restore a backup into a new, empty database and verify its trail")
    r.add_argument("archive", help="the .dump file (its .manifest.json beside it)")
    r.add_argument("--into", required=True, metavar="DATABASE_URL", help="the empty target database")
    r.set_defaults(run=_restore)
