"""Step 3 of the audit trail benchmark (bench/audit.py): the log write's share of a lookup,
look_up with and without its log write, and the raw lookup transaction broken down."""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import asyncpg
from audit_figures import fmt, say, summary

from api import demo
from api.audit import repository as audit_repo
from api.auth.principal import Principal, RequestInfo
from api.cli import TOKEN_PRESETS
from api.disclosure import service as disclosure_service
from api.disclosure.service import Disclosure, look_up

PURPOSE = "loan_review"
TARGET_ADDED_MS = 1.0


async def _no_log(*_args: Any, **_kw: Any) -> None:
    return None


def credit_service() -> Principal:
    claims = TOKEN_PRESETS["credit_service"]
    return Principal(user_id="bench", name=claims["name"], org_code=claims["org"],
                     org_name=claims["org_name"], roles=("credit_service",))


async def one_lookup(d: Disclosure, principal: Principal, *, logged: bool) -> float:
    request = RequestInfo(request_id=str(uuid.uuid4()), client_addr="127.0.0.1")
    real = disclosure_service._write_log
    if not logged:
        disclosure_service._write_log = _no_log
    try:
        t0 = time.perf_counter()
        views = await look_up(d, principal, request, keys=[demo.COMPANY], purpose=PURPOSE,
                              operation="subject")
        el = time.perf_counter() - t0
    finally:
        disclosure_service._write_log = real
    if not views or views[0] is None:
        raise SystemExit(f"lookup of {demo.COMPANY} found nothing")
    return el


async def lookup_phase(dsn: str, d: Disclosure, args, rng: random.Random) -> dict[str, Any]:
    principal = credit_service()
    say(f"\n[3] the log write's share of a lookup: look_up({demo.COMPANY}, purpose {PURPOSE}) "
        f"as the demo credit service agency, concurrency 1, with and without the log write, "
        f"interleaved")
    for i in range(args.lookup_warmup):
        await one_lookup(d, principal, logged=bool(i % 2))
    with_log, without = [], []
    for _ in range(args.lookups):
        order = [True, False]
        rng.shuffle(order)
        for logged in order:
            (with_log if logged else without).append(await one_lookup(d, principal,
                                                                      logged=logged))
    w, wo = summary(with_log), summary(without)
    added = {
        "p50_ms": round(w["p50_ms"] - wo["p50_ms"], 3),
        "p99_ms": round(w["p99_ms"] - wo["p99_ms"], 3),
        "mean_ms": round(w["mean_ms"] - wo["mean_ms"], 3),
    }
    say(f"    with the log write:    {fmt(w)}")
    say(f"    without (no-op write): {fmt(wo)}")
    say(f"    added by the log write: p50 {added['p50_ms']} ms  p99 {added['p99_ms']} ms  "
        f"mean {added['mean_ms']} ms  (target <= {TARGET_ADDED_MS} ms)")

    # Breakdown: the same transaction by hand, timing the INSERT and the COMMIT.
    from api.disclosure.repository import grantee_authorizations, subjects_with_records

    ins, commit_w, commit_ro, commit_min = [], [], [], []
    entry = audit_repo.LogEntry("subject", demo.COMPANY, PURPOSE, "partial",
                                disclosed=[{"record": str(uuid.uuid4()), "item": "A0101",
                                            "basis": "authorization"}] * 6,
                                withheld={"records": {"authorized": 4}},
                                authorization_ids=[str(uuid.uuid4())])
    # The floor any durable write pays: one integer into a scratch table of the bench's own
    # (owner connection), then COMMIT, which waits for the WAL flush (fdatasync) as the
    # lookup's commit does once it has written its log row.
    owner = await asyncpg.connect(dsn)
    await owner.execute("CREATE TABLE bench_wal_flush (x int)")
    try:
        async with d.pool.acquire() as conn:
            for i in range(args.lookups + args.lookup_warmup):
                for logged in (True, False):
                    tr = conn.transaction()
                    await tr.start()
                    rows = await subjects_with_records(conn, [demo.COMPANY])
                    now = rows[0]["now"]
                    await grantee_authorizations(conn, [demo.COMPANY], principal.org_code,
                                                 PURPOSE)
                    if logged:
                        t0 = time.perf_counter()
                        await audit_repo.record_queries(
                            conn, principal,
                            RequestInfo(request_id=str(uuid.uuid4()), client_addr="127.0.0.1"),
                            [entry], at=now)
                        t1 = time.perf_counter()
                    t2 = time.perf_counter()
                    await tr.commit()
                    t3 = time.perf_counter()
                    if i >= args.lookup_warmup:
                        if logged:
                            ins.append(t1 - t0)
                            commit_w.append(t3 - t2)
                        else:
                            commit_ro.append(t3 - t2)
                tr = owner.transaction()
                await tr.start()
                await owner.execute("INSERT INTO bench_wal_flush VALUES (1)")
                t2 = time.perf_counter()
                await tr.commit()
                if i >= args.lookup_warmup:
                    commit_min.append(time.perf_counter() - t2)
    finally:
        await owner.execute("DROP TABLE bench_wal_flush")
        await owner.close()
    b = {"insert": summary(ins), "commit_after_insert": summary(commit_w),
         "commit_read_only": summary(commit_ro), "commit_tiny_write": summary(commit_min)}
    say("    breakdown of the raw lookup transaction (same SQL, by hand):")
    say(f"      record_queries (mac + INSERT):   {fmt(b['insert'])}")
    say(f"      COMMIT after that INSERT:        {fmt(b['commit_after_insert'])}")
    say(f"      COMMIT of the read-only lookup:  {fmt(b['commit_read_only'])}")
    say(f"      COMMIT after a one-int INSERT into a scratch table (the WAL flush alone): "
        f"{fmt(b['commit_tiny_write'])}")
    return {"with_log": w, "without_log": wo, "added": added, "breakdown": b,
            "principal": "credit_service (three_years)", "subject": demo.COMPANY}
