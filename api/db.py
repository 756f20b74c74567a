"""The pool: connections that carry the audit trail's key, an acquire that waits a bounded time,
the jsonb codec, and the units of work on it (transaction, lean_transaction)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson

from .db_login import (
    APP_LOGIN_ENV,
    APP_ROLE,
    LoginError,
    app_login_dsn,
    check_app_login,
    signing_settings,
)
from .guard.errors import busy
from .i18n import _


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
