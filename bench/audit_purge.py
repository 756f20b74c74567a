"""Step 4 of the audit trail benchmark (bench/audit.py): the purge of expired months, one month
alone, then the rest while an auditor's read stays open and lookups go on."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import asyncpg
from audit_data import add_months, subject_key
from audit_figures import Meter, fmt, say, summary
from audit_lookups import credit_service, one_lookup
from audit_queries import FIRST, YEAR

from api import demo
from api.audit.integrity import seal
from api.audit.repository import LogFilter, read_log
from api.audit.upkeep import expired_partitions, purge_expired
from api.auth.principal import Principal
from api.db import create_pool
from api.disclosure.service import Disclosure

TARGET_PURGE_S = 1.0


async def partition_names(conn) -> list[str]:
    return [r["name"] for r in await conn.fetch(
        """SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'query_log_three_years'""")]


async def lookups_during(d: Disclosure, stop: asyncio.Event) -> list[tuple[float, float]]:
    """Lookups back to back until `stop`: (start time, latency) of each."""
    principal = credit_service()
    out = []
    while not stop.is_set():
        t = time.perf_counter()
        out.append((t, await one_lookup(d, principal, logged=True)))
    return out


async def purge_phase(dsn: str, d: Disclosure, key: bytes, args, first_month: dt.date,
                      meter: Meter) -> dict[str, Any]:
    operator = Principal("os:bench", "基准测试", demo.DATA_OFFICE, "沧州市大数据服务中心",
                         ("data_office",))
    owner = await asyncpg.connect(dsn)
    app_pool = await create_pool(dsn, audit_key=key, min_size=1, max_size=2)
    out: dict[str, Any] = {}
    await meter.sample()
    try:
        async with app_pool.acquire() as app_conn:
            # What the running platform's sealer would have done by now.
            t0 = time.perf_counter()
            made = await seal(app_conn, key)
            t_seal = time.perf_counter() - t0
            out["seal_before"] = {"seals": len(made), "rows": sum(s["row_count"] for s in made),
                                  "seconds": round(t_seal, 3)}
            say(f"\n[4] purge. Sealed what the lookups wrote first: {out['seal_before']['rows']} "
                f"rows in {len(made)} seals, {t_seal:.3f} s")
            # the day the oldest month expires: three years after its end (Art. 21)
            today_one = add_months(first_month, 1)
            today_one = today_one.replace(year=today_one.year + 3)
            names = await partition_names(owner)
            target = expired_partitions(names, today_one)
            rows = await owner.fetchval(f'SELECT count(*) FROM "{target[0]}"') if target else 0
            seals = await owner.fetchval(
                "SELECT count(*) FROM audit_seals WHERE partition = $1", target[0]) if target else 0
            t0 = time.perf_counter()
            purged = await purge_expired(owner, app_conn, key, operator, today=today_one)
            t_purge = time.perf_counter() - t0
            out["one_month"] = {
                "today": today_one.isoformat(),
                "partitions": [p.partition for p in purged],
                "rows": rows,
                "seals": seals,
                "seconds": round(t_purge, 3),
            }
            say(f"    purge_expired(today={today_one}): dropped {[p.partition for p in purged]} "
                f"({rows:,} rows, {seals:,} seals) in {t_purge:.3f} s "
                f"(target < {TARGET_PURGE_S} s)")

            # The rest, with the real date, while an auditor's read is open and lookups go on.
            rest = expired_partitions(await partition_names(owner), dt.date.today())
            if rest:
                reader = await create_pool(dsn, audit_key=key, min_size=1, max_size=1)
                stop = asyncio.Event()
                try:
                    async with reader.acquire() as rconn:
                        tr = rconn.transaction(readonly=True)
                        await tr.start()
                        await read_log(rconn, LogFilter(subject_key=subject_key(0),
                                                        since=dt.datetime.now(dt.UTC) - YEAR),
                                       first=FIRST, after_id=None)
                        looker = asyncio.create_task(lookups_during(d, stop))
                        await meter.sample()
                        await asyncio.sleep(0.3)

                        async def end_read() -> None:
                            await asyncio.sleep(args.hold)
                            await tr.commit()

                        ender = asyncio.create_task(end_read())
                        t0 = time.perf_counter()
                        purged = await purge_expired(owner, app_conn, key, operator)
                        t1 = time.perf_counter()
                        await ender
                        await asyncio.sleep(0.3)
                        stop.set()
                        lats = await looker
                        await meter.sample()
                finally:
                    await reader.close()
                during = [lat for (t, lat) in lats if t0 <= t + lat and t <= t1]
                before = [lat for (t, lat) in lats if t + lat < t0]
                out["rest_with_open_read"] = {
                    "partitions": [p.partition for p in purged],
                    "hold_s": args.hold,
                    "seconds": round(t1 - t0, 3),
                    "lookups_before": summary(before),
                    "lookups_overlapping_purge": summary(during),
                }
                say(f"    purge_expired(today) of the other {len(purged)} expired months while an "
                    f"auditor's read transaction stays open {args.hold:g} s, lookups going on: "
                    f"{t1 - t0:.3f} s")
                say(f"      lookups before the purge:        {fmt(summary(before))}")
                say(f"      lookups overlapping the purge:   {fmt(summary(during))}")
        await meter.sample()
    finally:
        await app_pool.close()
        await owner.close()
    return out
