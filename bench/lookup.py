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
import sys
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

# The pieces, bench/lookup_*.py: measurement, the HTTP client, the servers, the phases.
from benchdb import open_bench_database  # noqa: E402
from lookup_http import PURPOSE  # noqa: E402
from lookup_measure import Phase, cpu_ms_per_lookup, limiter  # noqa: E402
from lookup_phases import AUDIT_KEY, peer_phase, platform_phase, raw_phase  # noqa: E402
from lookup_server import WORKERS, free_port  # noqa: E402

from api import demo  # noqa: E402
from api.auth.principal import Principal  # noqa: E402
from api.auth.tokens import mint_token  # noqa: E402
from api.cli import TOKEN_PRESETS  # noqa: E402
from api.config import Settings  # noqa: E402
from api.db import create_pool  # noqa: E402
from api.db_migrate import migrate  # noqa: E402

TARGET_RATIO = 0.7  # issue 14: platform >= 0.7 x the raw ceiling at one process
TARGET_PEER_RATIO = 2.0  # issue 14: the platform at least twice the peer's lookups/s


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
