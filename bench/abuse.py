"""Benchmark: each attack of issue 8 against a running platform while a steady lookup load runs.

    python bench/abuse.py [--rate 40] [--window 5] [--attack-rate 10] [--only NAME,...]

Starts uvicorn as `credit serve` does (the bounded-head protocol) on 127.0.0.1 with a throw-away
database (DATABASE_URL's server, or an embedded PostgreSQL; see bench/benchdb.py), seeds the
demo and enough trail for exports to be long. A separate process sends authorized lookups at a
fixed rate the whole time. For each attack it measures the lookups for `window` seconds without
the attack, then while the attack runs, and prints p50/p99 side by side with the attack's own
answer (status, code, seconds). An attack that leaves the server unable to answer /health within
10 s is reported as such and the server is restarted, so the bench always ends. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import secrets
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchdb import open_bench_database  # noqa: E402
from lookup_http import HttpConnection, build_request  # noqa: E402
from lookup_server import free_port, stop_server  # noqa: E402

from api import demo  # noqa: E402
from api.audit.repository import LogEntry, record_queries  # noqa: E402
from api.auth.principal import Principal, RequestInfo  # noqa: E402
from api.auth.tokens import mint_token  # noqa: E402
from api.cli import TOKEN_PRESETS  # noqa: E402
from api.config import Settings  # noqa: E402
from api.db import create_pool  # noqa: E402
from api.db_migrate import migrate  # noqa: E402
from api.identifiers import build_uscc  # noqa: E402

AUDIT_KEY = "bench-audit-key-" + "a" * 40
ATTACK_TIMEOUT = 30.0
TRAIL_ROWS = 60_000


# --- the steady load (its own process, so attack traffic never delays its clock) ------------

def load_main(port: int, raw: bytes, rate: float, stop, out) -> None:
    asyncio.run(_load(port, raw, rate, stop, out))


async def _load(port: int, raw: bytes, rate: float, stop, out) -> None:
    samples: list[tuple[float, float, bool]] = []
    workers = 4

    async def worker(offset: float) -> None:
        conn = HttpConnection("127.0.0.1", port)
        period = workers / rate
        next_at = time.monotonic() + offset
        while not stop.is_set():
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))  # the load's fixed pace
            next_at += period
            t0 = time.monotonic()
            try:
                status, body = await asyncio.wait_for(conn.request(raw), ATTACK_TIMEOUT)
                ok = status == 200 and b'"errors"' not in body
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                conn.close()
                ok = False
            samples.append((time.monotonic(), time.monotonic() - t0, ok))

    await asyncio.gather(*(worker(i / rate) for i in range(workers)))
    out.send(samples)


def percentiles(samples, start: float, end: float) -> dict:
    """Lookups *sent* within [start, end] (one held up by the attack counts, however late it ends)."""
    lat = sorted(s[1] for s in samples if start <= s[0] - s[1] <= end and s[2])
    failed = sum(1 for s in samples if start <= s[0] - s[1] <= end and not s[2])
    if not lat:
        return {"n": 0, "failed": failed, "p50_ms": None, "p99_ms": None}
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return {"n": len(lat), "failed": failed, "p50_ms": round(statistics.median(lat) * 1000, 1),
            "p99_ms": round(p99 * 1000, 1)}


# --- raw HTTP for attacks ------------------------------------------------------------------------

async def exchange(port: int, head: bytes, body_parts=(), *, pause: float = 0.0,
                   timeout: float = ATTACK_TIMEOUT) -> dict:
    """Send a request (body in parts, `pause` between them, stopping once answered); returns
    status, code and seconds until the answer (or what went wrong)."""
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        return {"status": None, "error": type(e).__name__, "seconds": 0.0}
    raw = bytearray()
    answered = asyncio.Event()

    async def read() -> None:
        try:
            while chunk := await reader.read(1 << 16):
                raw.extend(chunk)
                answered.set()
        except OSError:
            pass
        answered.set()

    reading = asyncio.ensure_future(read())
    try:
        writer.write(head)
        for part in body_parts:
            if answered.is_set():
                break
            writer.write(part)
            await writer.drain()
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered.wait(), pause)
        await asyncio.wait_for(answered.wait(), max(0.1, timeout - (time.monotonic() - t0)))
        seconds = time.monotonic() - t0
        await asyncio.wait_for(reading, max(1.0, timeout - seconds))  # a streamed answer: to its end
        total = time.monotonic() - t0
    except (TimeoutError, OSError) as e:
        return {"status": None, "error": type(e).__name__, "seconds": round(time.monotonic() - t0, 3)}
    finally:
        writer.close()
        reading.cancel()
    head_part, _, body = bytes(raw).partition(b"\r\n\r\n")
    try:
        status = int(head_part.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return {"status": None, "error": "no answer", "seconds": round(seconds, 3)}
    return {"status": status, "code": _code(body), "seconds": round(seconds, 3), "total_s": round(total, 3)}


def _code(body: bytes) -> str | None:
    text = body.decode("utf-8", "replace")
    for marker in ('"code": "', '"code":"'):
        i = text.find(marker)
        if i >= 0:
            return text[i + len(marker):].split('"', 1)[0]
    return None


def post(path: str, body_len: int | None, ctype: str, token: str | None = None, extra: str = "") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", f"Content-Type: {ctype}"]
    lines.append(f"Content-Length: {body_len}" if body_len is not None else "Transfer-Encoding: chunked")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def gql(port: int, document: str, variables: dict | None = None, token: str | None = None):
    body = json.dumps({"query": document, "variables": variables or {}}).encode()
    return exchange(port, post("/graphql", len(body), "application/json", token) + body)


# --- the attacks -------------------------------------------------------------------------------

def fragment_bomb(n: int) -> str:
    frags = [f"fragment F{i} on Query{{...F{i + 1} ...F{i + 1}}}" for i in range(n)]
    return "query{...F0} " + " ".join(frags) + f" fragment F{n} on Query{{__typename}}"


async def attack_fragments(ctx, n: int) -> dict:
    return await gql(ctx["port"], fragment_bomb(n))


async def attack_quadratic_csv(ctx) -> dict:
    body = b"subjectKey,itemCode,sourceRef,decidedOn\n\"" + b"\n" * 100_000
    return await exchange(ctx["port"], post("/upload/records", len(body), "text/csv", ctx["provider"]) + body)


async def attack_wide_row(ctx) -> dict:
    row = {"subjectKey": demo.COMPANY, "itemCode": "ADM_LICENSING", "sourceRef": "W-1",
           "decidedOn": "2026-11-02", "data": {f"f{i}": "x" for i in range(80_000)}}
    body = json.dumps(row).encode() + b"\n"
    return await exchange(ctx["port"], post("/upload/records", len(body), "application/x-ndjson",
                                            ctx["provider"]) + body)


async def attack_big_body(ctx) -> dict:
    size = 47 << 20
    piece = b" " * (1 << 20)
    return await exchange(ctx["port"], post("/graphql", size, "application/json"), [piece] * 47)


async def attack_big_header(ctx) -> dict:
    head = b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
    return await exchange(ctx["port"], head, [b"a" * (1 << 20)] * 10 + [b"\r\n\r\n"])


async def attack_trickle(ctx) -> dict:
    body = json.dumps({"query": "{ purposes { code } }"}).encode()
    return await exchange(ctx["port"], post("/graphql", len(body), "application/json"),
                          [bytes([b]) for b in body], pause=15.0, timeout=60.0)


async def attack_slow_exports(ctx) -> dict:
    """Ten auditors' exports read at 1 KB/s for the window; the answer is each one's status."""
    port, window = ctx["port"], ctx["window"]

    async def one() -> int | None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=4096)
        except OSError:
            return None
        try:
            writer.write((f"GET /audit/export?format=ndjson HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Authorization: Bearer {ctx['auditor']}\r\n\r\n").encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            deadline = time.monotonic() + window
            while time.monotonic() < deadline and await reader.read(256):
                await asyncio.sleep(0.25)  # the slow reader's pace
            return int(head.split()[1])
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return None
        finally:
            writer.close()

    t0 = time.monotonic()
    statuses = await asyncio.gather(*(one() for _ in range(10)))
    counts: dict[str, int] = {}
    for s in statuses:
        counts[str(s)] = counts.get(str(s), 0) + 1
    return {"status": counts, "seconds": round(time.monotonic() - t0, 3)}


async def attack_aliased_batch(ctx) -> dict:
    """20 aliases of `subjects` with 100 distinct keys each: 2,000 subjects in one request."""
    keys = [build_uscc("91", "130902", f"{n:08d}") for n in range(2000)]
    variables = {f"k{i}": keys[i * 100:(i + 1) * 100] for i in range(20)}
    head = ", ".join(f"$k{i}: [ID!]!" for i in range(20))
    fields = " ".join(f"a{i}: subjects(keys: $k{i}, purpose: \"loan_review\") {{ key }}" for i in range(20))
    return await gql(ctx["port"], f"query({head}) {{ {fields} }}", variables, ctx["agency"])


async def attack_flood(ctx) -> dict:
    """64 connections as fast as they can, anonymous, for the window."""
    raw = ctx["anonymous_lookup"]
    counts: dict[str, int] = {}
    stop_at = time.monotonic() + ctx["window"]

    async def one() -> None:
        conn = HttpConnection("127.0.0.1", ctx["port"])
        try:
            while time.monotonic() < stop_at:
                try:
                    status, _ = await asyncio.wait_for(conn.request(raw), 10)
                except (OSError, TimeoutError, asyncio.IncompleteReadError):
                    conn.close()
                    status = None
                counts[str(status)] = counts.get(str(status), 0) + 1
        finally:
            conn.close()

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(64)))
    return {"status": counts, "seconds": round(time.monotonic() - t0, 3)}


ATTACKS = {
    "fragments_n20": lambda ctx: attack_fragments(ctx, 20),
    "fragments_n30": lambda ctx: attack_fragments(ctx, 30),
    "quadratic_csv": attack_quadratic_csv,
    "ndjson_80k_fields": attack_wide_row,
    "body_47MB": attack_big_body,
    "header_10MB": attack_big_header,
    "trickle_body": attack_trickle,
    "ten_slow_exports": attack_slow_exports,
    "aliased_2000_subjects": attack_aliased_batch,
    "rate_flood": attack_flood,
}

REPEATED = {"fragments_n20", "fragments_n30", "quadratic_csv", "ndjson_80k_fields", "body_47MB",
            "header_10MB", "aliased_2000_subjects"}


# --- the server ----------------------------------------------------------------------------------

def start_server(env: dict[str, str], port: int, log_path: Path):
    import subprocess

    code = ("import uvicorn; from api.guard.protocol import BoundedHttpToolsProtocol as P; "
            f"uvicorn.run('api.asgi:app', host='127.0.0.1', port={port}, log_level='warning', "
            "access_log=False, http=P)")
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)


async def healthy(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = await exchange(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                           timeout=max(0.2, deadline - time.monotonic()))
        if r.get("status") == 200:
            return True
        await asyncio.sleep(0.2)  # polling for health, bounded by `seconds`
    return False


async def seed(dsn: str, settings: Settings) -> None:
    await migrate(dsn, settings.migrations_dir)
    pool = await create_pool(dsn, audit_key=settings.audit_key)
    try:
        await demo.seed_demo(pool)
        who = Principal(user_id="bench-trail", name="bench", org_code=None, org_name=None,
                        roles=("credit_service",))
        entries = [LogEntry("subject", demo.COMPANY, "loan_review", "not_found", reason="x" * 200)] * 1000
        async with pool.acquire() as conn:
            for _ in range(TRAIL_ROWS // len(entries)):
                async with conn.transaction():
                    await record_queries(conn, who, RequestInfo(str(uuid.uuid4()), "127.0.0.1"),
                                         entries, at=await conn.fetchval("SELECT now()"))
    finally:
        await pool.close()


def tokens(settings: Settings) -> dict[str, str]:
    def mint(role: str) -> str:
        claims = {**TOKEN_PRESETS[role], "roles": [role], "sub": f"bench-{role}"}
        return mint_token(settings, {k: v for k, v in claims.items() if v is not None}, ttl_seconds=7200)

    return {"agency": mint("credit_service"), "provider": mint("provider"), "auditor": mint("auditor")}


async def run_attack(name: str, ctx: dict) -> dict:
    attack = ATTACKS[name]
    t0 = time.monotonic()
    first = await attack(ctx)
    runs, slowest = 1, first.get("total_s", first.get("seconds", 0.0))
    if name in REPEATED:  # a sustained attack: again, `attack_rate` times a second, for the window
        while time.monotonic() - t0 < ctx["window"] and runs < 1000:
            await asyncio.sleep(max(0.0, t0 + runs / ctx["attack_rate"] - time.monotonic()))  # pace
            r = await attack(ctx)
            runs += 1
            slowest = max(slowest, r.get("total_s", r.get("seconds", 0.0)))
    return {**first, "runs": runs, "slowest_s": round(slowest, 3), "ended": time.monotonic()}


async def main_async(args) -> list[dict]:
    db = await open_bench_database("credit-abuse-")
    proc = None
    stop = multiprocessing.get_context("spawn").Event()
    try:
        env_settings = {"DATABASE_URL": db.dsn, "CREDIT_JWT_SECRET": "bench-" + secrets.token_urlsafe(32),
                        "CREDIT_DATA_DIR": str(db.tmpdir / "data"), "CREDIT_AUDIT_KEY": AUDIT_KEY}
        settings = Settings.from_env(env_settings)
        await seed(db.dsn, settings)
        port = free_port()
        # the steady lookups are one agency caller at --rate per second: its role's rate limit is
        # raised above that, so what is measured is the attacks' effect; the public's stays
        env = {**os.environ, **env_settings, "PYTHONPATH": str(ROOT),
               "CREDIT_RATE_LIMIT_CREDIT_SERVICE": "1000/second;100000/minute"}
        log_path = db.tmpdir / "uvicorn.log"
        proc = start_server(env, port, log_path)
        if not await healthy(port, 60):
            raise SystemExit(f"the server did not start; see {log_path}")
        ctx = {"port": port, "window": args.window, "attack_rate": args.attack_rate, **tokens(settings)}
        ctx["anonymous_lookup"] = build_request("127.0.0.1", port, "").replace(
            b"Authorization: Bearer \r\n", b"")
        lookup = build_request("127.0.0.1", port, ctx["agency"])
        spawn = multiprocessing.get_context("spawn")
        receiver, sender = spawn.Pipe(duplex=False)
        load = spawn.Process(target=load_main, args=(port, lookup, args.rate, stop, sender))
        load.start()
        await asyncio.sleep(2.0)  # the load's warm-up, unmeasured
        names = [n for n in ATTACKS if not args.only or n in args.only.split(",")]
        phases = []
        for name in names:
            base_from = time.monotonic()
            await asyncio.sleep(args.window)  # the window without the attack
            base_to = time.monotonic()
            try:
                result = await asyncio.wait_for(run_attack(name, ctx), ATTACK_TIMEOUT + 60)
            except TimeoutError:
                result = {"status": None, "error": "attack did not end", "ended": time.monotonic()}
            if not await healthy(port, 10):
                result["server"] = "did not answer /health within 10 s; restarted"
                stop_server(proc)
                proc = start_server(env, port, log_path)
                if not await healthy(port, 60):
                    raise SystemExit(f"the server did not restart; see {log_path}")
            phases.append({"attack": name, "base": (base_from, base_to),
                           "with": (base_to, max(result.pop("ended"), base_to + 0.5)), "result": result})
            print(f"  {name}: {json.dumps(result, ensure_ascii=False)}", flush=True)
        stop.set()
        samples = receiver.recv()
        load.join(30)
        for p in phases:
            p["without"] = percentiles(samples, *p.pop("base"))
            p["during"] = percentiles(samples, *p.pop("with"))
        return phases
    finally:
        stop.set()
        if proc is not None:
            stop_server(proc)
        await db.close()


def report(phases: list[dict], rate: float) -> None:
    print(f"\nlookup load: {rate:g}/s (credit service, authorized subject); p50/p99 in ms\n")
    print(f"{'attack':24} {'attack answer':44} {'without p50/p99':>17} {'with p50/p99':>17} {'p99 x':>6}")
    for p in phases:
        r = p["result"]
        answer = f"{r.get('status')} {r.get('code') or r.get('error') or ''} {r.get('total_s', r.get('seconds'))}s"
        if r.get("runs", 1) > 1:
            answer += f" x{r['runs']} (max {r['slowest_s']}s)"
        if r.get("server"):
            answer += " SERVER BLOCKED"
        w, d = p["without"], p["during"]
        ratio = (d["p99_ms"] / w["p99_ms"]) if d["p99_ms"] and w["p99_ms"] else None
        fail = f" ({d['failed']} failed)" if d["failed"] else ""
        print(f"{p['attack']:24} {answer[:44]:44} {w['p50_ms']!s:>7}/{w['p99_ms']!s:<9} "
              f"{d['p50_ms']!s:>7}/{d['p99_ms']!s:<9} {ratio and round(ratio, 2)!s:>6}{fail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=40.0, help="steady lookups per second (default 40)")
    ap.add_argument("--window", type=float, default=5.0, help="seconds measured without and with each attack")
    ap.add_argument("--attack-rate", type=float, default=10.0,
                    help="how often a quick attack is repeated per second during its window (default 10)")
    ap.add_argument("--only", default="", help=f"comma-separated attacks of: {', '.join(ATTACKS)}")
    args = ap.parse_args()
    if args.rate <= 0 or args.window <= 0 or args.attack_rate <= 0:
        ap.error("rate, window and attack rate must be positive")
    unknown = set(filter(None, args.only.split(","))) - set(ATTACKS)
    if unknown:
        ap.error(f"unknown attacks: {sorted(unknown)}")
    phases = asyncio.run(main_async(args))
    report(phases, args.rate)
    print(json.dumps({"benchmark": "abuse", "rate": args.rate, "window_s": args.window,
                      "phases": phases}, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
