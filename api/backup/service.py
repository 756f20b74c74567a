"""Art. 34: back up the platform's database and restore it, checked.

A backup is a `pg_dump` archive (custom format: one consistent snapshot, readable by any newer
PostgreSQL, restorable table by table) with a manifest beside it: the archive's SHA-256, when it
was taken, the migrations it holds, and the audit trail's chain head (`SEQ:MAC` of the newest
seal inside the snapshot). A restore refuses an archive whose digest differs from its manifest
and a target database that already holds tables, restores into it, and then verifies the trail
against the manifest's head, so a backup that cannot reproduce the trail it was taken with is
reported rather than trusted. The audit and token keys are not in the database: they are kept
(and backed up) apart, and a restore needs the same audit key to verify."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from ..audit.integrity import head_of

MANIFEST_SUFFIX = ".manifest.json"
PG_TIMEOUT_SECONDS = 3600


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason in the operator's terms."""


@dataclass(frozen=True)
class Manifest:
    archive: str
    sha256: str
    bytes: int
    taken_at: str
    database: str
    server_version: str
    migrations: list[str]
    chain_head: str | None

    @classmethod
    def read(cls, archive: Path) -> Manifest:
        path = manifest_path(archive)
        if not path.exists():
            raise BackupError(f"{path.name} 不存在：没有清单的备份不能恢复（the manifest is missing）")
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def manifest_path(archive: Path) -> Path:
    return archive.with_name(archive.name + MANIFEST_SUFFIX)


def pg_tool(name: str) -> str:
    """The newest client tool at hand: pgserver's (PostgreSQL 16, always installed with the
    platform) before one on PATH; pg_dump must not be older than the server it reads."""
    import pgserver

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
    if bundled.exists():
        return str(bundled)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found (install the PostgreSQL client tools)")
    return found


def _run(argv: list[str], dsn: str) -> None:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    done = subprocess.run(argv + ["--dbname", dsn], env=env, capture_output=True, text=True,
                          timeout=PG_TIMEOUT_SECONDS, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-2000:]}")


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


async def take_backup(dsn: str, out: Path) -> Manifest:
    """Dump the database into `out` and write its manifest. The chain head is read before the
    dump starts, so the dump's snapshot holds that seal."""
    conn = await asyncpg.connect(dsn)
    try:
        seal = await conn.fetchrow("SELECT seq, mac FROM audit_seals ORDER BY seq DESC LIMIT 1")
        migrations = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations ORDER BY version")]
        version = await conn.fetchval("SHOW server_version")
        database = await conn.fetchval("SELECT current_database()")
    finally:
        await conn.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    _run([pg_tool("pg_dump"), "--format=custom", "--compress=6", "--file", str(partial)], dsn)
    partial.replace(out)  # a backup appears whole or not at all
    manifest = Manifest(
        archive=out.name, sha256=_digest(out), bytes=out.stat().st_size,
        taken_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), database=database,
        server_version=version, migrations=migrations,
        chain_head=head_of(seal["seq"], bytes(seal["mac"])) if seal else None,
    )
    manifest_path(out).write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


async def restore_backup(archive: Path, target_dsn: str) -> Manifest:
    """Restore `archive` into the empty database `target_dsn` after checking its digest. The
    roles the archive grants to are made when the target's server lacks them."""
    manifest = Manifest.read(archive)
    if _digest(archive) != manifest.sha256:
        raise BackupError(f"{archive.name} 的摘要与清单不符：备份文件已损坏或被改动（SHA-256 differs from the manifest）")
    conn = await asyncpg.connect(target_dsn)
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')")
        if tables:
            name = urlsplit(target_dsn).path.lstrip("/")
            raise BackupError(f"目标数据库 {name} 不是空库（{tables} 张表）：只恢复到新建的空数据库 "
                              "(restore only into a new, empty database)")
        await conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'credit_app') "
            "THEN CREATE ROLE credit_app NOLOGIN; END IF; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    finally:
        await conn.close()
    _run([pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", str(archive)], target_dsn)
    return manifest
