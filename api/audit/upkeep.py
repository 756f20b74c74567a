"""Keeping the trail: month partitions made ahead, rows sealed soon after they commit, expired
three-year partitions purged (Art. 21, 22, 33, 41)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import re
from dataclasses import dataclass

import asyncpg

from ..auth.policy import Policy
from ..auth.principal import Principal
from .integrity import (
    partition_bounds,
    purge_expired_by,
    purge_mac,
    purge_root,
    retention_cutoff,
    seal,
)
from .trail import record_act

log = logging.getLogger("credit.audit")

MONTHS_AHEAD = 3  # kept short: every empty partition ahead costs each time-range query a little
SEAL_EVERY_SECONDS = 10.0
_PARTITION = re.compile(r"^query_log_three_years_(\d{4})_(\d{2})$")
REPAIR_COMMAND = "credit audit repair-partitions"


class PartitionProblem(Exception):
    """A month of the trail cannot take rows and it is not safe to fix it unattended."""


def _window(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Last month to three months ahead: the months the platform keeps ready."""
    today = today or dt.datetime.now(dt.UTC).date()
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return first, _add_months(today.replace(day=1), MONTHS_AHEAD)


async def ensure_partitions(dsn: str, *, first: dt.date | None = None, last: dt.date | None = None) -> int:
    """Make the month partitions from `first` (default: last month) to `last` (default: three
    months ahead), re-attaching a detached one of those months first (see `reattach`); raises
    PartitionProblem, one line naming the table and the command that fixes it, when that is not
    safe. Needs the owner's rights; returns how many were made."""
    default_first, default_last = _window()
    first, last = first or default_first, last or default_last
    conn = await asyncpg.connect(dsn)
    try:
        await reattach(conn, first, last)
        return await conn.fetchval("SELECT credit_audit_partitions($1, $2)", first, last)
    finally:
        await conn.close()


async def partitions_ready(dsn: str) -> None:
    """For `credit serve` and friends: the months ahead exist, or stop with one line."""
    try:
        await ensure_partitions(dsn)
    except PartitionProblem as e:
        raise SystemExit(f"credit: {e}") from None


_DETACHED = """
SELECT c.relname AS name FROM pg_class c
WHERE c.relname ~ '^query_log_(three_years|long_term)_[0-9]{4}_[0-9]{2}$' AND c.relkind = 'r'
  AND NOT c.relispartition AND c.relnamespace = 'public'::regnamespace ORDER BY 1
"""


