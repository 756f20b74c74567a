"""Tamper evidence for the audit trail (Art. 41).

Every row carries `mac` = HMAC-SHA256(key, canonical content), made by the application with a
key the database never holds: a row altered or forged in the database no longer matches.
Rows are sealed after they commit: a seal lists the ids of the rows of one partition written by
transactions that had all finished (everything below the oldest running transaction id), the
digest of their macs in id order, and the mac of the previous seal, so seals form a chain; a
removed row is a listed id that is gone. Writing a row takes no lock and reads no other row:
chaining happens afterwards, in the sealer, which alone takes an advisory lock. Purged
partitions keep their seals and a root over them, so verification spans the gap."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

# Columns covered by the mac, in this order. `id` and `xact` are assigned by the database and
# are storage facts, not evidence; the application-made `entry` identifies the row.
MAC_COLUMNS = (
    "entry", "at", "request_id", "user_id", "user_name", "org_code", "org_name", "roles", "kind",
    "operation", "subject_key", "purpose", "outcome", "reason", "disclosed", "withheld",
    "authorization_ids", "client_addr", "channel", "details", "retention",
)
_SEAL_LOCK = 7_310_902_412
_GENESIS = b"\x00" * 32


def plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def canonical(row: dict[str, Any]) -> bytes:
    """The bytes the mac covers: the same for the values written and the values read back."""
    return json.dumps(
        [plain(row.get(c)) for c in MAC_COLUMNS],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def row_mac(key: bytes, row: dict[str, Any]) -> bytes:
    return hmac.new(key, canonical(row), hashlib.sha256).digest()


def encode_ids(ids: Iterable[int]) -> bytes:
    """Sorted ids as unsigned LEB128 deltas: ~1 byte a row for a busy partition."""
    out = bytearray()
    prev = 0
    for i in ids:
        delta = i - prev
        if delta <= 0:
            raise ValueError("ids must be strictly increasing")
        prev = i
        while True:
            byte = delta & 0x7F
            delta >>= 7
            out.append(byte | (0x80 if delta else 0))
            if not delta:
                break
    return bytes(out)


def decode_ids(data: bytes) -> list[int]:
    ids, prev, delta, shift = [], 0, 0, 0
    for byte in data:
        delta |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        prev += delta
        ids.append(prev)
        delta, shift = 0, 0
    return ids


def _digest(macs: Iterable[bytes]) -> bytes:
    h = hashlib.sha256()
    for m in macs:
        h.update(m)
    return h.digest()


def seal_mac(key: bytes, s: dict[str, Any]) -> bytes:
    body = "|".join(
        str(s[k]) for k in ("seq", "partition", "xact_from", "xact_to", "row_count")
    ).encode()
    return hmac.new(key, body + s["ids"] + s["digest"] + s["prev_mac"], hashlib.sha256).digest()


async def seal(conn: asyncpg.Connection, key: bytes) -> list[dict[str, Any]]:
    """Seal every row whose transaction has finished and that no seal covers yet. Returns the
    seals made. Runs inside its own transaction; concurrent sealers wait for each other."""
    made: list[dict[str, Any]] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _SEAL_LOCK)
        horizon = await conn.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
        last = await conn.fetchrow(
            "SELECT seq, xact_to::text, mac FROM audit_seals ORDER BY seq DESC LIMIT 1"
        )
        start = last["xact_to"] if last else "0"
        if str(horizon) == str(start):
            return made
        rows = await conn.fetch(
            """SELECT tableoid::regclass::text AS partition, id, mac FROM query_log
               WHERE xact >= $1::text::xid8 AND xact < $2::text::xid8 ORDER BY partition, id""",
            str(start),
            str(horizon),
        )
        by_partition: dict[str, list[asyncpg.Record]] = {}
        for r in rows:
            by_partition.setdefault(r["partition"], []).append(r)
        seq = last["seq"] if last else 0
        prev = bytes(last["mac"]) if last else _GENESIS
        for partition in sorted(by_partition):
            part_rows = by_partition[partition]
            seq += 1
            s = {
                "seq": seq,
                "partition": partition,
                "xact_from": str(start),
                "xact_to": str(horizon),
                "row_count": len(part_rows),
                "ids": encode_ids(r["id"] for r in part_rows),
                "digest": _digest(bytes(r["mac"]) for r in part_rows),
                "prev_mac": prev,
            }
            await _insert_seal(conn, key, s)
            prev = s["mac"]
            made.append(s)
    return made


async def _insert_seal(conn: asyncpg.Connection, key: bytes, s: dict[str, Any]) -> None:
    s["mac"] = seal_mac(key, s)
    await conn.execute(
        """INSERT INTO audit_seals (seq, partition, xact_from, xact_to, row_count, ids, digest,
               prev_mac, mac)
           VALUES ($1, $2, $3::text::xid8, $4::text::xid8, $5, $6, $7, $8, $9)""",
        s["seq"], s["partition"], s["xact_from"], s["xact_to"], s["row_count"], s["ids"],
        s["digest"], s["prev_mac"], s["mac"],
    )


@dataclass
class Finding:
    what: str  # altered_or_forged | removed | inserted | seal_broken | digest_mismatch
    message: str
    entry_id: int | None = None
    seal_seq: int | None = None


@dataclass
class Report:
    rows_checked: int = 0
    seals_checked: int = 0
    partitions_purged: int = 0
    unsealed_rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    head: str | None = None  # "SEQ:MAC-HEX" of the newest seal: record it outside the database


    @property
    def ok(self) -> bool:
        return not self.findings


_PARTITION_NAME = re.compile(r"^query_log_(three_years|long_term)_(\d{4})_(\d{2})$")
_PARTITIONS = """
SELECT c.relname AS name FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
WHERE p.relname IN ('query_log_three_years', 'query_log_long_term')
"""


def partition_bounds(name: str) -> tuple[str, dt.datetime, dt.datetime]:
    """query_log_three_years_2026_11 -> ('three_years', 2026-11-01, 2026-12-01), UTC."""
    m = _PARTITION_NAME.match(name)
    if not m:
        raise ValueError(f"not a trail partition: {name}")
    year, month = int(m[2]), int(m[3])
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
    return m[1], start, end


def head_of(seq: int, mac: bytes) -> str:
    return f"{seq}:{mac.hex()}"


async def verify(conn: asyncpg.Connection, key: bytes, *, expect_head: str | None = None) -> Report:
    """Check the seal chain, then each partition in turn (memory bounded by one month): every
    row's mac, every sealed id, every seal's digest. Report what does not hold.

    The chain cannot show that its newest seals were removed together with the rows they
    cover; `expect_head` (a head printed by an earlier run and kept outside the database)
    closes that gap: that seal must still be there, unchanged."""
    report = Report()
    seals = await conn.fetch(
        "SELECT seq, partition, xact_from::text, xact_to::text, row_count, ids, digest, prev_mac, "
        "mac FROM audit_seals ORDER BY seq"
    )
    purged = {r["partition"]: r for r in await conn.fetch("SELECT * FROM audit_purges")}
    report.partitions_purged = len(purged)
    _check_chain(key, seals, report)
    if seals:
        report.head = head_of(seals[-1]["seq"], bytes(seals[-1]["mac"]))
    if expect_head:
        seq, _, mac = expect_head.partition(":")
        known = {s["seq"]: bytes(s["mac"]).hex() for s in seals}
        if known.get(int(seq)) != mac.lower():
            report.findings.append(Finding(
                "seal_broken", f"the chain head recorded earlier (seal {seq}) is gone or changed: "
                "seals and the entries they covered have been removed or replaced",
                seal_seq=int(seq)))
    by_partition: dict[str, list[asyncpg.Record]] = {}
    for s in seals:
        by_partition.setdefault(s["partition"], []).append(s)
    for partition, p in purged.items():
        root = _digest(bytes(s["mac"]) for s in by_partition.get(partition, []))
        if root != bytes(p["root"]):
            report.findings.append(Finding(
                "seal_broken", f"purged partition {partition}: its seals no longer match the root "
                "recorded at the purge"))
    horizon = int(seals[-1]["xact_to"]) if seals else None
    existing = {r["name"] for r in await conn.fetch(_PARTITIONS)}
    for partition in sorted((existing | set(by_partition)) - set(purged)):
        part_seals = by_partition.get(partition, [])
        if partition not in existing:
            ids = [i for s in part_seals for i in decode_ids(bytes(s["ids"]))]
            report.findings.append(Finding(
                "removed", f"partition {partition} is gone without a purge: its {len(ids)} sealed "
                f"entries are missing, the first is entry {ids[0]}",
                entry_id=ids[0], seal_seq=part_seals[0]["seq"]))
            continue
        await _verify_partition(conn, key, partition, part_seals, horizon, report)
    report.findings.sort(key=lambda f: (f.entry_id is None, f.entry_id or 0, f.seal_seq or 0))
    return report


def _check_chain(key: bytes, seals: list[asyncpg.Record], report: Report) -> None:
    prev = _GENESIS
    expected_seq = 1
    for s in seals:
        report.seals_checked += 1
        d = dict(s)
        d["ids"], d["digest"], d["prev_mac"] = bytes(s["ids"]), bytes(s["digest"]), bytes(s["prev_mac"])
        if s["seq"] != expected_seq:
            report.findings.append(Finding(
                "seal_broken", f"seal {expected_seq} is missing (next seal is {s['seq']})",
                seal_seq=expected_seq))
        if d["prev_mac"] != prev or not hmac.compare_digest(seal_mac(key, d), bytes(s["mac"])):
            report.findings.append(Finding(
                "seal_broken", f"seal {s['seq']} does not match its content or the seal before it",
                seal_seq=s["seq"]))
        prev = bytes(s["mac"])
        expected_seq = s["seq"] + 1


async def _verify_partition(
    conn: asyncpg.Connection,
    key: bytes,
    partition: str,
    seals: list[asyncpg.Record],
    horizon: int | None,
    report: Report,
) -> None:
    sealed_ids = {i: s["seq"] for s in seals for i in decode_ids(bytes(s["ids"]))}
    macs_by_seal: dict[int, list[tuple[int, bytes]]] = {}
    entries: dict[Any, int] = {}
    retention, start, end = partition_bounds(partition)
    cols = ", ".join(MAC_COLUMNS)
    async with conn.transaction(readonly=True):
        async for r in conn.cursor(
            f"SELECT id, xact::text AS xact, mac, {cols} FROM query_log "
            "WHERE retention = $1 AND at >= $2 AND at < $3 ORDER BY id",
            retention, start, end, prefetch=2000,
        ):
            report.rows_checked += 1
            if not hmac.compare_digest(row_mac(key, dict(r)), bytes(r["mac"])):
                report.findings.append(Finding(
                    "altered_or_forged",
                    f"entry {r['id']} ({r['entry']}, {r['kind']} {r['operation']} at "
                    f"{r['at']:%Y-%m-%d %H:%M:%S}) does not match its mac: altered, or not "
                    "written by the platform", entry_id=r["id"]))
            # a copy of a genuine row keeps its mac, and so its time and class: same partition
            first = entries.setdefault(r["entry"], r["id"])
            if first != r["id"]:
                report.findings.append(Finding(
                    "inserted", f"entry {r['id']} repeats entry {first} ({r['entry']}): a copy "
                    "inserted outside the platform", entry_id=r["id"]))
            seq = sealed_ids.pop(r["id"], None)
            if seq is not None:
                macs_by_seal.setdefault(seq, []).append((r["id"], bytes(r["mac"])))
            elif horizon is not None and int(r["xact"]) < horizon:
                report.findings.append(Finding(
                    "inserted", f"entry {r['id']} ({r['entry']}) was written before the last "
                    "seal but no seal covers it: inserted outside the platform", entry_id=r["id"]))
            else:
                report.unsealed_rows += 1
    for row_id, seq in sorted(sealed_ids.items()):
        report.findings.append(Finding(
            "removed", f"entry {row_id} (sealed in seal {seq}) is missing: removed",
            entry_id=row_id, seal_seq=seq))
    for s in seals:
        got = sorted(macs_by_seal.get(s["seq"], []))
        if len(got) == s["row_count"] and _digest(m for _, m in got) != bytes(s["digest"]):
            report.findings.append(Finding(
                "digest_mismatch", f"seal {s['seq']}: rows present but their macs differ from "
                "the sealed digest", seal_seq=s["seq"]))


def purge_root(seal_macs: Iterable[bytes]) -> bytes:
    return _digest(seal_macs)
