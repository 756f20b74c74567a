"""Benchmark: the audit trail with millions of log rows (issue 4's Benchmark line).

    python bench/audit.py [--rows 10000000] [--samples 200] [--lookups 1500]

Not a test. One run, bounded, stops by itself; prints the figures and, last, one JSON line.

1. Set-up. A fresh database (DATABASE_URL's server: `credit_bench_<random>`, dropped at the end;
   otherwise an embedded PostgreSQL (pgserver) in a temporary folder, stopped at the end), all
   migrations, the demo data. Month partitions for `--months` months back from now are made with
   `credit_audit_partitions(first, last)`, then `--rows` log rows are generated set-wise in SQL
   (INSERT ... SELECT FROM generate_series, as the owner, through the partitioned parent, time
   ordered, `--loaders` statements in parallel), then VACUUM (ANALYZE) and a CHECKPOINT.
   The generated rows carry a dummy mac (sha256 of the row number) and are covered by dummy
   seals (see `seal_generated` in bench/audit_load.py): the bench never verifies them,
   `credit audit verify` on this database would report them.
2. The auditor's question "who queried subject X in the last year": `read_log` from
   api/audit/repository.py (the query the platform runs), LogFilter(subject_key=X,
   since=now-1y), first=51 (what `queryLog(first: 50)` asks for), on a connection of the
   platform's pool (role credit_app). p50/p99 over `--samples` subjects drawn three ways:
   uniformly over all subjects, by lookups (the subject of a random log row: popular subjects
   more often) and the 10 most looked-up subjects. The same with an organisation filter
   (an organisation that did query X), and the organisation alone. EXPLAIN (ANALYZE, BUFFERS)
   of the subject query for the most looked-up subject, custom and generic plan.
3. The log write's share of a lookup: api.disclosure.service.look_up (the demo credit service
   agency looks up the demo company, purpose loan_review) with the log write, and the same
   call with the module's `_write_log` replaced by a no-op (same reads, same decisions, no
   mac, no INSERT, and a read-only commit), interleaved in random order at concurrency 1.
   Added p50/p99 = p50/p99(with) - p50/p99(without). Also a breakdown of one raw lookup
   transaction: the INSERT (record_queries) and the COMMIT, against a read-only COMMIT.
4. Purge: api.audit.upkeep.purge_expired with `today` chosen so that exactly the oldest
   three-year month is expired (timed; what is left unsealed was sealed just before, timed
   too), then the remaining expired months with the real date while an auditor's read
   transaction stays open for `--hold` seconds and lookups continue: the lock the purge's
   DETACH needs, and how long lookups wait behind it.

`--index-variant at_ordered` replaces the (subject_key, id) and (org_code, id) indexes with
the earlier (subject_key, at) and (org_code, at) before the load, to compare the two without
editing the migrations. Default: the indexes exactly as migrated. bench/README.md has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

sys.path.insert(1, str(ROOT / "bench"))
# The steps, bench/audit_*.py: figures, data, load, auditor's query, lookups, purge. Database
# set-up and teardown as bench/lookup.py does it (a fresh database on DATABASE_URL's server, or
# an embedded PostgreSQL in a temporary folder), with its helper benchdb.
from audit_data import add_months, month_start, server_facts  # noqa: E402
from audit_figures import Meter, noise_line, say  # noqa: E402
from audit_load import INDEX_VARIANTS, load, seal_generated  # noqa: E402
from audit_lookups import TARGET_ADDED_MS, lookup_phase  # noqa: E402
from audit_purge import TARGET_PURGE_S, purge_phase  # noqa: E402
from audit_queries import auditor_phase  # noqa: E402
from benchdb import open_bench_database  # noqa: E402

from api import demo  # noqa: E402
from api.audit.upkeep import expired_partitions  # noqa: E402
from api.auth.policy import Policy  # noqa: E402
from api.catalog import Catalog  # noqa: E402
from api.config import Settings  # noqa: E402
from api.db import create_pool  # noqa: E402
from api.db_migrate import migrate  # noqa: E402
from api.disclosure.service import Disclosure  # noqa: E402

TARGET_QUERY_P99_MS = 50.0


async def main_async(args) -> dict[str, Any]:
    rng = random.Random(args.seed)
    t_start = time.perf_counter()
    db = await open_bench_database("credit-bench-audit-")
    tmpdir, dsn, dbname, db_kind = db.tmpdir, db.dsn, db.dbname, db.kind
    result: dict[str, Any] = {"benchmark": "audit", "database": db_kind}
    try:
        key = secrets.token_bytes(32)
        settings = Settings.from_env({"DATABASE_URL": dsn, "CREDIT_JWT_SECRET": "x" * 40,
                                      "CREDIT_AUDIT_KEY": key.hex(),
                                      "CREDIT_DATA_DIR": str(tmpdir / "data")})
        key = settings.audit_key
        await migrate(dsn, settings.migrations_dir)
        owner = await asyncpg.connect(dsn)
        try:
            facts = await server_facts(owner)
        finally:
            await owner.close()
        result["server"] = facts
        say(f"bench/audit.py: {args.rows:,} log rows over {args.months} months, "
            f"{args.subjects:,} subjects, {args.orgs} organisations; {os.cpu_count()} cores")
        say(f"database: {db_kind}, PostgreSQL {facts['server_version']}, {dbname}; "
            + ", ".join(f"{k}={v}" for k, v in facts.items() if k != "server_version"))

        pool = await create_pool(dsn, audit_key=key, min_size=1, max_size=2)
        try:
            await demo.seed_demo(pool)
            catalog = Catalog(pool)
            await catalog.reload()
            d = Disclosure(pool=pool, policy=Policy.load(settings.policy_dir), catalog=catalog)

            first_month = add_months(month_start(dt.date.today()), -(args.months - 1))
            meter = Meter(dsn, dbname)
            await meter.begin()
            result["load"] = await load(dsn, args, first_month, meter)
            result["load"]["cpu"] = cpu = await meter.end()
            say(noise_line(cpu))
            to_purge = expired_partitions(
                [f"query_log_three_years_{add_months(first_month, i):%Y_%m}"
                 for i in range(args.months)], dt.date.today())
            sealed = await seal_generated(dsn, to_purge)
            result["load"]["stand_in_seals"] = sealed
            say(f"stand-in seals: {sealed['seals']:,} "
                f"({sealed['window_seals_of_partitions_to_purge']:,} one per 10-s window in "
                f"the {len(to_purge)} partitions to purge) in {sealed['seconds']} s")

            meter = Meter(dsn, dbname)
            await meter.begin()
            result["auditor_query"] = await auditor_phase(pool, args, rng)
            result["auditor_query"]["cpu"] = cpu = await meter.end()
            say(noise_line(cpu))
            await meter.begin()
            result["lookup_log_write"] = await lookup_phase(dsn, d, args, rng)
            result["lookup_log_write"]["cpu"] = cpu = await meter.end()
            say(noise_line(cpu))
            await meter.begin()
            result["purge"] = await purge_phase(dsn, d, key, args, first_month, meter)
            result["purge"]["cpu"] = cpu = await meter.end()
            say(noise_line(cpu))
        finally:
            await pool.close()

        aq, lw, pg = result["auditor_query"], result["lookup_log_write"], result["purge"]
        worst_p99 = max(v["p99_ms"] for v in aq["subject"].values())
        result["targets"] = {
            "subject_last_year_p99_ms": worst_p99,
            "subject_last_year_p99_target_ms": TARGET_QUERY_P99_MS,
            "subject_last_year_meets": worst_p99 < TARGET_QUERY_P99_MS,
            "log_write_added_p99_ms": lw["added"]["p99_ms"],
            "log_write_added_p50_ms": lw["added"]["p50_ms"],
            "log_write_added_target_ms": TARGET_ADDED_MS,
            "log_write_meets": lw["added"]["p99_ms"] <= TARGET_ADDED_MS,
            "purge_one_month_s": pg.get("one_month", {}).get("seconds"),
            "purge_one_month_rows": pg.get("one_month", {}).get("rows"),
            "purge_target_s": TARGET_PURGE_S,
            "purge_meets": (pg.get("one_month", {}).get("seconds") or 99) < TARGET_PURGE_S,
        }
        t = result["targets"]
        say("\nsummary:")
        say(f"  who queried subject X in the last year: worst p99 over the sample sets "
            f"{worst_p99} ms ({'meets' if t['subject_last_year_meets'] else 'MISSES'} < 50 ms)")
        say(f"  log write added to a lookup: p50 {t['log_write_added_p50_ms']} ms, p99 "
            f"{t['log_write_added_p99_ms']} ms ({'meets' if t['log_write_meets'] else 'MISSES'}"
            f" <= 1 ms at p99)")
        say(f"  purge of one expired month ({t['purge_one_month_rows']:,} rows): "
            f"{t['purge_one_month_s']} s ({'meets' if t['purge_meets'] else 'MISSES'} < 1 s)")
        result["total_s"] = round(time.perf_counter() - t_start, 1)
        say(f"  total run time {result['total_s']} s")
        result["args"] = vars(args)
        return result
    finally:
        await db.close()

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="log rows (default 10,000,000)")
    ap.add_argument("--months", type=int, default=40,
                    help="months of log, counting this one (default 40: three-year months expire)")
    ap.add_argument("--subjects", type=int, default=1_000_000, help="distinct subjects")
    ap.add_argument("--orgs", type=int, default=500, help="organisations that query")
    ap.add_argument("--samples", type=int, default=200, help="subjects per auditor query set")
    ap.add_argument("--org-samples", type=int, default=30, help="organisation-only queries")
    ap.add_argument("--lookups", type=int, default=1500, help="lookups with and without the log")
    ap.add_argument("--lookup-warmup", type=int, default=100)
    ap.add_argument("--loaders", type=int, default=2, help="parallel INSERT statements")
    ap.add_argument("--chunk", type=int, default=250_000, help="rows per INSERT statement")
    ap.add_argument("--hold", type=float, default=2.0,
                    help="seconds an auditor's read stays open during the second purge")
    ap.add_argument("--seed", type=int, default=41)
    ap.add_argument("--index-variant", choices=sorted(INDEX_VARIANTS), default="migrated",
                    help="migrated (default): the indexes of migrations/0001_core.sql; "
                    "at_ordered: (subject_key, at) and (org_code, at) instead of (..., id)")
    args = ap.parse_args()
    if args.rows < 1000 or args.months < 38 or args.loaders < 1 or args.samples < 10:
        ap.error("rows >= 1000, months >= 38 (so that a three-year month has expired), "
                 "loaders >= 1, samples >= 10")
    if args.org_samples < 4:
        ap.error("org-samples >= 4")
    result = asyncio.run(main_async(args))
    print(json.dumps(result, ensure_ascii=False, default=str), flush=True)


if __name__ == "__main__":
    main()
