"""Keeping the trail: month partitions made ahead, rows sealed soon after they commit, expired
three-year partitions purged (Art. 21, 22, 33, 41)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass

import asyncpg

from ..auth.policy import Policy
from ..auth.principal import Principal
from .integrity import purge_root, seal
from .trail import record_act

log = logging.getLogger("credit.audit")

MONTHS_AHEAD = 3  # kept short: every empty partition ahead costs each time-range query a little
SEAL_EVERY_SECONDS = 10.0
RETENTION_YEARS = 3  # Art. 21
_PARTITION = re.compile(r"^query_log_three_years_(\d{4})_(\d{2})$")


async def ensure_partitions(dsn: str, *, first: dt.date | None = None, last: dt.date | None = None) -> int:
    """Make the month partitions from `first` (default: last month) to `last` (default: three
    months ahead). Needs the owner's rights; returns how many were made."""
    today = dt.datetime.now(dt.UTC).date()
    first = first or (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    last = last or _add_months(today.replace(day=1), MONTHS_AHEAD)
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT credit_audit_partitions($1, $2)", first, last)
    finally:
        await conn.close()


def _add_months(day: dt.date, months: int) -> dt.date:
    m = day.month - 1 + months
    return dt.date(day.year + m // 12, m % 12 + 1, 1)


async def seal_periodically(pool: asyncpg.Pool, key: bytes, every: float = SEAL_EVERY_SECONDS) -> None:
    """The app's background sealer. A failure is logged and retried; it never blocks queries."""
    while True:
        try:
            async with pool.acquire() as conn:
                await seal(conn, key)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            log.warning("sealing the audit trail failed, will retry: %s", e)
        await asyncio.sleep(every)


@dataclass(frozen=True)
class Purged:
    partition: str
    rows: int
    seals: int


def expired_partitions(names: list[str], today: dt.date) -> list[str]:
    """Three-year partitions whose every row is more than three years old (Art. 21: kept three
    years from creation). Long-term partitions are never returned."""
    cutoff = today.replace(year=today.year - RETENTION_YEARS) if not (
        today.month == 2 and today.day == 29) else dt.date(today.year - RETENTION_YEARS, 2, 28)
    out = []
    for name in names:
        m = _PARTITION.match(name)
        if m and _add_months(dt.date(int(m[1]), int(m[2]), 1), 1) <= cutoff:
            out.append(name)
    return sorted(out)


async def purge_expired(
    owner: asyncpg.Connection, app_conn: asyncpg.Connection, key: bytes, operator: Principal,
    *, today: dt.date | None = None,
) -> list[Purged]:
    """Drop expired three-year partitions (Art. 21). For each: seal what is left, record the
    root of its seals (the purge's promise to verification), detach it CONCURRENTLY (lookups
    keep writing to the log meanwhile; no exclusive lock on the parent), drop it, and record the
    purge as an act. The cost does not depend on the number of rows. A purge interrupted half
    way is finished by the next run. `owner` must not be inside a transaction."""
    today = today or dt.datetime.now(dt.UTC).date()
    await seal(app_conn, key)
    attached = {r["name"] for r in await owner.fetch(_THREE_YEAR_PARTITIONS)}
    recorded = {r["partition"]: r for r in await owner.fetch("SELECT * FROM audit_purges")}
    pending = sorted(set(expired_partitions(list(attached), today)) | (set(recorded) & attached))
    done: list[Purged] = []
    for name in pending:
        if name not in recorded:
            seals = await owner.fetch(
                "SELECT mac, row_count FROM audit_seals WHERE partition = $1 ORDER BY seq", name
            )
            rows = sum(s["row_count"] for s in seals)
            await owner.execute(
                "INSERT INTO audit_purges (partition, row_count, seal_count, root) "
                "VALUES ($1, $2, $3, $4)",
                name, rows, len(seals), purge_root(bytes(s["mac"]) for s in seals),
            )
        else:
            rows, seals = recorded[name]["row_count"], [None] * recorded[name]["seal_count"]
        await _detach(owner, name)
        await owner.execute(f'DROP TABLE IF EXISTS "{name}"')
        async with app_conn.transaction():
            await record_act(
                app_conn, operator, kind="purge", operation="audit.purge",
                details={"partition": name, "rows": rows, "seals": len(seals),
                         "rule": "Art. 21: query records kept three years from creation"},
            )
        log.info("purged %s (%d rows, %d seals)", name, rows, len(seals))
        done.append(Purged(name, rows, len(seals)))
    return done


_THREE_YEAR_PARTITIONS = """
SELECT c.relname AS name FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
WHERE p.relname = 'query_log_three_years'
"""


async def _detach(owner: asyncpg.Connection, name: str) -> None:
    try:
        await owner.execute(
            f'ALTER TABLE query_log_three_years DETACH PARTITION "{name}" CONCURRENTLY'
        )
    except asyncpg.ObjectNotInPrerequisiteStateError:
        # an earlier concurrent detach was interrupted: complete it
        await owner.execute(f'ALTER TABLE query_log_three_years DETACH PARTITION "{name}" FINALIZE')


async def keep_partitions_ahead(dsn: str, every: float = 6 * 3600) -> None:
    """The app's own upkeep, so a server left running never outruns its partitions."""
    while True:
        try:
            await ensure_partitions(dsn)
        except (OSError, asyncpg.PostgresError) as e:
            log.warning("making audit partitions ahead failed, will retry: %s", e)
        await asyncio.sleep(every)


PLATFORM = Principal(
    user_id="system:platform", name="公共信用信息平台", org_code=None, org_name=None,
    roles=("data_office",),
)
_LAST_POLICY = """
SELECT details->>'digest' FROM query_log
WHERE kind = 'policy' AND retention = 'long_term' ORDER BY id DESC LIMIT 1
"""


async def record_policy_version(conn: asyncpg.Connection, policy: Policy) -> bool:
    """A policy that differs from the last one the trail knows is an act: who-sees-what
    changed. Called at start-up; returns whether a new version was recorded."""
    async with conn.transaction():
        previous = await conn.fetchval(_LAST_POLICY)
        if previous == policy.digest:
            return False
        await record_act(
            conn, PLATFORM, kind="policy", operation="policy.load",
            details={"digest": policy.digest, "previous": previous, "rules": policy.rule_counts()},
        )
    return True
