"""Benchmark: one authorized subject lookup, through the platform vs. the raw SQL ceiling.

    python bench/lookup.py [--concurrency 16] [--duration 15] [--warmup 2]

Phases, in this order, at the same concurrency:

1. platform: uvicorn serving `api.asgi:app` in a subprocess; a small keep-alive HTTP/1.1
   client (raw asyncio streams, one connection per in-flight request) POSTs the GraphQL
   `subject(key, purpose)` query with an HS256 bearer token for the demo credit service agency.
   Every request goes through the token check, the Casbin policy and the query-log insert.
2. raw ceiling: uvicorn is stopped first, then the same SQL runs in this process over an asyncpg
   pool of size = concurrency: per lookup, the platform's round trips (api.db.lean_transaction):
   BEGIN, LOOKUP (subject, records, authorizations and now() in one statement),
   INSERT_QUERY_LOG, then COMMIT with the session reset.
3. peer (--peer): PostGraphile v4 over row-level security on the same database and data
   (bench/peer/, bench/peer_setup.py), as many node processes as uvicorn had; the lookup is a
   mutation that decides, writes a signed log row and commits. Skipped with a message where
   node or npm is missing.

Each phase runs `warmup` seconds unmeasured, then `duration` seconds measured (completions
inside the window count); workers then stop by themselves. Prints lookups/s, p50/p99 latency,
the ratios platform/raw (and platform/peer), CPU use per process (what limits each phase) and
per lookup, and a JSON line at the end.

Database: DATABASE_URL's server when set (a fresh `credit_bench_<random>` database, dropped at
the end), otherwise an embedded PostgreSQL (pgserver) in a temporary folder, stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import peer_setup  # noqa: E402
from benchdb import open_bench_database  # noqa: E402

from api import demo  # noqa: E402
from api.audit.repository import LogEntry, record_queries  # noqa: E402
from api.auth.principal import Principal, RequestInfo  # noqa: E402
from api.auth.tokens import mint_token  # noqa: E402
from api.cli import TOKEN_PRESETS  # noqa: E402
from api.config import Settings  # noqa: E402
from api.db import create_pool, lean_transaction, migrate  # noqa: E402
from api.disclosure.repository import LOOKUP  # noqa: E402

PURPOSE = "loan_review"
AUDIT_KEY = "bench-audit-key-" + "b" * 40
WORKERS = [1]  # uvicorn worker processes; set from --workers
QUERY = (
    "query($k: ID!, $p: String){ subject(key:$k, purpose:$p){ key name "
    "records { id item { code } decidedOn data status } withheld { disclosure count reason } } }"
)
TARGET_RATIO = 0.7  # issue 14: platform >= 0.7 x the raw ceiling at one process
TARGET_PEER_RATIO = 2.0  # issue 14: the platform at least twice the peer's lookups/s


# --------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, completions in the window
    errors: int = 0
    window: float = 0.0
    cpu: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        n = len(lat)

        def pct(p: float) -> float | None:
            return round(lat[min(n - 1, int(p * n))] * 1000, 2) if n else None

        return {
            "lookups": n,
            "errors": self.errors,
            "window_s": round(self.window, 3),
            "lookups_per_s": round(n / self.window, 1) if self.window else 0.0,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "cpu": self.cpu,
        }


class CpuMeter:
    """CPU seconds used by named groups of processes over the measured window, as a share of
    one core, plus the machine's busy share of all its cores."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups
        self.procs: dict[int, psutil.Process] = {}
        self.start: dict[int, float] = {}

    @staticmethod
    def _cpu(p: psutil.Process) -> float | None:
        try:
            t = p.cpu_times()
            return t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def begin(self) -> None:
        for pids in self.groups.values():
            for pid in pids:
                try:
                    self.procs[pid] = psutil.Process(pid)
                except psutil.NoSuchProcess:
                    continue
                c = self._cpu(self.procs[pid])
                if c is not None:
                    self.start[pid] = c
        self.sys_start = psutil.cpu_times()
        self.t0 = time.perf_counter()

    def end(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.t0
        sys_end = psutil.cpu_times()
        out: dict[str, Any] = {}
        for name, pids in self.groups.items():
            used = 0.0
            seen = 0
            for pid in pids:
                if pid in self.start and pid in self.procs:
                    c = self._cpu(self.procs[pid])
                    if c is not None:
                        used += c - self.start[pid]
                        seen += 1
            out[f"{name}_core_pct"] = round(100 * used / wall, 1) if seen else None
        busy = lambda t: t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0)  # noqa: E731
        total = lambda t: busy(t) + t.idle + getattr(t, "iowait", 0)  # noqa: E731
        d_total = total(sys_end) - total(self.sys_start)
        out["machine_busy_pct"] = (
            round(100 * (busy(sys_end) - busy(self.sys_start)) / d_total, 1) if d_total else None
        )
        out["cores"] = psutil.cpu_count()
        if out["machine_busy_pct"] is not None:
            ours = sum(v for k, v in out.items() if k.endswith("_core_pct") and v is not None)
            # Anything else running on the machine meanwhile (noise in the figures).
            out["other_core_pct"] = round(
                max(0.0, out["machine_busy_pct"] * out["cores"] - ours), 1
            )
        return out


