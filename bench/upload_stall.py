"""Measure: hostile uploads against a running server while lookups run beside them.

    python bench/upload_stall.py [--port 18210] [--seconds 4]

uvicorn serves `api.asgi:app` (demo data) in a subprocess, with a probe inside it: a task that
notes the longest time the event loop took to come back to it (the stall: how long any request
waits for its next turn), and the longest garbage collection, read and reset through
`GET /__stall` (this script's addition; the app is unchanged). One client task looks up a demo
subject over GraphQL (anonymous, one at a time) and another asks /health, both all the time;
for each attack the upload is sent (the platform's own streaming client). Prints per case how
long the upload took, the server's longest stall and GC pause, and p50 / p99 / max of lookup
and /health latency (these include the machine's own contention: two cores, shared).
Database: DATABASE_URL's server (a fresh database, dropped at the end) or an embedded
PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchdb import open_bench_database  # noqa: E402

from api import demo  # noqa: E402
from api.auth.tokens import mint_token  # noqa: E402
from api.cli import TOKEN_PRESETS  # noqa: E402
from api.config import Settings  # noqa: E402
from api.db import create_pool  # noqa: E402
from api.db_migrate import migrate  # noqa: E402
from api.ingestion.client import upload  # noqa: E402

SECRET = "bench-secret-" + "s" * 40
AUDIT_KEY = "bench-audit-key-" + "k" * 40
HEADER = b"subjectKey,subjectType,subjectName,itemCode,sourceRef\n"
LOOKUP = {"query": 'query { subject(key: "91130902MA0DEM0135") { key records { id } } }'}


def serve(port: int) -> None:
    """The server side: the app, a loop-stall probe and `/__stall`."""
    import gc

    import uvicorn

    from api.asgi import app

    worst = {"stall": 0.0, "cpu": 0.0, "gc": 0.0}
    gc_started = [0.0]

    def on_gc(phase, info) -> None:
        if phase == "start":
            gc_started[0] = time.thread_time()
        else:
            worst["gc"] = max(worst["gc"], time.thread_time() - gc_started[0])

    gc.callbacks.append(on_gc)

    async def ticker() -> None:
        last, last_cpu = time.perf_counter(), time.thread_time()
        while True:
            await asyncio.sleep(0.0005)
            now, cpu = time.perf_counter(), time.thread_time()
            worst["stall"] = max(worst["stall"], now - last - 0.0005)
            worst["cpu"] = max(worst["cpu"], cpu - last_cpu)
            last, last_cpu = now, cpu

    async def probed(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/__stall":
            body = json.dumps(worst).encode()
            worst.update(stall=0.0, cpu=0.0, gc=0.0)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    async def main() -> None:
        probe_task = asyncio.create_task(ticker())
        server = uvicorn.Server(uvicorn.Config(probed, host="127.0.0.1", port=port, log_level="warning"))
        await server.serve()
        probe_task.cancel()

    asyncio.run(main())


def row(n: int, **data) -> dict:
    return {"subjectKey": demo.COMPANY,
            "subjectType": "LEGAL_PERSON", "subjectName": "沧州运河示范商贸有限公司",
            "itemCode": "ADM_LICENSING", "sourceRef": f"STALL-{n}", "decidedOn": "2026-11-02",
            "data": data or {"xk_nr": "x"}}


def attacks() -> dict[str, tuple[str, bytes]]:
    wide = json.dumps(row(0, **{f"f{i}": 1 for i in range(80_000)}), separators=(",", ":")).encode() + b"\n"
    return {
        "csv: open quote, 100k newlines (100 KB)": ("text/csv", HEADER + b'a,b,c,d,"' + b"\n" * 100_000),
        "csv: open quote, 1M CRLF (2 MB)": ("text/csv", HEADER + b'a,b,c,d,"' + b"\r\n" * 1_000_000),
        "csv: 500k one-cell rows (1 MB)": ("text/csv", HEADER + b"x\n" * 500_000),
        "ndjson: 1 row, 80k field names": ("application/x-ndjson", wide),
        "ndjson: 20 rows, 80k field names each": ("application/x-ndjson", wide * 20),
        "ndjson: 5000 rows, 30 unknown fields each": ("application/x-ndjson", b"".join(
            json.dumps(row(n, **{f"u{n}_{i}_field": "x" for i in range(30)}), ensure_ascii=False).encode() + b"\n"
            for n in range(5000))),
    }


async def body_of(data: bytes):
    for i in range(0, len(data), 1 << 16):
        yield data[i : i + (1 << 16)]


async def probe(url: str, path: str, stop: asyncio.Event, out: list[float], payload=None) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as c:
        while not stop.is_set():
            t = time.perf_counter()
            r = await (c.post(path, json=payload) if payload else c.get(path))
            out.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text


def figures(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"n={len(ms):5d} p50={statistics.median(ms):6.1f} p99={p99:6.1f} max={ms[-1]:7.1f} ms"


async def measure(url: str, work, seconds: float | None = None) -> tuple[list, list, float, dict]:
    stop = asyncio.Event()
    lookups: list[float] = []
    health: list[float] = []
    tasks = [asyncio.create_task(probe(url, "/graphql", stop, lookups, LOOKUP)),
             asyncio.create_task(probe(url, "/health", stop, health))]
    await asyncio.sleep(0.3)  # the probes are warm before the work starts
    lookups.clear()
    health.clear()
    async with httpx.AsyncClient() as c:
        await c.get(url + "/__stall")  # reset
    t = time.perf_counter()
    if work is None:
        await asyncio.sleep(seconds)
    else:
        await work
    took = time.perf_counter() - t
    async with httpx.AsyncClient() as c:
        server = (await c.get(url + "/__stall")).json()
    stop.set()
    await asyncio.gather(*tasks)
    return lookups, health, took, server


async def run(args) -> None:
    db = await open_bench_database("credit-bench-stall-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env.update(DATABASE_URL=db.dsn, CREDIT_JWT_SECRET=SECRET, CREDIT_AUDIT_KEY=AUDIT_KEY,
               CREDIT_DATA_DIR=str(db.tmpdir / "data"), PYTHONPATH=str(ROOT))
    settings = Settings.from_env(env)
    server = None
    try:
        await migrate(db.dsn, settings.migrations_dir)
        pool = await create_pool(db.dsn, audit_key=settings.audit_key, min_size=1, max_size=2)
        await demo.seed_demo(pool)
        await pool.close()
        server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(args.port)],
                                  cwd=ROOT, env=env)
        url = f"http://127.0.0.1:{args.port}"
        async with httpx.AsyncClient() as c:
            for _ in range(600):
                try:
                    if (await c.get(url + "/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        bearer = mint_token(settings, {**TOKEN_PRESETS["provider"], "roles": ["provider"], "sub": "bench"})
        print("stall: longest wall / CPU time between two turns of the server's event loop; gc: "
              "longest collection (CPU); latencies: client side, p50 / p99 / max")
        print(f"{'case':42s} {'upload':>7s} {'stall wall/cpu':>15s} {'gc':>6s}  lookup | /health")
        cases = [("quiet", None)] + [(name, upload(url, body_of(data), content_type=ctype, token=bearer))
                                     for name, (ctype, data) in attacks().items()]
        for name, work in cases:
            lookups, health, took, srv = await measure(url, work, args.seconds)
            print(f"{name:42s} {took:6.2f}s {srv['stall'] * 1000:6.1f}/{srv['cpu'] * 1000:5.1f}ms "
                  f"{srv['gc'] * 1000:5.1f}ms  {figures(lookups)} | {figures(health)}", flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18210)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the quiet period")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve:
        serve(parsed.port)
    else:
        asyncio.run(run(parsed))
