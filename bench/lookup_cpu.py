"""CPU per lookup, in process: the app's ASGI stack without the HTTP server, and its database.

    python bench/lookup_cpu.py [--lookups 400] [--batches 7] [--concurrency 16]

The same lookup as bench/lookup.py (the demo credit service agency, the demo company, purpose
loan_review, the same GraphQL document and token) goes through `create_app()` as an ASGI call:
the guard, the token gate, the rate limiter (raised out of the way, still counting), Strawberry,
the disclosure service and the query log; only uvicorn's socket and HTTP parsing are missing.
Each batch runs `--lookups` lookups at `--concurrency` and measures the CPU time of this process
and of the database's backends for the bench database (psutil), per lookup. The machine may be
busy: CPU time is less disturbed than throughput, and the least of the batches is the least
disturbed; the output gives the minimum and the median of the batches. With `--profile FILE`
the batches run under cProfile (sorted by cumulative time, as text).

Database: as bench/lookup.py (DATABASE_URL's server, a fresh database dropped at the end, or an
embedded server)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import asyncpg
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchdb import open_bench_database  # noqa: E402
from lookup_http import PURPOSE, QUERY  # noqa: E402
from lookup_phases import AUDIT_KEY  # noqa: E402

from api import demo  # noqa: E402
from api.auth.tokens import mint_token  # noqa: E402
from api.cli import TOKEN_PRESETS  # noqa: E402
from api.config import Settings  # noqa: E402
from api.db import create_pool  # noqa: E402
from api.db_migrate import migrate  # noqa: E402


def asgi_request(token: str) -> tuple[dict, bytes]:
    body = json.dumps({"query": QUERY, "variables": {"k": demo.COMPANY, "p": PURPOSE}}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 18700),
        "headers": [
            (b"host", b"127.0.0.1:18700"), (b"content-type", b"application/json"),
            (b"accept", b"application/json"), (b"authorization", f"Bearer {token}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return scope, body


async def call(app, scope: dict, body: bytes) -> tuple[int, bytes]:
    sent = False
    status = 0
    out: list[bytes] = []

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays: nothing more arrives

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            out.append(message.get("body", b""))

    await app(dict(scope), receive, send)
    return status, b"".join(out)


async def backends(dsn: str, dbname: str) -> list[psutil.Process]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", dbname
        )
    finally:
        await conn.close()
    return [psutil.Process(r["pid"]) for r in rows]


def cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


async def main_async(args) -> dict:
    db = await open_bench_database("credit-bench-cpu-")
    try:
        env = {
            "DATABASE_URL": db.dsn, "CREDIT_JWT_SECRET": "bench-secret-" + "s" * 32,
            "CREDIT_DATA_DIR": str(db.tmpdir / "data"), "CREDIT_AUDIT_KEY": AUDIT_KEY,
            "CREDIT_RATE_LIMIT_CREDIT_SERVICE": "1000000/second",
        }
        os.environ.update(env)
        settings = Settings.from_env(env)
        await migrate(db.dsn, settings.migrations_dir)
        pool = await create_pool(db.dsn, audit_key=settings.audit_key)
        try:
            await demo.seed_demo(pool)
        finally:
            await pool.close()
        claims = {**TOKEN_PRESETS["credit_service"], "roles": ["credit_service"], "sub": "bench"}
        token = mint_token(settings, claims, ttl_seconds=3600)
        scope, body = asgi_request(token)

        from api.app import create_app

        app = create_app(settings)
        async with app.router.lifespan_context(app):
            status, first = await call(app, scope, body)
            doc = json.loads(first)
            if status != 200 or doc.get("errors") or not doc["data"]["subject"]["records"]:
                raise SystemExit(f"first lookup failed: {status} {first[:500]!r}")
            procs = await backends(db.dsn, db.dbname)
            me = psutil.Process()
            per_batch = []

            async def batch() -> tuple[float, float, float]:
                queue = iter(range(args.lookups))

                async def worker():
                    for _ in queue:
                        s, b = await call(app, scope, body)
                        if s != 200 or b'"errors"' in b:
                            raise SystemExit(f"lookup failed: {s} {b[:300]!r}")

                procs[:] = await backends(db.dsn, db.dbname)
                p0, d0, w0 = cpu([me]), cpu(procs), time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(args.concurrency)))
                p1, d1, w1 = cpu([me]), cpu(procs), time.perf_counter()
                n = args.lookups
                return (p1 - p0) / n * 1000, (d1 - d0) / n * 1000, (w1 - w0) / n * 1000

            await batch()  # warm-up
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            for _ in range(args.batches):
                per_batch.append(await batch())
            if profiler is not None:
                profiler.disable()
                import pstats

                if args.profile.endswith(".prof"):  # raw stats, for pstats or snakeviz
                    profiler.dump_stats(args.profile)
                else:
                    with open(args.profile, "w") as f:
                        pstats.Stats(profiler, stream=f).sort_stats("cumulative").print_stats(80)
    finally:
        await db.close()
    app_ms = [b[0] for b in per_batch]
    db_ms = [b[1] for b in per_batch]
    total = [b[0] + b[1] for b in per_batch]
    return {
        "lookups_per_batch": args.lookups, "batches": args.batches,
        "concurrency": args.concurrency,
        "app_cpu_ms": {"min": round(min(app_ms), 3), "median": round(statistics.median(app_ms), 3)},
        "db_cpu_ms": {"min": round(min(db_ms), 3), "median": round(statistics.median(db_ms), 3)},
        "total_cpu_ms": {"min": round(min(total), 3), "median": round(statistics.median(total), 3)},
        "wall_ms_per_lookup_min": round(min(b[2] for b in per_batch), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lookups", type=int, default=400, help="lookups per batch")
    ap.add_argument("--batches", type=int, default=7)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--profile", metavar="FILE", default=None, help="cProfile the batches")
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(main_async(args))
    print(
        f"CPU per lookup (min / median of {args.batches} batches of {args.lookups}): "
        f"app {result['app_cpu_ms']['min']} / {result['app_cpu_ms']['median']} ms, "
        f"database {result['db_cpu_ms']['min']} / {result['db_cpu_ms']['median']} ms, "
        f"total {result['total_cpu_ms']['min']} / {result['total_cpu_ms']['median']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
