"""Tamper evidence for the audit trail (Art. 41).

Every row carries `mac` = HMAC-SHA256(key, canonical content), made by the application with a
key the database never holds: a row altered or forged in the database no longer matches.
Rows are sealed after they commit: a seal lists the ids of the rows of one partition written by
transactions that have all finished, the digest of their macs in id order, and the mac of the
previous seal, so seals form a chain; a removed row is a listed id that is gone. Writing a row
takes no lock and reads no other row: chaining happens afterwards, in the sealer, which alone
takes an advisory lock. Purged partitions keep their seals and a root over them, so
verification spans the gap.

The sealing horizon is computed from THIS database's transactions only (see `seal_horizon`):
a transaction left open in another database of the cluster cannot hold sealing back, so a row
stays unsealed only while a writing transaction of this database is open, and `verify` names
every row older than the sealing window (default 60 s) that is still not sealed."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterable
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


_IN_FLIGHT = """
SELECT backend_xid::text AS xid FROM pg_stat_activity
WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()
UNION ALL
SELECT transaction::text FROM pg_prepared_xacts WHERE database = current_database()
"""


def widen_xid(xid32: int, ref: int) -> int:
    """A 32-bit transaction id (as pg_stat_activity shows it) as the 64-bit one nearest `ref`."""
    d = (xid32 - ref) % 2**32
    return ref + d if d < 2**31 else ref + d - 2**32


async def seal_horizon(conn: asyncpg.Connection) -> int:
    """The transaction id below which every transaction that could have written a row of this
    database's trail has finished.

    PostgreSQL's own snapshot xmin is cluster-wide: a transaction left open in ANOTHER database
    would hold it back for as long as it lasts. Instead: (1) take `xmax` of a fresh snapshot (every
    id below it had been handed out by then, and those not in the snapshot had finished); (2) then
    read the top-level ids of transactions still running in this database (pg_stat_activity,
    filtered by database, plus prepared transactions). The horizon is the least of these. A
    transaction of this database with an id below the horizon cannot still be running at (2), or
    its id would have been read; so the rows query, whose snapshot is taken after (2), sees every
    committed row below the horizon and none can commit there later. Rows carry the top-level id
    (`pg_current_xact_id()`), so savepoints do not matter. Read-only transactions have no id and
    hold nothing; only a writing transaction of this database that stays open holds sealing back,
    and `verify` names the rows it keeps unsealed past the window."""
    xmax = int(await conn.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text"))
    await conn.execute("SELECT pg_stat_clear_snapshot()")  # read the activity now, not cached
    running = [widen_xid(int(r["xid"]), xmax) for r in await conn.fetch(_IN_FLIGHT)]
    return min([xmax, *running])


async def seal(conn: asyncpg.Connection, key: bytes) -> list[dict[str, Any]]:
    """Seal every row whose transaction has finished and that no seal covers yet. Returns the
    seals made. Runs inside its own transaction; concurrent sealers wait for each other."""
    made: list[dict[str, Any]] = []
    # read committed whatever the server's default: the rows query must see a snapshot taken
    # after the horizon was read (see seal_horizon)
    async with conn.transaction(isolation="read_committed"):
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _SEAL_LOCK)
        last = await conn.fetchrow(
            "SELECT seq, xact_to::text, mac FROM audit_seals ORDER BY seq DESC LIMIT 1"
        )
        start = last["xact_to"] if last else "0"
        horizon = await seal_horizon(conn)
        if horizon <= int(start):
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


_PARTITION_NAME = re.compile(r"^query_log_(three_years|long_term)_(\d{4})_(\d{2})$")
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


def purge_root(seal_macs: Iterable[bytes]) -> bytes:
    return _digest(seal_macs)


RETENTION_YEARS = 3  # Art. 21


def retention_cutoff(today: dt.date) -> dt.date:
    """Art. 21: a three-year row created before this day is past its three years."""
    if today.month == 2 and today.day == 29:
        return dt.date(today.year - RETENTION_YEARS, 2, 28)
    return today.replace(year=today.year - RETENTION_YEARS)


def purge_expired_by(name: str, today: dt.date) -> bool:
    """A three-year month partition whose every row is more than three years old."""
    retention, _, end = partition_bounds(name)
    return retention == "three_years" and end.date() <= retention_cutoff(today)


def purge_mac(key: bytes, p: dict[str, Any]) -> bytes:
    """The platform's signature on a purge record: without the key no one can make one, so a
    purge row written into the database by hand cannot excuse a missing partition."""
    month = p["month"].isoformat() if p["month"] is not None else ""
    body = "|".join(
        ("purge", str(p["partition"]), str(p["retention"]), month, str(p["row_count"]),
         str(p["seal_count"]))
    ).encode()
    return hmac.new(key, body + bytes(p["root"]), hashlib.sha256).digest()
