"""Step 1 of the audit trail benchmark (bench/audit.py): the log rows generated in SQL, the
index variant, and the stand-in seals that cover them."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import asyncpg
from audit_data import LOAD_SQL, log_size, month_start
from audit_figures import Meter, say

# --index-variant at_ordered: the (subject_key, at) and (org_code, at) indexes the trail had
# before this benchmark showed that its "newest first by id" reads want (subject_key, id) and
# (org_code, id), as migrations/0001_core.sql now has. Made before the load, so that these
# indexes grow row by row as the migrated ones do.
INDEX_VARIANTS = {
    "migrated": [],
    "at_ordered": [
        "DROP INDEX query_log_subject_idx",
        "DROP INDEX query_log_org_idx",
        "CREATE INDEX query_log_subject_at_idx ON query_log (subject_key, at)",
        "CREATE INDEX query_log_org_at_idx ON query_log (org_code, at)",
    ],
}


async def load(dsn: str, args, first_month: dt.date, meter: Meter) -> dict[str, Any]:
    """Generate args.rows rows from the first day of `first_month` to now, time ordered."""
    owner = await asyncpg.connect(dsn)
    try:
        t0 = time.perf_counter()
        made = await owner.fetchval(
            "SELECT credit_audit_partitions($1, $2)", first_month, month_start(dt.date.today())
        )
        t_parts = time.perf_counter() - t0
        for ddl in INDEX_VARIANTS[args.index_variant]:
            await owner.execute(ddl)
        indexes = [r["indexdef"] for r in await owner.fetch(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'query_log' ORDER BY indexname")]
        start = dt.datetime.combine(first_month, dt.time(), dt.UTC)
        now = await owner.fetchval("SELECT now()")
        step = (now - start).total_seconds() / args.rows
        id0 = await owner.fetchval("SELECT nextval('query_log_id_seq')") + 1
        await owner.execute("SELECT setval('query_log_id_seq', $1)", id0 + args.rows)
    finally:
        await owner.close()
    say(f"partitions: {made} made for {first_month:%Y-%m}..now in {t_parts:.2f} s")
    say(f"indexes ({args.index_variant}): " + "; ".join(
        i.split(" USING btree ")[-1].replace("query_log ", "") for i in indexes))

    chunk = args.chunk
    chunks = [(lo, min(lo + chunk, args.rows) - 1) for lo in range(0, args.rows, chunk)]
    # Contiguous runs per loader: loaders write different months, not the same index pages.
    per = -(-len(chunks) // args.loaders)
    runs = [chunks[i * per:(i + 1) * per] for i in range(args.loaders)]
    done = 0
    t0 = time.perf_counter()
    next_report = [0.1]

    async def loader(run: list[tuple[int, int]]) -> None:
        nonlocal done
        conn = await asyncpg.connect(dsn)
        try:
            for lo, hi in run:
                await conn.execute(LOAD_SQL, lo, hi, id0, start, step, args.subjects, args.orgs,
                                   timeout=3600)
                done += hi - lo + 1
                if done / args.rows >= next_report[0]:
                    el = time.perf_counter() - t0
                    say(f"  loaded {done:>11,} rows in {el:6.1f} s ({done / el:,.0f} rows/s)")
                    next_report[0] += 0.1
            await meter.sample()  # before this backend goes
        finally:
            await conn.close()

    loading = [True]

    async def sampler() -> None:
        while loading[0]:
            await asyncio.sleep(0.5)
            await meter.sample()

    async def load_all() -> None:
        try:
            await asyncio.gather(*(loader(r) for r in runs if r))
        finally:
            loading[0] = False

    await asyncio.gather(sampler(), load_all())
    t_load = time.perf_counter() - t0

    owner = await asyncpg.connect(dsn)
    try:
        await meter.sample()
        t0 = time.perf_counter()
        await owner.execute("VACUUM (ANALYZE) query_log", timeout=3600)
        t_vac = time.perf_counter() - t0
        t0 = time.perf_counter()
        await owner.execute("CHECKPOINT", timeout=3600)
        t_ckpt = time.perf_counter() - t0
        await meter.sample()
        size = await log_size(owner)
    finally:
        await owner.close()
    say(
        f"load: {args.rows:,} rows in {t_load:.1f} s ({args.rows / t_load:,.0f} rows/s, "
        f"{args.loaders} parallel INSERT ... SELECT generate_series, chunks of {chunk:,}); "
        f"VACUUM (ANALYZE) {t_vac:.1f} s; CHECKPOINT {t_ckpt:.1f} s"
    )
    say(
        f"query_log: {size['leaf_partitions']} leaf partitions, heap {size['heap_gib']} GiB, "
        f"indexes {size['indexes_gib']} GiB, total {size['total_gib']} GiB"
    )
    return {
        "rows": args.rows,
        "first_month": first_month.isoformat(),
        "seconds_between_rows": round(step, 3),
        "partitions_made_s": round(t_parts, 2),
        "load_s": round(t_load, 1),
        "rows_per_s": round(args.rows / t_load),
        "vacuum_analyze_s": round(t_vac, 1),
        "checkpoint_s": round(t_ckpt, 1),
        "loaders": args.loaders,
        "index_variant": args.index_variant,
        "indexes": indexes,
        **size,
    }


async def seal_generated(dsn: str, to_purge: list[str]) -> dict[str, Any]:
    """Stand-in seals for the generated rows, so that the purge meets the state the platform's
    sealer (every 10 s) leaves: nothing old unsealed. Partitions the purge will drop get one seal
    per 10-second window that has rows (what the sealer makes: the purge reads and hashes them
    all); every other partition one seal. Digests, id lists and macs are dummies: verification
    would fail, the bench does not verify."""
    owner = await asyncpg.connect(dsn)
    try:
        t0 = time.perf_counter()
        async with owner.transaction():
            horizon = await owner.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
            seq = await owner.fetchval("SELECT coalesce(max(seq), 0) FROM audit_seals")
            leaves = [r["name"] for r in await owner.fetch(
                """SELECT relid::regclass::text AS name FROM pg_partition_tree('query_log')
                   WHERE isleaf ORDER BY 1""")]
            windows = 0
            for name in leaves:
                if name in to_purge:
                    status = await owner.execute(
                        f"""INSERT INTO audit_seals (seq, partition, xact_from, xact_to, row_count,
                                ids, digest, prev_mac, mac)
                            SELECT $1 + row_number() OVER (ORDER BY w), $2, '0'::xid8,
                                   $3::text::xid8, n, '\\x01'::bytea, sha256(int8send(w)),
                                   sha256(int8send(w - 1)), sha256(int8send(w + 1))
                            FROM (SELECT floor(extract(epoch FROM at) / 10)::bigint AS w,
                                         count(*)::int AS n
                                  FROM "{name}" GROUP BY 1) AS x""",
                        seq, name, horizon,
                    )
                    added = int(status.split()[-1])
                    windows += added
                    seq += added
                else:
                    seq += 1
                    await owner.execute(
                        """INSERT INTO audit_seals (seq, partition, xact_from, xact_to, row_count,
                               ids, digest, prev_mac, mac)
                           VALUES ($1, $2, '0'::xid8, $3::text::xid8, 0, '\\x01'::bytea,
                                   sha256('x'), sha256('y'), sha256('z'))""",
                        seq, name, horizon,
                    )
        await owner.execute("ANALYZE audit_seals")
        return {"seals": seq, "window_seals_of_partitions_to_purge": windows,
                "seconds": round(time.perf_counter() - t0, 1)}
    finally:
        await owner.close()
