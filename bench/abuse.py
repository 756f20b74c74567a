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
import json
import multiprocessing
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The pieces, bench/abuse_*.py: the attacks and their raw HTTP, the server under attack.
from abuse_attacks import ATTACK_TIMEOUT, ATTACKS, run_attack  # noqa: E402
from abuse_server import AUDIT_KEY, healthy, seed, start_server, tokens  # noqa: E402
from benchdb import open_bench_database  # noqa: E402
from lookup_http import HttpConnection, build_request  # noqa: E402
from lookup_server import free_port, stop_server  # noqa: E402

from api.config import Settings  # noqa: E402

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
