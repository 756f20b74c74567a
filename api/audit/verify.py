"""`credit audit verify` (Art. 41): every way the trail can be bent is one check in `CHECKS`.

A check is `async def check(v: Verification) -> None`: it reads what it needs through `v.conn`
and appends `Finding`s to `v.report`. The checks run in order and may use what earlier ones
left in `v` (the partition scan collects the purge acts the purge check needs). Another
capability adds its own checks with `verify(..., extra_checks=[...])`.

The seal chain's checks are here; the partitions' in api/audit/verify_partitions.py; what
the checks share (`Verification`, `Report`, `Finding`) in api/audit/verification.py."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Sequence

import asyncpg

from .integrity import _GENESIS, head_of, seal_mac
from .verification import Check, Report, Verification
from .verify_partitions import check_missing, check_partitions, check_purges

DEFAULT_SEAL_WINDOW = dt.timedelta(seconds=60)

_TRAIL_TABLES = """
SELECT c.relname AS name, c.relispartition AS attached FROM pg_class c
WHERE c.relname ~ '^query_log_(three_years|long_term)_[0-9]{4}_[0-9]{2}$'
  AND c.relkind IN ('r', 'p') AND c.relnamespace = 'public'::regnamespace
"""


async def verify(
    conn: asyncpg.Connection,
    key: bytes,
    *,
    expect_head: str | None = None,
    window: dt.timedelta = DEFAULT_SEAL_WINDOW,
    now: dt.datetime | None = None,
    extra_checks: Sequence[Check] = (),
) -> Report:
    """Run every check (memory bounded by one month of rows) and report what does not hold.

    The chain cannot show that its newest seals were removed together with the rows they
    cover; `expect_head` (a head printed by an earlier run and kept outside the database)
    closes that gap: that seal must still be there, unchanged."""
    v = Verification(conn, key, now or dt.datetime.now(dt.UTC), window, expect_head, Report())
    v.seals = await conn.fetch(
        "SELECT seq, partition, xact_from::text, xact_to::text, row_count, ids, digest, prev_mac, "
        "mac FROM audit_seals ORDER BY seq"
    )
    for s in v.seals:
        v.by_partition.setdefault(s["partition"], []).append(s)
    for r in await conn.fetch(_TRAIL_TABLES):
        (v.attached if r["attached"] else v.detached).add(r["name"])
    v.purge_records = {r["partition"]: r for r in await conn.fetch("SELECT * FROM audit_purges")}
    for check in (*CHECKS, *extra_checks):
        await check(v)
    v.report.findings.sort(key=lambda f: (f.entry_id is None, f.entry_id or 0, f.seal_seq or 0))
    return v.report


async def check_chain(v: Verification) -> None:
    """Each seal's mac holds and commits to the one before; no seal number is missing."""
    prev, expected_seq = _GENESIS, 1
    for s in v.seals:
        v.report.seals_checked += 1
        d = dict(s)
        d["ids"], d["digest"], d["prev_mac"] = bytes(s["ids"]), bytes(s["digest"]), bytes(s["prev_mac"])
        if s["seq"] != expected_seq:
            v.find("seal_broken", f"seal {expected_seq} is missing (next seal is {s['seq']})",
                   seal_seq=expected_seq)
        if d["prev_mac"] != prev or not hmac.compare_digest(seal_mac(v.key, d), bytes(s["mac"])):
            v.find("seal_broken", f"seal {s['seq']} does not match its content or the seal before it",
                   seal_seq=s["seq"])
        prev = bytes(s["mac"])
        expected_seq = s["seq"] + 1
    if v.seals:
        v.report.head = head_of(v.seals[-1]["seq"], bytes(v.seals[-1]["mac"]))


async def check_head(v: Verification) -> None:
    """The head recorded outside the database by an earlier run is still there, unchanged."""
    if not v.expect_head:
        return
    seq, _, mac = v.expect_head.partition(":")
    known = {s["seq"]: bytes(s["mac"]).hex() for s in v.seals}
    if known.get(int(seq)) != mac.lower():
        v.find("seal_broken", f"the chain head recorded earlier (seal {seq}) is gone or changed: "
               "seals and the entries they covered have been removed or replaced", seal_seq=int(seq))


CHECKS: list[Check] = [check_chain, check_head, check_partitions, check_purges, check_missing]