async def postgres_pids(dsn: str, dbname: str) -> list[int]:
    """The backends of the bench database and the server's own background processes (WAL
    writer, checkpointer, ...): the PostgreSQL CPU spent on our work."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE (datname = $1 OR backend_type <> 'client backend')"
            " AND pid <> pg_backend_pid()",
            dbname,
        )
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


async def run_phase(
    phase: Phase,
    make_worker,
    concurrency: int,
    warmup: float,
    duration: float,
    meter_groups,
    on_measure=None,
) -> None:
    """`make_worker(measure_from, stop_at)` returns a coroutine that loops until stop_at and
    appends latencies of requests completing inside [measure_from, stop_at]."""
    now = time.perf_counter()
    measure_from = now + warmup
    stop_at = measure_from + duration
    tasks = [asyncio.create_task(make_worker(measure_from, stop_at)) for _ in range(concurrency)]

    async def meter() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        m = CpuMeter(await meter_groups())
        m.begin()
        if on_measure is not None:
            on_measure()
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        phase.cpu = m.end()

    meter_task = asyncio.create_task(meter())
    # Bounded: a hung server or database cannot keep the bench running.
    done, pending = await asyncio.wait(tasks + [meter_task], timeout=warmup + duration + 30)
    for t in pending:
        t.cancel()
    if pending:
        raise SystemExit(f"{phase.name}: {len(pending)} workers did not finish in time")
    for t in done:
        if t.exception() is not None:
            raise t.exception()
    phase.window = duration


# --------------------------------------------------------------------------------------------
# A small HTTP/1.1 keep-alive client: write the request, read status line, headers and a
# Content-Length (or chunked) body. One connection per in-flight request.


class HttpConnection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")  # no trailers expected
                    break
                parts.append(await self.reader.readexactly(size + 2))
            body = b"".join(p[:-2] for p in parts)
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:  # body runs to the end of the connection
            body = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, body


def build_request(host: str, port: int, token: str) -> bytes:
    body = json.dumps({"query": QUERY, "variables": {"k": demo.COMPANY, "p": PURPOSE}}).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def check_response(status: int, body: bytes, record_ids: set[str]) -> dict[str, Any]:
    """The first response must be the full, correct answer; abort loudly otherwise."""
    if status != 200:
        raise SystemExit(f"platform: first lookup returned HTTP {status}: {body[:500]!r}")
    doc = json.loads(body)
    if doc.get("errors"):
        raise SystemExit(f"platform: first lookup returned errors: {doc['errors']}")
    subject = (doc.get("data") or {}).get("subject")
    if not subject or subject.get("key") != demo.COMPANY:
        raise SystemExit(f"platform: first lookup did not return {demo.COMPANY}: {doc}")
    shown = len(subject["records"])
    got = {r["id"] for r in subject["records"]}
    if shown == 0 or len(got) != shown or not got <= record_ids:
        raise SystemExit(
            f"platform: expected some of the subject's {len(record_ids)} records, got: {subject}"
        )
    return {"records": shown, "withheld": subject["withheld"], "ids": sorted(got)}


# --------------------------------------------------------------------------------------------
# Set-up: database, server


def free_port() -> int:
    """A free port; BENCH_PORTS=first-last keeps to a range (a shared machine's allotment)."""
    first, _, last = os.environ.get("BENCH_PORTS", "0-0").partition("-")
    for port in range(int(first), int(last or first) + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise SystemExit(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def start_server(app: str, env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--workers",
        str(WORKERS[0]),
    ]
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_healthy(
    proc: subprocess.Popen, port: int, log_path: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    probe = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"uvicorn exited with {proc.returncode} during start-up:\n{log_path.read_text()[-3000:]}"
            )
        conn = HttpConnection("127.0.0.1", port)
        try:
            status, body = await conn.request(probe)
            if status == 200:
                return
            last = f"HTTP {status} {body[:200]!r}"
        except OSError as e:
            last = str(e)
        finally:
            conn.close()
        await asyncio.sleep(0.1)
    raise SystemExit(
        f"uvicorn not healthy after {timeout:.0f} s ({last}):\n{log_path.read_text()[-3000:]}"
    )


def start_py_spy(args, pid: int) -> subprocess.Popen:
    """Sample the server for the measured window (py-spy must be on PATH or given). `.txt`
    output is py-spy's collapsed stacks ("raw"), anything else a speedscope JSON."""
    exe = os.environ.get("PY_SPY", "py-spy")
    fmt = "raw" if args.py_spy.endswith(".txt") else "speedscope"
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(args.duration))),
            "--rate",
            "200",
            "--format",
            fmt,
            "--output",
            args.py_spy,
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown (runs the lifespan exit)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------
# The two phases


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


async def wait_peer_ready(proc: subprocess.Popen, port: int, log_path: Path, timeout: float = 60) -> None:
    """PostGraphile has no health route: ready when an anonymous `{__typename}` gets a 200."""
    body = b'{"query":"{__typename}"}'
    probe = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"peer: node exited with {proc.returncode} during start-up:\n{log_path.read_text()[-3000:]}"
            )
        conn = HttpConnection("127.0.0.1", port)
        try:
            status, answer = await conn.request(probe)
            if status == 200:
                return
            last = f"HTTP {status} {answer[:200]!r}"
        except (OSError, asyncio.IncompleteReadError) as e:
            last = str(e) or type(e).__name__
        finally:
            conn.close()
        await asyncio.sleep(0.1)
    raise SystemExit(f"peer not ready after {timeout:.0f} s ({last}):\n{log_path.read_text()[-3000:]}")


