"""A LISTEN connection that outlives a database restart: when the connection is lost it is
made again with backoff, and the owner's catch-up runs once it is back (a NOTIFY sent while no
one listened is gone, so whatever it announced is read again)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger("credit.listener")

BACKOFF_FIRST = 0.2
BACKOFF_MAX = 15.0


class Listener:
    def __init__(self, dsn: str, channel: str, *, on_notify: Callable[[str], None],
                 catch_up: Callable[[], Awaitable[object]], name: str):
        self.dsn = dsn
        self.channel = channel
        self.on_notify = on_notify
        self.catch_up = catch_up
        self.name = name
        self.reconnects = 0
        self._conn: asyncpg.Connection | None = None
        self._reconnecting: asyncio.Task | None = None
        self._closed = False
        self._back = asyncio.Condition()

    async def start(self) -> None:
        """The first connection must succeed: a server that cannot follow changes does not start."""
        await self._connect()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self.dsn, timeout=10)
        await conn.add_listener(self.channel, self._notified)
        conn.add_termination_listener(self._lost)
        self._conn = conn

    def _notified(self, conn, pid, channel, payload) -> None:
        self.on_notify(payload)

    def _lost(self, conn) -> None:
        if self._closed or self._reconnecting is not None:
            return
        log.warning("%s lost its connection; reconnecting", self.name)
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = BACKOFF_FIRST
        try:
            while not self._closed:
                try:
                    await self._connect()
                except (TimeoutError, OSError, asyncpg.PostgresError) as e:
                    log.warning("%s: reconnect failed (%s); next try in %.1f s", self.name, e, delay)
                    await asyncio.sleep(delay)  # backoff between attempts, not a stand-in for a condition
                    delay = min(delay * 2, BACKOFF_MAX)
                    continue
                log.info("%s reconnected; catching up", self.name)
                try:
                    await self.catch_up()
                except Exception:  # keep listening; the next notification tries again
                    log.exception("%s: catching up after the reconnect failed", self.name)
                async with self._back:
                    self.reconnects += 1
                    self._back.notify_all()
                return
        finally:
            self._reconnecting = None

    @property
    def server_pid(self) -> int | None:
        return self._conn.get_server_pid() if self._conn is not None else None

    async def wait_reconnected(self, count: int, timeout: float = 30) -> None:
        """Until the listener has come back `count` times in all (and caught up)."""
        async with self._back:
            await asyncio.wait_for(self._back.wait_for(lambda: self.reconnects >= count), timeout)

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            await asyncio.gather(self._reconnecting, return_exceptions=True)
        if self._conn is not None and not self._conn.is_closed():
            self._conn.remove_termination_listener(self._lost)
            await self._conn.close()
