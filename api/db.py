"""The database: where it is (DATABASE_URL or an embedded PostgreSQL), the pool, and the
migration runner."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

from .config import Settings
from .guard.errors import busy
from .i18n import _

log = logging.getLogger("credit.db")

# Any fixed 64-bit number: every process that migrates takes this advisory lock first, so two
# processes starting at once apply each migration exactly once.
_MIGRATION_LOCK = 7_310_902_411
_MIGRATION_NAME = re.compile(r"^\d{4}_[A-Za-z0-9_\-]+\.sql$")


# The application's own login (migrations/0007): not the owner, not a superuser, a member of no
# role. DATABASE_URL is the owner's; CREDIT_APP_DATABASE_URL, when set, is the app's login.
APP_ROLE = "credit_app"
APP_LOGIN_ENV = "CREDIT_APP_DATABASE_URL"


class MigrationError(Exception):
    pass


class DatabaseUnreachable(Exception):
    """No connection to the database could be made (wrong address, server down, refused login)."""


# what connecting raises when the server cannot be reached or refuses the login: `credit` says
# so in one line naming DATABASE_URL (password hidden) and exits 2
UNREACHABLE = (
    DatabaseUnreachable, ConnectionError, TimeoutError, socket.gaierror,
    asyncpg.PostgresConnectionError, asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
)


def unreachable(error: BaseException) -> str:
    dsn = os.environ.get("DATABASE_URL")
    where = f"DATABASE_URL={_hide_password(dsn)}" if dsn else "the embedded database"
    reason = error.__cause__ if isinstance(error, DatabaseUnreachable) and error.__cause__ else error
    return (f"{where}: cannot connect ({type(reason).__name__}: {reason}); expected a running "
            "PostgreSQL reachable at that address that accepts that login")


def _hide_password(dsn: str) -> str:
    parts = urlsplit(dsn)
    user, at, host = parts.netloc.rpartition("@")
    if ":" in user:
        user = user.split(":", 1)[0] + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}{at}{host}"))


async def connect(dsn: str, **kwargs) -> asyncpg.Connection:
    """A connection, or DatabaseUnreachable saying why there is none."""
    try:
        return await asyncpg.connect(dsn, **kwargs)
    except (OSError, *UNREACHABLE[4:]) as e:
        raise DatabaseUnreachable(str(e)) from e


class LoginError(Exception):
    """The app's database login is missing or could do more than the app may."""


def app_login_dsn(owner_dsn: str, explicit: str | None = None) -> str:
    """The DSN the app's pool logs in with: `explicit`, else CREDIT_APP_DATABASE_URL, else the
    owner's DSN with user credit_app and no password (local trust authentication, as the
    embedded server and a development PostgreSQL have)."""
    explicit = explicit or os.environ.get(APP_LOGIN_ENV)
    if explicit:
        return explicit
    parts = urlsplit(owner_dsn)
    host = parts.netloc.rpartition("@")[2]
    query = "&".join(
        p for p in parts.query.split("&") if p and not p.startswith(("user=", "password="))
    )
    return urlunsplit(parts._replace(netloc=f"{APP_ROLE}@{host}", query=query))


def record_mac_key(audit_key: bytes) -> bytes:
    """The key of the records' macs, derived from the audit key: it is handed to the app's own
    database sessions (the signing triggers of migration 0007), the audit key itself never."""
    return hmac.new(audit_key, b"credit records mac v1", hashlib.sha256).digest()


def signing_settings(audit_key: bytes) -> dict[str, str]:
    """HMAC's padded keys (RFC 2104) as startup settings of the session: they survive the
    pool's RESET ALL, and they are not in any statement's text."""
    key = record_mac_key(audit_key).ljust(64, b"\0")
    return {
        "credit.mac_inner": bytes(b ^ 0x36 for b in key).hex(),
        "credit.mac_outer": bytes(b ^ 0x5C for b in key).hex(),
    }


_LOGIN_CHECK = """
SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolbypassrls,
       session_user = current_user AS own_session,
       ARRAY(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid
             WHERE m.member = r.oid ORDER BY 1) AS member_of,
       EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid
               AND c.relnamespace = 'public'::regnamespace) AS owns_tables
FROM pg_roles r WHERE r.rolname = session_user
"""


async def check_app_login(conn: asyncpg.Connection) -> None:
    """Fail closed unless the session is a login that cannot change role or bypass grants."""
    r = await conn.fetchrow(_LOGIN_CHECK)
    wrong = []
    if r["rolsuper"]:
        wrong.append("it is a superuser")
    if r["rolcreaterole"] or r["rolbypassrls"]:
        wrong.append("it may create roles or bypass row security")
    if r["member_of"]:
        wrong.append(f"it is a member of {', '.join(r['member_of'])} (SET ROLE would reach them)")
    if r["owns_tables"]:
        wrong.append("it owns the tables (the owner's login is for migrations and upkeep)")
    if not r["own_session"]:
        wrong.append("it acts as another role")
    if wrong:
        raise LoginError(
            f"应用的数据库登录 {r['rolname']} 权限过大：{'; '.join(wrong)}. The app logs in as a role "
            f"like {APP_ROLE} (README: Configuration, {APP_LOGIN_ENV})"
        )


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when given; otherwise start (or reuse) an embedded PostgreSQL whose data
    lives in `<data_dir>/pgdata` and survives restarts."""
    if settings.database_url:
        return settings.database_url
    from .observe.lifecycle import hold

    hold(settings.data_dir / "pgdata")  # a stopping `credit serve` leaves it to live users
    return embedded_database_url(settings.data_dir / "pgdata", keep_running=True)


def embedded_database_url(path: Path, *, keep_running: bool) -> str:
    import warnings

    # platformdirs' warning about XDG_RUNTIME_DIR on every command: pgserver copes without it
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import pgserver  # imported here: only the embedded path needs it

    path.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(path, cleanup_mode=None if keep_running else "stop")
    return server.get_uri()


class CreditConnection(asyncpg.Connection):
    """A connection of the platform's pool: it carries the audit trail's mac key, so whoever
    writes a trail row through it signs it (api/audit/integrity.py)."""

    audit_key: bytes = b""
    _reset_sent = False  # the session was reset with the last COMMIT (lean_transaction)

    def get_reset_query(self) -> str:
        """The pool's reset on release, unless the commit just before it carried the reset."""
        if self._reset_sent:
            self._reset_sent = False
            return ""
        return super().get_reset_query()

    async def commit_and_reset(self) -> None:
        """COMMIT and the pool's session reset in one round trip (a simple query of several
        statements): the commit is durable when this returns, as with COMMIT alone; the reset
        runs after it, in its own implicit transaction. A failed COMMIT stops the rest, and the
        release then resets as usual."""
        await self.execute("COMMIT;" + super().get_reset_query())
        self._reset_sent = True


