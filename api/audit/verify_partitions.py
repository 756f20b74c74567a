"""The partition checks of `credit audit verify` (Art. 41): each attached partition's rows
against their macs and seals, the purge records, and the months missing or detached from the
trail. They run after the seal chain's checks (api/audit/verify.py)."""

from __future__ import annotations

import datetime as dt
import hmac
import json
from typing import Any

import asyncpg

from .integrity import (
    MAC_COLUMNS,
    decode_ids,
    partition_bounds,
    purge_expired_by,
    purge_mac,
    purge_root,
    row_mac,
)
from .verification import PurgeAct, Verification


async def check_partitions(v: Verification) -> None:
    """Every attached partition: each row's mac, sealed ids, digests, the sealing window. Only a
    partition the platform itself signed as purged (an interrupted purge) is left out. Purge
    acts met on the way are kept for `check_purges`."""
    horizon = int(v.seals[-1]["xact_to"]) if v.seals else None
    for partition in sorted(v.attached):
        p = v.purge_records.get(partition)
        if p is not None and _signed_expired(v, partition, p):
            continue
        await _verify_partition(v, partition, v.by_partition.get(partition, []), horizon)


def _signed_expired(v: Verification, name: str, p: asyncpg.Record) -> bool:
    return (p["mac"] is not None and purge_expired_by(name, v.now.date())
            and hmac.compare_digest(purge_mac(v.key, dict(p)), bytes(p["mac"])))


async def _verify_partition(
    v: Verification, partition: str, seals: list[asyncpg.Record], horizon: int | None
) -> None:
    report = v.report
    sealed_ids = {i: s["seq"] for s in seals for i in decode_ids(bytes(s["ids"]))}
    macs_by_seal: dict[int, list[tuple[int, bytes]]] = {}
    entries: dict[Any, int] = {}
    retention, start, end = partition_bounds(partition)
    overdue_before = v.now - v.window
    cols = ", ".join(MAC_COLUMNS)
    async with v.conn.transaction(readonly=True):
        async for r in v.conn.cursor(
            f"SELECT id, xact::text AS xact, mac, {cols} FROM query_log "
            "WHERE retention = $1 AND at >= $2 AND at < $3 ORDER BY id",
            retention, start, end, prefetch=2000,
        ):
            report.rows_checked += 1
            mac_ok = hmac.compare_digest(row_mac(v.key, dict(r)), bytes(r["mac"]))
            if not mac_ok:
                v.find("altered_or_forged",
                       f"entry {r['id']} ({r['entry']}, {r['kind']} {r['operation']} at "
                       f"{r['at']:%Y-%m-%d %H:%M:%S}) does not match its mac: altered, or not "
                       "written by the platform", entry_id=r["id"], partition=partition)
            # a copy of a genuine row keeps its mac, and so its time and class: same partition
            first = entries.setdefault(r["entry"], r["id"])
            if first != r["id"]:
                v.find("inserted", f"entry {r['id']} repeats entry {first} ({r['entry']}): a copy "
                       "inserted outside the platform", entry_id=r["id"], partition=partition)
            seq = sealed_ids.pop(r["id"], None)
            if r["kind"] == "purge":
                details = json.loads(r["details"]) if isinstance(r["details"], str) else r["details"]
                v.purge_acts.append(PurgeAct(r["id"], details or {}, mac_ok, seq is not None))
            if seq is not None:
                macs_by_seal.setdefault(seq, []).append((r["id"], bytes(r["mac"])))
            elif horizon is not None and int(r["xact"]) < horizon:
                v.find("inserted", f"entry {r['id']} ({r['entry']}) was written before the last "
                       "seal but no seal covers it: inserted outside the platform",
                       entry_id=r["id"], partition=partition)
            else:
                report.unsealed_rows += 1
                if r["at"] < overdue_before:
                    v.find("unsealed",
                           f"entry {r['id']} ({r['entry']}, at {r['at']:%Y-%m-%d %H:%M:%S}) is "
                           f"older than the sealing window ({int(v.window.total_seconds())} s) "
                           "and still not sealed: sealing is held up (a long writing transaction "
                           "in this database, or no sealer running: `credit audit seal`)",
                           entry_id=r["id"], partition=partition)
    for row_id, seq in sorted(sealed_ids.items()):
        v.find("removed", f"entry {row_id} (sealed in seal {seq}) is missing: removed",
               entry_id=row_id, seal_seq=seq, partition=partition)
    for s in seals:
        got = sorted(macs_by_seal.get(s["seq"], []))
        if len(got) == s["row_count"] and purge_root(m for _, m in got) != bytes(s["digest"]):
            v.find("digest_mismatch", f"seal {s['seq']}: rows present but their macs differ from "
                   "the sealed digest", seal_seq=s["seq"], partition=partition)


