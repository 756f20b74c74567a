"""The database: where it is (DATABASE_URL or an embedded PostgreSQL), the pool, and the
migration runner."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from .config import Settings
from .guard.errors import busy

log = logging.getLogger("credit.db")

# Any fixed 64-bit number: every process that migrates takes this advisory lock first, so two
# processes starting at once apply each migration exactly once.
_MIGRATION_LOCK = 7_310_902_411
_MIGRATION_NAME = re.compile(r"^\d{4}_[A-Za-z0-9_\-]+\.sql$")


class MigrationError(Exception):
    pass


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when given; otherwise start (or reuse) an embedded PostgreSQL whose data
    lives in `<data_dir>/pgdata` and survives restarts."""
    if settings.database_url:
        return settings.database_url
    return embedded_database_url(settings.data_dir / "pgdata", keep_running=True)


def embedded_database_url(path: Path, *, keep_running: bool) -> str:
    import pgserver  # imported here: only the embedded path needs it

    path.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(path, cleanup_mode=None if keep_running else "stop")
    return server.get_uri()


class CreditConnection(asyncpg.Connection):
    """A connection of the platform's pool: it carries the audit trail's mac key, so whoever
    writes a trail row through it signs it (api/audit/integrity.py)."""

    audit_key: bytes = b""


class BoundedPool(asyncpg.Pool):
    """A pool whose acquire waits at most `acquire_timeout` seconds (unless the caller gives its
    own timeout); past it the caller gets `Busy` (code BUSY, retryable), never an endless wait."""

    __slots__ = ("acquire_timeout",)

    def acquire(self, *, timeout: float | None = None):
        return _BoundedAcquire(super().acquire(timeout=timeout or self.acquire_timeout))


class _BoundedAcquire:
    def __init__(self, inner):
        self.inner = inner

    async def __aenter__(self):
        try:
            return await self.inner.__aenter__()
        except TimeoutError:
            raise busy("数据库连接繁忙，请稍后重试 (no database connection free in time)") from None

    async def __aexit__(self, *exc):
        return await self.inner.__aexit__(*exc)

    def __await__(self):
        return self.__aenter__().__await__()


async def create_pool(
    dsn: str,
    *,
    audit_key: bytes,
    min_size: int = 2,
    max_size: int = 10,
    app_role: bool = True,
    acquire_timeout: float | None = None,
    lock_timeout_ms: int | None = None,
    statement_timeout_ms: int | None = None,
    application_name: str | None = None,
) -> asyncpg.Pool:
    """The pool. With app_role, every connection acts as `credit_app`, which may only read and
    insert audit rows (Art. 41); owner connections (app_role=False) are for upkeep and purge."""

    async def init(conn: CreditConnection) -> None:
        conn.audit_key = audit_key
        for typ in ("jsonb", "json"):
            await conn.set_type_codec(
                typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )
        if app_role:
            await conn.execute("SET ROLE credit_app")

    if not audit_key:
        raise ValueError("the pool needs the audit trail's key")
    timeouts = {k: f"{v}ms" for k, v in (("lock_timeout", lock_timeout_ms),
                                          ("statement_timeout", statement_timeout_ms)) if v}
    if application_name:  # tells the pools apart in pg_stat_activity
        timeouts["application_name"] = application_name
    pool = BoundedPool(
        dsn, min_size=min_size, max_size=max_size, max_queries=50000,
        max_inactive_connection_lifetime=300.0, init=init, loop=None,
        connection_class=CreditConnection, record_class=asyncpg.Record,
        command_timeout=30, server_settings=timeouts or None,
    )
    pool.acquire_timeout = acquire_timeout
    return await pool


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One unit of work: a connection inside a transaction, committed when the block ends
    without an exception, rolled back otherwise."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn


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
    conn = await asyncpg.connect(dsn)
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
