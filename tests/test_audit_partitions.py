"""Start-up and a detached month of the trail: re-attached when PostgreSQL accepts it as it is,
otherwise start-up stops with one line naming the table and the command that fixes it."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from api import demo
from api.app import create_app
from api.audit.integrity import purge_mac, purge_root, seal
from api.audit.repository import trail_row, write_rows
from api.audit.upkeep import PartitionProblem, ensure_partitions, purge_expired, reattach
from api.audit.verify import verify
from api.auth.principal import ANONYMOUS, Principal
from api.cli import main as credit
from tests.conftest import TEST_AUDIT_KEY

KEY = TEST_AUDIT_KEY.encode()
OPERATOR = Principal("os:test", "测试员", demo.DATA_OFFICE, "沧州市大数据服务中心", ("data_office",))

Q = 'query($k: ID!) { subject(key: $k) { key } }'
CURRENT = f"query_log_long_term_{dt.datetime.now(dt.UTC):%Y_%m}"


@pytest.fixture
async def detached(owner, dsn):
    """The current month's long-term partition detached; the trail repaired afterwards."""
    await owner.execute(f'ALTER TABLE query_log_long_term DETACH PARTITION "{CURRENT}"')
    yield CURRENT
    for r in await owner.fetch("SELECT relname FROM pg_class WHERE relname ~ '_set_aside_'"):
        await owner.execute(f'DROP TABLE "{r["relname"]}"')
    await owner.execute(f'ALTER TABLE IF EXISTS "{CURRENT}" DROP COLUMN IF EXISTS note')
    await reattach(owner)
    await ensure_partitions(dsn)


async def attached(owner, name: str) -> bool:
    return await owner.fetchval("SELECT relispartition FROM pg_class WHERE relname = $1", name)


async def test_start_up_reattaches_a_detached_current_month(settings, owner, detached, gql):
    assert not await attached(owner, detached)
    app = create_app(settings)
    async with app.router.lifespan_context(app):  # used to fail with CheckViolationError
        pass
    assert await attached(owner, detached)
    assert not await owner.fetchval(
        "SELECT has_table_privilege('credit_app', $1, 'SELECT')", detached)
    out = await gql(Q, {"k": demo.COMPANY}, as_="state_organ")  # long-term rows go in again
    assert "errors" in out  # a state organ without a purpose is refused, and that is logged
    assert await owner.fetchval(f'SELECT count(*) FROM "{detached}"') >= 1


async def test_start_up_stops_with_one_line_when_the_month_cannot_be_reattached(
    settings, owner, detached, cli_env, capsys
):
    await owner.execute(f'ALTER TABLE "{detached}" ADD COLUMN note text')  # no longer fits
    app = create_app(settings)
    with pytest.raises(PartitionProblem) as raised:
        async with app.router.lifespan_context(app):
            pass
    message = str(raised.value)
    assert "\n" not in message and detached in message
    assert "credit audit repair-partitions --set-aside" in message
    # `credit serve` (and migrate) check before starting: one line, non-zero exit
    with pytest.raises(SystemExit) as stopped:
        await asyncio.to_thread(credit, ["migrate"])
    assert str(stopped.value.code).startswith("credit: 审计日志分区 " + detached)
    assert await asyncio.to_thread(credit, ["audit", "repair-partitions"]) == 1
    assert await asyncio.to_thread(credit, ["audit", "repair-partitions", "--set-aside"]) == 0
    out = capsys.readouterr().out
    assert f"set {detached} aside as {detached}_set_aside_" in out
    assert await attached(owner, detached)  # a fresh month, so lookups are logged again
    async with app.router.lifespan_context(app):
        pass


async def test_repair_leaves_a_month_whose_purge_was_interrupted_to_the_purge(pool, owner):
    """Detached by a purge that stopped before the drop: re-attaching would undo the purge."""
    at = dt.datetime(2023, 5, 10, 8, tzinfo=dt.UTC)
    await owner.execute("SELECT credit_audit_partitions($1, now()::date)", at.date())
    async with pool.acquire() as conn:
        async with conn.transaction():
            await write_rows(conn, [trail_row(ANONYMOUS, None, at, kind="query", operation="subject",
                                              subject_key=demo.COMPANY, outcome="partial")])
        await seal(conn, KEY)
    name = "query_log_three_years_2023_05"
    seals = await owner.fetch("SELECT mac FROM audit_seals WHERE partition = $1", name)
    p = {"partition": name, "retention": "three_years", "month": at.date().replace(day=1),
         "row_count": 1, "seal_count": len(seals), "root": purge_root(bytes(s["mac"]) for s in seals)}
    await owner.execute(
        "INSERT INTO audit_purges (partition, row_count, seal_count, root, retention, month, mac) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)", name, 1, len(seals), p["root"], "three_years",
        p["month"], purge_mac(KEY, p))
    await owner.execute(f'ALTER TABLE query_log_three_years DETACH PARTITION "{name}"')
    assert await reattach(owner) == []
    assert not await attached(owner, name)
    async with pool.acquire() as conn:
        done = await purge_expired(owner, conn, KEY, OPERATOR, today=dt.date(2026, 11, 27))
        assert (name, 1) in [(d.partition, d.rows) for d in done]
        report = await verify(conn, KEY)
    assert report.ok, report.findings