async def reattach(
    owner: asyncpg.Connection, first: dt.date | None = None, last: dt.date | None = None,
    *, set_aside: bool = False,
) -> list[str]:
    """Re-attach detached month partitions (all, or those from `first` to `last`). Attaching is
    safe: PostgreSQL checks the columns and that every row belongs to the month, the app's role
    loses any right granted on the table meanwhile, and `credit audit verify` still checks every
    row it brings back. A table that cannot be attached as it is stops start-up; with
    `set_aside` it is renamed `<name>_set_aside_<UTC time>` (kept as evidence; verify names its
    sealed entries as removed) and `ensure_partitions` makes the month afresh when it is one the
    platform keeps ready. Returns what was done, one line each."""
    done: list[str] = []
    purging = {r["partition"] for r in await owner.fetch("SELECT partition FROM audit_purges")}
    today = dt.datetime.now(dt.UTC).date()
    for r in await owner.fetch(_DETACHED):
        name = r["name"]
        cls, start, end = partition_bounds(name)
        if (first and start.date() < first.replace(day=1)) or (last and start.date() > last):
            continue
        if name in purging and purge_expired_by(name, today):
            continue  # an interrupted purge: `credit audit purge` finishes it
        try:
            async with owner.transaction():
                await owner.execute(
                    f'ALTER TABLE "query_log_{cls}" ATTACH PARTITION "{name}" '
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                )
                await owner.execute(f'REVOKE ALL ON "{name}" FROM credit_app')
            done.append(f"re-attached {name}")
            log.warning("audit partition %s was detached; re-attached it", name)
            continue
        except asyncpg.PostgresError as e:
            reason = str(e).splitlines()[0]
        if not set_aside:
            raise PartitionProblem(
                f"审计日志分区 {name} 已从 query_log 脱离，且不能原样重新挂接（{reason}）；"
                f"运行 `{REPAIR_COMMAND} --set-aside` 将其改名留存并新建该月分区，"
                "之后 `credit audit verify` 会列出缺失的条目"
            )
        aside = f"{name}_set_aside_{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
        await owner.execute(f'ALTER TABLE "{name}" RENAME TO "{aside}"')
        done.append(f"set {name} aside as {aside} ({reason})")
    return done


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
    cutoff = retention_cutoff(today)
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
    root of its seals (the purge's promise to verification) signed with the audit key, detach
    it CONCURRENTLY (lookups keep writing to the log meanwhile; no exclusive lock on the
    parent), record the purge as an act, and drop it. The cost does not depend on the number of
    rows. A purge interrupted half way is finished by the next run. `owner` must not be inside
    a transaction."""
    today = today or dt.datetime.now(dt.UTC).date()
    await seal(app_conn, key)
    attached = {r["name"] for r in await owner.fetch(_THREE_YEAR_PARTITIONS)}
    recorded = {r["partition"]: r for r in await owner.fetch("SELECT * FROM audit_purges")}
    # a purge record alone never makes a partition go: only an expired month is purged, and an
    # interrupted purge is finished only for such a month
    pending = [n for n in sorted(attached | set(recorded))
               if _is_month(n) and purge_expired_by(n, today)
               and (n in attached or await _exists(owner, n))]
    done: list[Purged] = []
    for name in pending:
        p = recorded.get(name)
        if p is None or p["mac"] is None or not _signed(key, p):
            seals = await owner.fetch(
                "SELECT mac, row_count FROM audit_seals WHERE partition = $1 ORDER BY seq", name
            )
            _, start, _ = partition_bounds(name)
            p = {"partition": name, "retention": "three_years", "month": start.date(),
                 "row_count": sum(s["row_count"] for s in seals), "seal_count": len(seals),
                 "root": purge_root(bytes(s["mac"]) for s in seals)}
            await owner.execute(
                """INSERT INTO audit_purges (partition, row_count, seal_count, root, retention,
                       month, mac) VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (partition) DO UPDATE SET row_count = $2, seal_count = $3,
                       root = $4, retention = $5, month = $6, mac = $7, purged_at = now()""",
                name, p["row_count"], p["seal_count"], p["root"], p["retention"], p["month"],
                purge_mac(key, p),
            )
        rows, seals_n = p["row_count"], p["seal_count"]
        if name in attached:
            await _detach(owner, name)
        # the act before the drop: a table that is gone always has its act (a run interrupted
        # in between writes the act once more, then drops)
        async with app_conn.transaction():
            await record_act(
                app_conn, operator, kind="purge", operation="audit.purge",
                details={"partition": name, "rows": rows, "seals": seals_n,
                         "root": bytes(p["root"]).hex(),
                         "rule": "Art. 21: query records kept three years from creation"},
            )
        await owner.execute(f'DROP TABLE IF EXISTS "{name}"')
        log.info("purged %s (%d rows, %d seals)", name, rows, seals_n)
        done.append(Purged(name, rows, seals_n))
    if done:
        await seal(app_conn, key)  # the purge acts join the chain at once
    return done


def _is_month(name: str) -> bool:
    return bool(_PARTITION.match(name))


def _signed(key: bytes, p: asyncpg.Record) -> bool:
    return hmac.compare_digest(purge_mac(key, dict(p)), bytes(p["mac"]))


async def _exists(owner: asyncpg.Connection, name: str) -> bool:
    return await owner.fetchval("SELECT to_regclass($1) IS NOT NULL", name)


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
        except (OSError, asyncpg.PostgresError, PartitionProblem) as e:
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
