"""Long readers apart from the lookup path (issue 8): ten slow /audit/export downloads against a
real uvicorn. Exports take their own few connections (at most two at once; the rest are told
BUSY with Retry-After), so lookups keep answering and the sealer keeps sealing; a reader slower
than the minimum rate is cut, its connection goes back, and the stream ends with its error line."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import time
import uuid

import asyncpg
import pytest

from api.audit.repository import LogEntry, record_queries
from api.auth.principal import Principal, RequestInfo
from tests.conftest import token
from tests.test_guard_limits import GuardServer, parse_reply, raw_exchange, request_head

LIMITS = {
    "CREDIT_MAX_EXPORTS": "2",
    "CREDIT_EXPORT_MIN_RATE": "1000",
    "CREDIT_EXPORT_RATE_WINDOW": "3",
}
EXPORT_USER = "guard-export-test"
ROWS = 20_000
SUBJECT = "91130902MA0DEM0135"
EXPORTING = """SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
AND application_name = 'credit-export' AND state = 'idle in transaction'"""
LOOKUP = json.dumps({"query": f'{{ subject(key: "{SUBJECT}") {{ key }} }}'}).encode()


@pytest.fixture(scope="module")
async def server(dsn, tmp_path_factory, app):
    s = GuardServer(dsn, tmp_path_factory.mktemp("exports"), LIMITS, bounded_head=True)  # as `credit serve`
    try:
        await s.ready()
        yield s
    finally:
        s.stop()


async def _many_log_rows(pool: asyncpg.Pool) -> None:
    """Enough trail to fill every socket buffer between the server and a reader that stalls."""
    who = Principal(user_id=EXPORT_USER, name="导出测试", org_code=None, org_name=None,
                    roles=("credit_service",))
    entries = [LogEntry("subject", SUBJECT, "loan_review", "not_found", reason="x" * 200)] * 1000
    async with pool.acquire() as conn:
        for _ in range(ROWS // len(entries)):
            async with conn.transaction():
                await record_queries(conn, who, RequestInfo(str(uuid.uuid4()), "127.0.0.1"),
                                     entries, at=dt.datetime.now(dt.UTC))


class SlowReader:
    """An export download over a socket with a small receive buffer, read at `rate` bytes/s
    (0: not at all until told to read everything)."""

    def __init__(self, port: int, bearer: str):
        self.port, self.bearer = port, bearer
        self.head = b""
        self.body = bytearray()

    async def start(self) -> int:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=16384)
        self.writer.write(request_head("GET", f"/audit/export?format=ndjson&user={EXPORT_USER}",
                                       {"Authorization": f"Bearer {self.bearer}"}))
        await self.writer.drain()
        self.head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        return int(self.head.split()[1])

    async def trickle(self, rate: int, stop: asyncio.Event) -> None:
        while not stop.is_set():
            piece = await self.reader.read(rate // 4)
            if not piece:
                return
            self.body.extend(piece)
            await asyncio.wait({asyncio.ensure_future(stop.wait())}, timeout=0.25)  # the rate

    async def read_rest(self) -> bytes:
        self.body.extend(await asyncio.wait_for(self.reader.read(), 60))
        return bytes(self.body)

    def close(self) -> None:
        self.writer.close()


async def test_ten_slow_exports_leave_lookups_and_sealing_alone(server, settings, pool, dsn):
    await _many_log_rows(pool)
    bearer = token(settings, "auditor")
    readers = [SlowReader(server.port, bearer) for _ in range(10)]
    stop = asyncio.Event()
    try:
        started = time.monotonic()
        statuses = await asyncio.gather(*(r.start() for r in readers))
        assert sorted(statuses) == [200, 200] + [503] * 8
        assert time.monotonic() - started < 2.0
        busy = [r for r, s in zip(readers, statuses, strict=True) if s == 503]
        assert all(b"retry-after:" in r.head.lower() for r in busy)
        slow = [r for r, s in zip(readers, statuses, strict=True) if s == 200]
        trickling = [asyncio.ensure_future(r.trickle(40_000, stop)) for r in slow]

        lookup_ids = []
        for _ in range(10):
            rid = str(uuid.uuid4())
            lookup_ids.append(rid)
            reply = await raw_exchange(server.port, request_head("POST", "/graphql", {
                "Content-Type": "application/json", "Content-Length": str(len(LOOKUP)),
                "X-Request-ID": rid}) + LOOKUP)
            assert reply.status == 200 and reply.json()["data"]["subject"]["key"] == SUBJECT
            assert reply.seconds < 1.0
        health = await raw_exchange(server.port, request_head("GET", "/health", {}))
        assert health.status == 200 and health.seconds < 1.0

        watcher = await asyncpg.connect(dsn)
        try:  # the app's sealer (every 10 s) seals the lookups' rows while the exports run
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while await watcher.fetchval(
                """SELECT count(*) FROM query_log q WHERE details->>'client_request_id' = ANY($1::text[])
                   AND NOT EXISTS (SELECT 1 FROM audit_seals s
                                   WHERE q.xact >= s.xact_from AND q.xact < s.xact_to)""",
                lookup_ids):
                assert loop.time() < deadline, "the lookups' rows were not sealed"
                await asyncio.sleep(0.2)  # polling for the sealer's work, bounded above
            exporting = await watcher.fetchval(EXPORTING)
        finally:
            await watcher.close()
        assert not any(t.done() for t in trickling), "a reader above the minimum rate was cut"
        assert exporting >= 2, "the slow exports were no longer running"
    finally:
        stop.set()
        for r in readers:
            r.close()


async def _until(conn: asyncpg.Connection, sql: str, predicate, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate(await conn.fetchval(sql)):
        assert loop.time() < deadline, f"condition not reached: {sql}"
        await asyncio.sleep(0.05)  # polling the database for the condition, bounded above


async def test_a_reader_below_the_minimum_rate_is_cut_and_told(server, settings, pool, dsn):
    await _many_log_rows(pool)
    bearer = token(settings, "auditor")
    stalled = SlowReader(server.port, bearer)
    watcher = await asyncpg.connect(dsn)
    try:
        assert await stalled.start() == 200
        started = time.monotonic()
        await _until(watcher, EXPORTING, lambda n: n >= 1, seconds=5)
        # the reader takes nothing more; within two rate windows (3 s each) the export is cut
        # and its database transaction ends
        await _until(watcher, EXPORTING, lambda n: n == 0, seconds=15)
        assert time.monotonic() - started < 2 * 3 + 2
        body = await stalled.read_rest()  # the reader comes back and reads what was sent
        again = SlowReader(server.port, bearer)
        assert await again.start() == 200  # the place came free
        again.close()
    finally:
        stalled.close()
        await watcher.close()
    text = parse_reply(stalled.head + body, 0).body
    last = json.loads(text.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    assert "error" in last and "1000" in last["error"], last
    assert 0 < last["rows"] < ROWS