def peer_request(port: int, token: str) -> bytes:
    body = json.dumps(
        {"query": peer_setup.QUERY, "variables": {"k": demo.COMPANY, "p": PURPOSE}}
    ).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


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


def cpu_ms_per_lookup(summary: dict[str, Any], *groups: str) -> float | None:
    """CPU milliseconds per completed lookup spent by the named process groups in the window."""
    share = [summary["cpu"].get(f"{g}_core_pct") for g in groups]
    if not summary["lookups"] or any(s is None for s in share):
        return None
    return round(sum(share) / 100 * summary["window_s"] / summary["lookups"] * 1000, 2)


def limiter(name: str, cpu: dict[str, Any], main: str) -> str:
    """Name what bounds a phase from the CPU shares."""
    shares = {
        k[: -len("_core_pct")]: v
        for k, v in cpu.items()
        if k.endswith("_core_pct") and v is not None and k != "other_core_pct"
    }
    parts = ", ".join(f"{k} {v:.0f}% of a core" for k, v in shares.items())
    machine = cpu.get("machine_busy_pct")
    cores = cpu.get("cores")
    main_share = shares.get(main)
    if machine is not None and machine >= 95:
        verdict = f"the machine's CPU, shared by the processes below ({machine:.0f}% of {cores} cores busy)"
    elif main_share is not None and WORKERS[0] == 1 and main_share >= 90:
        verdict = f"the single {main} process is CPU-bound ({main_share:.0f}% of one core)"
    elif machine is not None and machine >= 80:
        verdict = f"the machine's CPU, shared by the processes below ({machine:.0f}% of {cores} cores busy)"
    else:
        verdict = "neither one process nor the machine is CPU-saturated: waiting (latency/IO, e.g. commits)"
    other = cpu.get("other_core_pct")
    return (
        f"{name} limited by: {verdict} [{parts}; machine busy {machine}% of {cores} cores, "
        f"of which other processes {other}% of a core]"
    )


