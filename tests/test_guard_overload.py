"""The audit log locked under load (issue 8): no request waits past the configured limits, the
server's memory stays bounded, past the bounds the answer is BUSY with Retry-After, and no log
row claims a disclosure for a response that was never sent (a lookup whose client has gone
before the commit rolls back). A real uvicorn, a real lock from another connection."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from tests.test_guard_limits import GuardServer, Reply, raw_exchange, request_head

LOCK_TIMEOUT = 1.5
ACQUIRE_TIMEOUT = 0.5
ADMISSION_WAIT = 0.2
LIMITS = {
    "CREDIT_POOL_MAX_SIZE": "4",
    "CREDIT_MAX_IN_FLIGHT": "8",
    "CREDIT_ADMISSION_WAIT_SECONDS": str(ADMISSION_WAIT),
    "CREDIT_ACQUIRE_TIMEOUT_SECONDS": str(ACQUIRE_TIMEOUT),
    "CREDIT_LOCK_TIMEOUT_MS": str(int(LOCK_TIMEOUT * 1000)),
}
SUBJECT = "91130902MA0DEM0135"
LOOKUP = json.dumps({"query": f'{{ subject(key: "{SUBJECT}") {{ key name }} }}'}).encode()


def lookup_head(request_id: str) -> bytes:
    return request_head("POST", "/graphql", {
        "Content-Type": "application/json", "Content-Length": str(len(LOOKUP)),
        "X-Request-ID": request_id,
    }) + LOOKUP


@pytest.fixture(scope="module")
async def server(dsn, tmp_path_factory, app):
    s = GuardServer(dsn, tmp_path_factory.mktemp("overload"), LIMITS)
    try:
        await s.ready()
        yield s
    finally:
        s.stop()


async def _until(conn: asyncpg.Connection, sql: str, predicate, seconds: float = 5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = await conn.fetchval(sql)
        if predicate(value):
            return value
        assert loop.time() < deadline, f"condition not reached: {sql} = {value}"
        await asyncio.sleep(0.02)  # polling the database for the condition, bounded above


WAITING_ON_LOG = """SELECT count(*) FROM pg_locks
WHERE relation = 'query_log'::regclass AND NOT granted"""
WRITING_LOG = """SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND state <> 'idle' AND query ILIKE 'INSERT INTO query_log%'"""


async def _rows_for(conn: asyncpg.Connection, ids: list[str]) -> set[str]:
    rows = await conn.fetch(
        # the client's X-Request-Id is kept beside the server's own request id (details)
        "SELECT details->>'client_request_id' AS id FROM query_log WHERE kind = 'query' "
        "AND details->>'client_request_id' = ANY($1::text[])",
        ids)
    return {r["id"] for r in rows}


async def test_a_lookup_whose_client_left_before_the_commit_writes_no_log_row(server, owner, dsn):
    gone_ids = [str(uuid.uuid4()) for _ in range(3)]
    patient_id = str(uuid.uuid4())
    conns = []
    await owner.execute("BEGIN; LOCK TABLE query_log IN ACCESS EXCLUSIVE MODE")
    try:
        for rid in gone_ids:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(lookup_head(rid))
            await writer.drain()
            conns.append(writer)
        patient = asyncio.ensure_future(raw_exchange(server.port, lookup_head(patient_id)))
        watcher = await asyncpg.connect(dsn)
        try:
            # every lookup has read the subject and waits to write its log row
            await _until(watcher, WAITING_ON_LOG, lambda n: n >= 4, seconds=LOCK_TIMEOUT)
            for writer in conns:
                writer.close()  # the clients give up
            await raw_exchange(server.port, request_head("GET", "/health", {}))  # seen by now
            await owner.execute("COMMIT")
            reply = await patient
            assert reply.status == 200 and reply.json()["data"]["subject"]["key"] == SUBJECT
            await _until(watcher, WAITING_ON_LOG, lambda n: n == 0)
            await _until(watcher, WRITING_LOG, lambda n: n == 0)
            assert await _rows_for(watcher, [patient_id]) == {patient_id}
            assert await _rows_for(watcher, gone_ids) == set(), "a log row for a response nobody received"
        finally:
            await watcher.close()
    finally:
        if owner.is_in_transaction():
            await owner.execute("ROLLBACK")


LOCK_SECONDS = 4.0
ARRIVALS_PER_SECOND = 20
CLIENT_GIVES_UP = 5.0
MARGIN = 1.0


async def test_with_the_log_locked_under_load_nobody_waits_past_the_limits(server, owner, dsn):
    rss_before = server.rss_kib()
    ids: list[str] = []
    replies: list[asyncio.Future] = []
    loop = asyncio.get_running_loop()
    await owner.execute("BEGIN; LOCK TABLE query_log IN ACCESS EXCLUSIVE MODE")
    try:
        started = loop.time()
        while loop.time() - started < LOCK_SECONDS:  # open loop: arrivals do not wait for answers
            rid = str(uuid.uuid4())
            ids.append(rid)
            replies.append(asyncio.ensure_future(
                raw_exchange(server.port, lookup_head(rid), timeout=CLIENT_GIVES_UP)))
            await asyncio.sleep(1 / ARRIVALS_PER_SECOND)  # the arrival schedule itself
        rss_locked = server.rss_kib()
    finally:
        await owner.execute("ROLLBACK")
    done: list[Reply] = list(await asyncio.gather(*replies))
    limit = LOCK_TIMEOUT + ACQUIRE_TIMEOUT + ADMISSION_WAIT + MARGIN
    assert max(r.seconds for r in done) < limit, sorted(r.seconds for r in done)[-5:]

    watcher = await asyncpg.connect(dsn)
    try:
        await _until(watcher, WRITING_LOG, lambda n: n == 0)
        logged = await _rows_for(watcher, ids)
    finally:
        await watcher.close()
    codes: dict[str, int] = {}
    for rid, r in zip(ids, done, strict=True):
        body = r.json()
        disclosed = r.status == 200 and (body.get("data") or {}).get("subject") is not None
        if disclosed:
            assert rid in logged, "data without its log row"
            codes["data"] = codes.get("data", 0) + 1
            continue
        assert rid not in logged, "a log row for a refused or failed lookup"
        code = body["errors"][0]["extensions"]["code"]
        assert code in ("BUSY", "AUDIT_UNAVAILABLE"), body
        if code == "BUSY":
            assert r.headers.get("retry-after"), "BUSY without Retry-After"
        key = f"{r.status} {code}"
        codes[key] = codes.get(key, 0) + 1
    assert codes.get("503 BUSY"), codes  # past the requests in flight
    assert codes.get("200 BUSY"), codes  # past the wait for a pool connection
    assert codes.get("200 AUDIT_UNAVAILABLE"), codes  # the lock timeout
    assert rss_locked - rss_before < 50 * 1024, (rss_before, rss_locked)
