"""The lookup benchmark's three phases (bench/lookup.py): the platform over HTTP, the raw asyncpg
ceiling in this process, and the peer (PostGraphile over row-level security, --peer)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from typing import Any

import peer_setup
import psutil
from lookup_http import PURPOSE, HttpConnection, build_request, check_response, peer_request
from lookup_measure import Phase, postgres_pids, run_phase
from lookup_server import (
    free_port,
    start_py_spy,
    start_server,
    stop_server,
    wait_healthy,
    wait_peer_ready,
)

from api import demo
from api.audit.repository import LogEntry, record_queries
from api.auth.principal import Principal, RequestInfo
from api.db import create_pool, lean_transaction
from api.disclosure.repository import LOOKUP

AUDIT_KEY = "bench-audit-key-" + "b" * 40


def http_worker(phase: Phase, port: int, raw: bytes):
    """A closed-loop client on one keep-alive connection: a lookup's latency counts when it
    completes inside the window; a non-200 answer or one with errors counts as an error."""

    async def worker(measure_from: float, stop_at: float) -> None:
        conn = HttpConnection("127.0.0.1", port)
        lat = phase.latencies
        perf = time.perf_counter
        try:
            while True:
                t0 = perf()
                if t0 >= stop_at:
                    return
                status, body = await conn.request(raw)
                t1 = perf()
                if measure_from <= t1 <= stop_at:
                    if status == 200 and b'"errors"' not in body:
                        lat.append(t1 - t0)
                    else:
                        phase.errors += 1
        finally:
            conn.close()

    return worker


def server_groups(proc: subprocess.Popen, dsn: str, dbname: str):
    """The processes whose CPU a phase reports: the server and its children, this client, and
    the database's backends."""

    async def groups():
        return {
            "server": [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)],
            "client": [os.getpid()],
            "postgres": await postgres_pids(dsn, dbname),
        }

    return groups


async def platform_phase(
    args, env, port, token, record_ids, dsn, dbname, log_path
) -> tuple[Phase, dict]:
    phase = Phase("platform")
    proc = start_server(args.app, env, port, log_path)
    try:
        await wait_healthy(proc, port, log_path)
        raw = build_request("127.0.0.1", port, token)
        first = HttpConnection("127.0.0.1", port)
        try:
            status, body = await first.request(raw)
        finally:
            first.close()
        answer = check_response(status, body, record_ids)

        worker = http_worker(phase, port, raw)
        groups = server_groups(proc, dsn, dbname)

        spy: list[subprocess.Popen] = []

        def profile() -> None:
            if args.py_spy:
                spy.append(start_py_spy(args, proc.pid))

        try:
            await run_phase(
                phase, worker, args.concurrency, args.warmup, args.duration, groups, profile
            )
        finally:
            for s in spy:
                try:
                    s.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    s.kill()
                    s.wait()
    finally:
        stop_server(proc)
    return phase, answer


async def raw_phase(args, dsn, dbname, principal: Principal) -> Phase:
    phase = Phase("raw")
    # Same connection set-up as the server's pool (jsonb codec), sized to the concurrency.
    pool = await create_pool(
        dsn, audit_key=AUDIT_KEY.encode(), min_size=args.concurrency, max_size=args.concurrency
    )
    keys = [demo.COMPANY]

    async def lookup() -> None:
        async with lean_transaction(pool) as conn:
            rows = await conn.fetch(LOOKUP, keys, principal.org_code, PURPOSE)
            now = rows[0]["now"]
            auths = rows[0]["auths"]
            disclosed = [
                {"record": str(r[0]), "item": r[1], "basis": "authorization"}
                for r in rows[0]["records"]
            ]
            entry = LogEntry(
                "subject",
                demo.COMPANY,
                PURPOSE,
                "disclosed",
                disclosed=disclosed,
                authorization_ids=[str(a[0]) for a in auths],
            )
            request = RequestInfo(request_id=str(uuid.uuid4()), client_addr="127.0.0.1")
            await record_queries(conn, principal, request, [entry], at=now)

    async def worker(measure_from: float, stop_at: float) -> None:
        lat = phase.latencies
        perf = time.perf_counter
        while True:
            t0 = perf()
            if t0 >= stop_at:
                return
            await lookup()
            t1 = perf()
            if measure_from <= t1 <= stop_at:
                lat.append(t1 - t0)

    async def groups():
        return {"client": [os.getpid()], "postgres": await postgres_pids(dsn, dbname)}

    try:
        await lookup()  # fails loudly before measuring if the SQL is wrong
        await run_phase(phase, worker, args.concurrency, args.warmup, args.duration, groups)
    finally:
        await pool.close()
    return phase


async def peer_phase(args, dsn, dbname, secret, claims, pool_size, answer, log_path) -> tuple[Phase | None, dict]:
    """Phase 3 (--peer): PostGraphile over row-level security, same database, same data, same
    concurrency, as many node processes as uvicorn had. (None, {"skipped": why}) without node."""
    why = peer_setup.node_missing()
    if why:
        print(f"peer: SKIPPED ({why}; the peer needs node and npm, see bench/README.md, Peer)", flush=True)
        return None, {"skipped": why}
    try:
        installed = await asyncio.to_thread(peer_setup.ensure_node_modules)
    except peer_setup.PeerUnavailable as e:
        print(f"peer: SKIPPED ({e})", flush=True)
        return None, {"skipped": str(e)}
    signing = await peer_setup.install(dsn, AUDIT_KEY.encode())
    token = peer_setup.token(secret, org=claims["org"], name=claims["name"])
    port = args.peer_port or free_port()
    proc = peer_setup.start(
        dsn, port, secret, workers=args.workers, pool_size=pool_size, log_path=log_path
    )
    phase = Phase("peer")
    info: dict[str, Any] = {"setup": installed, "log_signature": signing}
    try:
        await wait_peer_ready(proc, port, log_path)
        raw = peer_request(port, token)
        first = HttpConnection("127.0.0.1", port)
        try:
            status, body = await first.request(raw)
        finally:
            first.close()
        try:
            if status != 200:
                raise ValueError(f"HTTP {status}: {body[:500]!r}")
            found = peer_setup.lookup_of(json.loads(body))
        except ValueError as e:
            raise SystemExit(f"peer: first lookup failed: {e}") from None
        ids = sorted(r["id"] for r in found["subject"]["records"])
        info["records_shown"] = len(ids)
        info["withheld"] = found["withheld"]
        info["agrees_with_platform"] = ids == answer["ids"]
        if not info["agrees_with_platform"]:
            print(
                f"WARNING: the peer disclosed {len(ids)} records, the platform {answer['records']}: "
                "the comparison is not like for like",
                flush=True,
            )

        worker = http_worker(phase, port, raw)
        groups = server_groups(proc, dsn, dbname)

        await run_phase(phase, worker, args.concurrency, args.warmup, args.duration, groups)
    finally:
        peer_setup.stop(proc)
    return phase, info