async def main_async(args) -> dict[str, Any]:
    db = await open_bench_database("credit-bench-")
    tmpdir, dsn, dbname, db_kind = db.tmpdir, db.dsn, db.dbname, db.kind
    server_version = db.server_version
    try:
        secret = "bench-secret-" + secrets.token_urlsafe(32)
        env_settings = {
            "DATABASE_URL": dsn,
            "CREDIT_JWT_SECRET": secret,
            "CREDIT_DATA_DIR": str(tmpdir / "data"),
            "CREDIT_AUDIT_KEY": AUDIT_KEY,
            # one caller makes every request: its rate limit is raised out of the way, the
            # limiter still counts each request (its cost is part of the lookup's)
            "CREDIT_RATE_LIMIT_CREDIT_SERVICE": "1000000/second",
        }
        if args.server_pool_size:
            env_settings["CREDIT_POOL_MAX_SIZE"] = str(args.server_pool_size)
        settings = Settings.from_env(env_settings)
        await migrate(dsn, settings.migrations_dir)
        pool = await create_pool(dsn, audit_key=settings.audit_key)
        try:
            await demo.seed_demo(pool)
            record_ids = {
                str(r["id"])
                for r in await pool.fetch(
                    "SELECT id FROM records WHERE subject_key = $1 AND status <> 'deleted'",
                    demo.COMPANY,
                )
            }
            expected = len(record_ids)
        finally:
            await pool.close()

        claims = {**TOKEN_PRESETS["credit_service"], "roles": ["credit_service"], "sub": "bench"}
        token = mint_token(settings, claims, ttl_seconds=3600)
        principal = Principal(
            user_id="bench",
            name=claims["name"],
            org_code=claims["org"],
            org_name=claims["org_name"],
            roles=("credit_service",),
        )

        print(
            f"bench/lookup.py: subject {demo.COMPANY} ({expected} records) for {demo.AGENCY}, "
            f"purpose {PURPOSE}; concurrency {args.concurrency}; each phase {args.warmup:g} s "
            f"warm-up + {args.duration:g} s measured; {psutil.cpu_count()} cores",
            flush=True,
        )
        print(f"database: {db_kind}, PostgreSQL {server_version}, database {dbname}", flush=True)

        env = {**os.environ, **env_settings}
        port = free_port()
        platform, answer = await platform_phase(
            args, env, port, token, record_ids, dsn, dbname, tmpdir / "uvicorn.log"
        )
        p = platform.summary()
        print(
            f"platform (HTTP -> uvicorn {args.app}, {args.workers} process(es), server pool "
            f"{settings.pool_max_size}): {p['lookups_per_s']:.1f} lookups/s  p50 {p['p50_ms']} ms  "
            f"p99 {p['p99_ms']} ms  (n={p['lookups']}, errors={p['errors']}; "
            f"{answer['records']} records shown)",
            flush=True,
        )

        raw = await raw_phase(args, dsn, dbname, principal)
        r = raw.summary()
        print(
            f"raw ceiling (asyncpg in the bench process, after the HTTP phase, uvicorn stopped, "
            f"pool {args.concurrency}): {r['lookups_per_s']:.1f} lookups/s  p50 {r['p50_ms']} ms  "
            f"p99 {r['p99_ms']} ms  (n={r['lookups']})",
            flush=True,
        )
        p["cpu_ms_per_lookup"] = cpu_ms_per_lookup(p, "server", "postgres")
        r["cpu_ms_per_lookup"] = cpu_ms_per_lookup(r, "client", "postgres")
        peer: Phase | None = None
        peer_info: dict[str, Any] = {}
        if args.peer:
            peer, peer_info = await peer_phase(
                args, dsn, dbname, secret, claims, settings.pool_max_size, answer,
                tmpdir / "peer.log",
            )
        q: dict[str, Any] | None = None
        if peer is not None:
            q = peer.summary()
            q["cpu_ms_per_lookup"] = cpu_ms_per_lookup(q, "server", "postgres")
            print(
                f"peer (HTTP -> PostGraphile 4 over row-level security, {args.workers} node "
                f"process(es), pg pool {settings.pool_max_size}; log rows {peer_info['log_signature']}): "
                f"{q['lookups_per_s']:.1f} lookups/s  p50 {q['p50_ms']} ms  p99 {q['p99_ms']} ms  "
                f"(n={q['lookups']}, errors={q['errors']}; {peer_info['records_shown']} records shown, "
                f"{'same' if peer_info['agrees_with_platform'] else 'NOT the same'} records as the platform)",
                flush=True,
            )
        print(
            "CPU per lookup (server + PostgreSQL; raw: bench process + PostgreSQL): "
            + ", ".join(
                f"{name} {x['cpu_ms_per_lookup']} ms"
                for name, x in (("platform", p), ("raw", r), ("peer", q))
                if x is not None
            )
        )
        ratio = p["lookups_per_s"] / r["lookups_per_s"] if r["lookups_per_s"] else 0.0
        verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
        print(f"ratio platform/raw: {ratio:.2f} ({verdict} target >= {TARGET_RATIO})")
        peer_ratio = peer_cpu_ratio = None
        if q is not None:
            peer_ratio = p["lookups_per_s"] / q["lookups_per_s"] if q["lookups_per_s"] else 0.0
            verdict = "meets" if peer_ratio >= TARGET_PEER_RATIO else "BELOW"
            print(f"ratio platform/peer: {peer_ratio:.2f} ({verdict} target >= {TARGET_PEER_RATIO})")
            if p["cpu_ms_per_lookup"] and q["cpu_ms_per_lookup"]:
                peer_cpu_ratio = q["cpu_ms_per_lookup"] / p["cpu_ms_per_lookup"]
                print(
                    f"ratio peer/platform CPU per lookup: {peer_cpu_ratio:.2f} (the throughput "
                    "ratio if both were CPU-bound on the same cores; steadier on a busy machine)"
                )
        print(limiter("platform", platform.cpu, "server"))
        print(limiter("raw ceiling", raw.cpu, "client"))
        if peer is not None:
            print(limiter("peer", peer.cpu, "server"))
        noisy = max(
            platform.cpu.get("other_core_pct") or 0,
            raw.cpu.get("other_core_pct") or 0,
            (peer.cpu.get("other_core_pct") or 0) if peer is not None else 0,
        )
        if noisy >= 20:
            print(
                f"WARNING: other processes used up to {noisy:.0f}% of a core during a measured "
                "window; the figures are disturbed, run again on a quiet machine"
            )
        return {
            "benchmark": "lookup",
            "subject": demo.COMPANY,
            "records_in_db": expected,
            "records_shown": answer["records"],
            "withheld": answer["withheld"],
            "concurrency": args.concurrency,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "database": db_kind,
            "postgres_version": server_version,
            "server_pool_size": settings.pool_max_size,
            "app": args.app,
            "platform": p,
            "raw": r,
            "ratio": round(ratio, 3),
            "target_ratio": TARGET_RATIO,
            "meets_target": ratio >= TARGET_RATIO,
            "raw_order": "after the HTTP phase, uvicorn stopped, same process as the HTTP client",
            **(
                {
                    "peer": {**(q or {}), **peer_info},
                    "ratio_peer": round(peer_ratio, 3) if peer_ratio is not None else None,
                    "ratio_peer_cpu": round(peer_cpu_ratio, 3) if peer_cpu_ratio is not None else None,
                    "target_peer_ratio": TARGET_PEER_RATIO,
                    "meets_peer_target": peer_ratio is not None and peer_ratio >= TARGET_PEER_RATIO,
                }
                if args.peer
                else {}
            ),
        }
    finally:
        await db.close()

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=16, help="in-flight lookups (default 16)")
    ap.add_argument("--duration", type=float, default=15.0, help="measured seconds per phase")
    ap.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per phase")
    ap.add_argument(
        "--server-pool-size",
        type=int,
        default=None,
        help="CREDIT_POOL_MAX_SIZE for the server (default: the platform's default)",
    )
    ap.add_argument(
        "--app",
        default="api.asgi:app",
        help="ASGI app for uvicorn (default api.asgi:app; PYTHONPATH reaches the server)",
    )
    ap.add_argument(
        "--py-spy",
        metavar="FILE",
        default=None,
        help="also sample the server with py-spy during the measured platform window into FILE "
        "(.txt: collapsed stacks; else speedscope JSON). Costs some CPU; PY_SPY= names the binary",
    )
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    ap.add_argument(
        "--peer",
        action="store_true",
        help="also measure the peer, PostGraphile over row-level security (needs node and npm; "
        "skipped with a message without them), with --workers node processes",
    )
    ap.add_argument(
        "--peer-port", type=int, default=0, help="port of the peer's server (default: a free one)"
    )
    args = ap.parse_args()
    WORKERS[0] = args.workers
    if args.concurrency < 1 or args.duration <= 0 or args.warmup < 0:
        ap.error("concurrency >= 1, duration > 0, warmup >= 0")
    result = asyncio.run(main_async(args))
    print(json.dumps(result, ensure_ascii=False), flush=True)
    if result["platform"]["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