class BoundedPool(asyncpg.Pool):
    """A pool whose acquire waits at most `acquire_timeout` seconds (unless the caller gives its
    own timeout); past it the caller gets `Busy` (code BUSY, retryable), never an endless wait."""

    __slots__ = ("acquire_timeout", "waiting")

    def acquire(self, *, timeout: float | None = None):
        return _BoundedAcquire(super().acquire(timeout=timeout or self.acquire_timeout), self)


class _BoundedAcquire:
    def __init__(self, inner, pool: BoundedPool):
        self.inner = inner
        self.pool = pool

    async def __aenter__(self):
        self.pool.waiting += 1  # callers waiting for a connection (metrics: credit_pool_waiting)
        try:
            return await self.inner.__aenter__()
        except TimeoutError:
            raise busy(_("busy, try again shortly (no database connection free in time)")) from None
        finally:
            self.pool.waiting -= 1

    async def __aexit__(self, *exc):
        return await self.inner.__aexit__(*exc)

    def __await__(self):
        return self.__aenter__().__await__()


_LONG_DIGITS = re.compile(r"\d{19}")


def json_loads(text: str) -> object:
    """jsonb text from PostgreSQL as Python values (the pool's codec; the records' data of every
    lookup, read as text in LOOKUP's rows): orjson, several times faster, but json.loads for a
    text with 19 or more digits in a row (orjson reads an integer beyond 64 bits as a float) or
    one orjson refuses, so the values are json.loads's. The encoder stays json.dumps (the log
    row's mac reads it)."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


async def create_pool(
    dsn: str,
    *,
    audit_key: bytes,
    min_size: int = 2,
    max_size: int = 10,
    app_role: bool = True,
    login_dsn: str | None = None,
    acquire_timeout: float | None = None,
    lock_timeout_ms: int | None = None,
    statement_timeout_ms: int | None = None,
    application_name: str | None = None,
) -> asyncpg.Pool:
    """The pool. With app_role, every connection logs in as the app's own role (`dsn` is the
    owner's; `login_dsn` or app_login_dsn() gives the app's), which may only read and insert
    audit rows (Art. 41) and whose sessions sign every change of records, versions, tombstones
    and subjects (migration 0007). Owner connections (app_role=False) are for upkeep and purge;
    they carry no signing key, so they cannot change records."""

    async def init(conn: CreditConnection) -> None:
        conn.audit_key = audit_key
        for typ in ("jsonb", "json"):
            await conn.set_type_codec(
                typ, encoder=json.dumps, decoder=json_loads, schema="pg_catalog"
            )
        if app_role:
            await check_app_login(conn)

    if not audit_key:
        raise ValueError("the pool needs the audit trail's key")
    target = app_login_dsn(dsn, login_dsn) if app_role else dsn
    settings = {k: f"{v}ms" for k, v in (("lock_timeout", lock_timeout_ms),
                                          ("statement_timeout", statement_timeout_ms)) if v}
    if application_name:  # tells the pools apart in pg_stat_activity
        settings["application_name"] = application_name
    if app_role:
        settings.update(signing_settings(audit_key))
    pool = BoundedPool(
        target, min_size=min_size, max_size=max_size, max_queries=50000,
        max_inactive_connection_lifetime=300.0, init=init, loop=None,
        connection_class=CreditConnection, record_class=asyncpg.Record,
        command_timeout=30, server_settings=settings or None,
    )
    pool.acquire_timeout = acquire_timeout
    pool.waiting = 0
    try:
        return await pool
    except asyncpg.InvalidAuthorizationSpecificationError as e:
        raise LoginError(
            f"应用无法以 {APP_ROLE} 登录数据库：{e}. Give the role LOGIN (and a password on a managed "
            f"server) and set {APP_LOGIN_ENV} (README: Configuration)"
        ) from e


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One unit of work: a connection inside a transaction, committed when the block ends
    without an exception, rolled back otherwise."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn


@asynccontextmanager
async def lean_transaction(pool: asyncpg.Pool) -> AsyncIterator[CreditConnection]:
    """transaction() with one round trip fewer, for the lookups (the hot path): the commit
    carries the session reset that releasing the connection would otherwise send alone. Same
    unit of work: BEGIN, the block, COMMIT (durable) or ROLLBACK. The block may not open a
    transaction of its own with `conn.transaction()` (asyncpg refuses: this one is manual)."""
    async with pool.acquire() as conn:
        await conn.execute("BEGIN")
        try:
            yield conn
        except BaseException:
            if not conn.is_closed():
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    await conn.execute("ROLLBACK")  # failing: the release's reset rolls back
            raise
        await conn.commit_and_reset()


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