async def check_purges(v: Verification) -> None:
    """A purge record holds only if the platform made it (its mac, or for records older than
    the macs a sealed purge act that vouches for it), for a three-year month more than three
    years old, with its purge act in the trail, and the month's seals still match its root."""
    acts: dict[str, list[PurgeAct]] = {}
    for a in v.purge_acts:
        acts.setdefault(str(a.details.get("partition")), []).append(a)
    for name, p in sorted(v.purge_records.items()):
        problem = _purge_problem(v, name, p, acts.get(name, []))
        if problem:
            v.find("forged_purge", f"purge record of partition {name} does not hold: {problem}; "
                   "the partition is treated as not purged", partition=name)
            continue
        v.purged.add(name)
        root = purge_root(bytes(s["mac"]) for s in v.by_partition.get(name, []))
        if root != bytes(p["root"]):
            v.find("seal_broken", f"purged partition {name}: its seals no longer match the root "
                   "recorded at the purge", partition=name)
    v.report.partitions_purged = len(v.purged)


def _purge_problem(v: Verification, name: str, p: asyncpg.Record, acts: list[PurgeAct]) -> str | None:
    try:
        retention, start, _ = partition_bounds(name)
    except ValueError:
        return "not a trail partition"
    if not purge_expired_by(name, v.now.date()):
        return (f"only three-year months more than three years old are purged ({retention}, "
                f"{start:%Y-%m})")

    def vouches(a: PurgeAct) -> bool:
        return (a.mac_ok and a.details.get("rows") == p["row_count"]
                and a.details.get("seals") == p["seal_count"]
                and a.details.get("root", bytes(p["root"]).hex()) == bytes(p["root"]).hex())

    if p["mac"] is None:  # written before purge records were signed (migration 0006)
        if not any(vouches(a) and a.sealed for a in acts):
            return "it carries no mac and no sealed purge act with the same rows and seals vouches for it"
        return None
    if (p["retention"], p["month"]) != (retention, start.date()) or not hmac.compare_digest(
        purge_mac(v.key, dict(p)), bytes(p["mac"])
    ):
        return "its mac does not match: not written by the platform"
    if not any(vouches(a) for a in acts):
        return "no purge act in the trail records it (an interrupted purge: run `credit audit purge`)"
    return None


async def check_missing(v: Verification) -> None:
    """Every month from the first entry to now exists, attached, in both classes, unless it was
    validly purged; a sealed partition that is gone is named by its first entry."""
    for name, seals in sorted(v.by_partition.items()):
        if name in v.attached or name in v.purged:
            continue
        ids = [i for s in seals for i in decode_ids(bytes(s["ids"]))]
        state = "is detached (the table is still there)" if name in v.detached else "is gone"
        v.find("removed", f"partition {name} {state} without a purge: its {len(ids)} sealed "
               f"entries are missing from the trail, the first is entry {ids[0]}",
               entry_id=ids[0], seal_seq=seals[0]["seq"], partition=name)
        v.named.add(name)
    first = await v.conn.fetchval("SELECT min(at) FROM query_log")
    known = [partition_bounds(n)[1] for n in (*v.by_partition, *v.purged, *v.detached)
             if _is_trail_name(n)]
    starts = [t for t in (first, *known) if t is not None]
    if not starts:
        return
    month = min(starts).astimezone(dt.UTC).date().replace(day=1)
    last = v.now.astimezone(dt.UTC).date().replace(day=1)
    while month <= last:
        for cls in ("three_years", "long_term"):
            name = f"query_log_{cls}_{month:%Y_%m}"
            if name in v.attached or name in v.purged or name in v.named:
                continue
            if name in v.detached:
                v.find("detached_partition", f"partition {name} is detached from the trail: "
                       "re-attach it with `credit audit repair-partitions`", partition=name)
            else:
                v.find("missing_partition", f"partition {name} is missing ({cls}, {month:%Y-%m}): "
                       "dropped without a purge", partition=name)
        month = (month + dt.timedelta(days=32)).replace(day=1)


def _is_trail_name(name: str) -> bool:
    try:
        partition_bounds(name)
    except ValueError:
        return False
    return True
