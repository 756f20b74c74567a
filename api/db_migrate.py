"""The migration runner: migrations/NNNN_*.sql applied in order, each once, under an advisory
lock; an applied file that was edited since stops start-up."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from .db_server import connect

log = logging.getLogger("credit.db")

# Any fixed 64-bit number: every process that migrates takes this advisory lock first, so two
# processes starting at once apply each migration exactly once.
_MIGRATION_LOCK = 7_310_902_411
_MIGRATION_NAME = re.compile(r"^\d{4}_[A-Za-z0-9_\-]+\.sql$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        if not _MIGRATION_NAME.match(path.name):
            raise MigrationError(
                f"{path.name}: migration files are named NNNN_description.sql (four digits)"
            )
        version = path.name[:4]
        found.append(Migration(version, path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number in {directory}")
    return found


async def migrate(dsn: str, directory: Path) -> list[str]:
    """Apply pending migrations in order, each in its own transaction, under an advisory lock.
    An already-applied file whose content changed stops start-up: migrations are never edited
    once applied; a new numbered file carries the change."""
    migrations = load_migrations(directory)
    conn = await connect(dsn)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version text PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
            applied = {r["version"]: r for r in rows}
            for m in migrations:
                done = applied.get(m.version)
                if done is not None:
                    if done["checksum"] != m.checksum:
                        raise MigrationError(
                            f"migration {m.name} was edited after it was applied "
                            f"(recorded checksum {done['checksum'][:12]}, file now "
                            f"{m.checksum[:12]}). Restore the file and put the change in a new "
                            "numbered migration."
                        )
                    continue
                async with conn.transaction():
                    try:
                        await conn.execute(m.sql)
                    except asyncpg.PostgresError as e:
                        raise MigrationError(f"migration {m.name} failed and was rolled back: {e}") from e
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1,$2,$3)",
                        m.version,
                        m.name,
                        m.checksum,
                    )
                log.info("applied migration %s", m.name)
                applied_now.append(m.name)
            unknown = set(applied) - {m.version for m in migrations}
            if unknown:
                raise MigrationError(
                    f"the database has migrations {sorted(unknown)} that this code does not know; "
                    "it is newer than this checkout"
                )
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    finally:
        await conn.close()
    return applied_now
