"""Step 2 of the audit trail benchmark (bench/audit.py): the auditor's question "who queried
subject X in the last year" (read_log as the platform runs it), timed over sample sets, and
its plans."""

from __future__ import annotations

import datetime as dt
import random
import re
import statistics
import time
from typing import Any

from audit_data import org_code, subject_key
from audit_figures import condense_plan, fmt, say, summary

from api.audit import repository as audit_repo
from api.audit.repository import LogFilter, read_log

FIRST = 51  # queryLog(first: 50) reads 51 rows to know whether more follow
YEAR = dt.timedelta(days=365)


class Capture:
    """Stands in for a connection to learn the SQL and arguments read_log sends."""

    def __init__(self) -> None:
        self.sql: str = ""
        self.args: tuple = ()

    async def fetch(self, sql: str, *args: Any) -> list:
        self.sql, self.args = sql, args
        return []


async def log_sql(f: LogFilter) -> tuple[str, tuple]:
    c = Capture()
    await read_log(c, f, first=FIRST, after_id=None)  # type: ignore[arg-type]
    return c.sql, c.args


async def timed_reads(conn, filters: list[LogFilter]) -> tuple[list[float], list[int]]:
    lat, counts = [], []
    for f in filters:
        t0 = time.perf_counter()
        rows = await read_log(conn, f, first=FIRST, after_id=None)
        lat.append(time.perf_counter() - t0)
        counts.append(len(rows))
    return lat, counts


async def explain(conn, sql: str, args: tuple, *, generic: bool) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement as the app sends it: custom plan (the
    parameters' values are known to the planner) or generic (what a prepared statement
    used many times may switch to)."""
    if not generic:
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
        return "\n".join(r[0] for r in rows)
    name = "bench_generic"
    await conn.execute(f"PREPARE {name} AS {sql}")
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        literals = [await conn.fetchval("SELECT quote_literal($1::text)",
                                        a.isoformat() if isinstance(a, dt.datetime) else str(a))
                    for a in args]
        rows = await conn.fetch(
            f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}({', '.join(literals)})")
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.execute("RESET plan_cache_mode")
        await conn.execute(f"DEALLOCATE {name}")


async def auditor_phase(pool, args, rng: random.Random) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    since = now - YEAR
    n = args.samples
    uniform = [rng.randrange(args.subjects) for _ in range(n)]
    by_lookups = [int(args.subjects * rng.random() ** 2) for _ in range(n)]
    hottest = list(range(10))
    out: dict[str, Any] = {"since": since.isoformat(), "first": FIRST}
    async with pool.acquire() as conn:
        role = await conn.fetchval("SELECT current_user")
        # how many rows each hot subject has in the last year (context, not timed)
        hot_rows = [await conn.fetchval(
            "SELECT count(*) FROM query_log WHERE subject_key = $1 AND at >= $2",
            subject_key(k), since) for k in hottest[:3]]
        median_rows = await conn.fetchval(
            "SELECT count(*) FROM query_log WHERE subject_key = $1 AND at >= $2",
            subject_key(args.subjects // 2), since)
        say(f"\n[2] who queried subject X in the last year: read_log(LogFilter(subject_key=X, "
            f"since=now-1y), first={FIRST}) as {role}, one connection, sequential")
        say(f"    rows in the last year: most looked-up subjects {hot_rows}, "
            f"median subject {median_rows}")
        # warm the statement cache and the buffers a little: what a running server has
        await timed_reads(conn, [LogFilter(subject_key=subject_key(k), since=since)
                                 for k in range(20, 30)])
        sets = {"uniform": uniform, "by_lookups": by_lookups, "hottest_10": hottest}
        subject_results: dict[str, Any] = {}
        for label, ks in sets.items():
            lat, counts = await timed_reads(
                conn, [LogFilter(subject_key=subject_key(k), since=since) for k in ks])
            s = summary(lat)
            s["rows_returned_mean"] = round(statistics.fmean(counts), 1)
            subject_results[label] = s
            say(f"    subject, {label:>10}: {fmt(s)}  rows returned, mean "
                f"{s['rows_returned_mean']}")
        out["subject"] = subject_results
        out["hot_subject_rows_last_year"] = hot_rows
        out["median_subject_rows_last_year"] = median_rows

        # subject + organisation: an organisation that did query X in the last year
        pairs = []
        for k in by_lookups[: n]:
            o = await conn.fetchval(
                "SELECT org_code FROM query_log WHERE subject_key = $1 AND at >= $2 "
                "AND org_code IS NOT NULL LIMIT 1", subject_key(k), since)
            pairs.append((subject_key(k), o or org_code(rng.randrange(args.orgs))))
        lat, counts = await timed_reads(
            conn, [LogFilter(subject_key=s, org_code=o, since=since) for s, o in pairs])
        s = summary(lat)
        s["rows_returned_mean"] = round(statistics.fmean(counts), 1)
        out["subject_and_org"] = s
        say(f"    subject + org (by_lookups, an org that queried it): {fmt(s)}")

        # the organisation alone: "what did organisation Y look up in the last year"
        orgs = [0, 1, 2] + [int(args.orgs * rng.random() ** 2) for _ in range(args.org_samples - 3)]
        lat, counts = await timed_reads(
            conn, [LogFilter(org_code=org_code(o), since=since) for o in orgs])
        s = summary(lat)
        out["org_only"] = s
        say(f"    org alone (by lookups, incl. the 3 busiest): {fmt(s)}")

        # the subject's own view (myCredit), if this checkout has it: all time, kind 'query'
        q = getattr(audit_repo, "QUERIES_OF_SUBJECT", None)
        if q and {int(n) for n in re.findall(r"\$(\d+)", q)} == {1, 2, 3}:
            lat = []
            for k in by_lookups[: max(20, n // 4)] + hottest:
                t0 = time.perf_counter()
                await conn.fetch(q, subject_key(k), None, FIRST)
                lat.append(time.perf_counter() - t0)
            out["my_credit_queries_of_subject"] = summary(lat)
            say("    myCredit (QUERIES_OF_SUBJECT, all time, by_lookups + hottest): "
                + fmt(summary(lat)))

        # plans
        sql, qargs = await log_sql(LogFilter(subject_key=subject_key(0), since=since))
        plans = {}
        for generic in (False, True):
            plan = await explain(conn, sql, qargs, generic=generic)
            plans["generic" if generic else "custom"] = plan
        sql_m, qargs_m = await log_sql(LogFilter(subject_key=subject_key(args.subjects // 2),
                                                 since=since))
        plans["custom_median_subject"] = await explain(conn, sql_m, qargs_m, generic=False)
        out["sql"] = " ".join(sql.split())
        out["plans"] = plans
    say(f"\n    SQL: {out['sql']}")
    say(f"    EXPLAIN (ANALYZE, BUFFERS), most looked-up subject ({subject_key(0)}), custom plan:")
    say("      " + condense_plan(plans["custom"]).replace("\n", "\n      "))
    say("    ... generic plan (plan_cache_mode = force_generic_plan):")
    say("      " + condense_plan(plans["generic"]).replace("\n", "\n      "))
    say(f"    ... median subject ({subject_key(args.subjects // 2)}), custom plan:")
    say("      " + condense_plan(plans["custom_median_subject"]).replace("\n", "\n      "))
    return out
