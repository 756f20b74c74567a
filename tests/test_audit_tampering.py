"""Art. 41 from outside: each way of bending the trail directly in the database (a forged purge
record, a dropped or detached month, a row kept unsealed) is reported by `credit audit verify`,
naming the entry or partition, with a non-zero exit."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets

import asyncpg
import pytest

from api import demo
from api.audit.integrity import purge_mac, purge_root, seal
from api.audit.repository import trail_row, write_rows
from api.audit.upkeep import purge_expired, reattach
from api.audit.verify import verify
from api.auth.principal import ANONYMOUS, Principal
from api.cli import main as credit
from tests.conftest import TEST_AUDIT_KEY

KEY = TEST_AUDIT_KEY.encode()
Q = 'query($k: ID!) { subject(key: $k) { key } }'
STATE_ORGAN = Principal("u1", "王芳", demo.HOUSING, "住建局", ("state_organ",))
OPERATOR = Principal("os:test", "测试员", demo.DATA_OFFICE, "沧州市大数据服务中心", ("data_office",))
NOW = dt.datetime.now(dt.UTC)
THIS_MONTH = f"{NOW:%Y_%m}"


@pytest.fixture
async def cli(cli_env, capsys):
    """`credit audit verify` run through the CLI's main function: (exit code, output)."""

    async def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        try:
            code = await asyncio.to_thread(credit, list(args or ("audit", "verify")))
        except SystemExit as e:
            code, out = 1, str(e.code)
            return code, capsys.readouterr().out + out
        return code, capsys.readouterr().out

    return run


@pytest.fixture(autouse=True)
async def partitions_restored(owner):
    """Tests here drop and detach month partitions: put the trail's tables back afterwards."""
    before = {r["relname"] for r in await owner.fetch(
        "SELECT relname FROM pg_class WHERE relname ~ '^query_log_(three_years|long_term)_[0-9_]+$'")}
    yield
    for r in await owner.fetch("SELECT relname FROM pg_class WHERE relname ~ '_set_aside_'"):
        await owner.execute(f'DROP TABLE "{r["relname"]}"')
    await reattach(owner)
    for name in sorted(before):
        if await owner.fetchval("SELECT to_regclass($1)", name) is None:
            month = dt.date(int(name[-7:-3]), int(name[-2:]), 1)
            await owner.execute("DELETE FROM audit_purges WHERE partition = $1", name)
            await owner.execute("SELECT credit_audit_partitions($1, $1)", month)


async def old_rows(pool, owner, at: dt.datetime, principal: Principal, n: int) -> None:
    await owner.execute("SELECT credit_audit_partitions($1, now()::date)", at.date())
    async with pool.acquire() as conn, conn.transaction():
        await write_rows(conn, [
            trail_row(principal, None, at, kind="query", operation="subject",
                      subject_key=demo.COMPANY, outcome="partial") for _ in range(n)])


async def seal_now(pool) -> None:
    async with pool.acquire() as conn:
        await seal(conn, KEY)


async def forge_purge(owner, name: str) -> None:
    """What someone with database rights but without the audit key can write."""
    await owner.execute(
        "INSERT INTO audit_purges (partition, row_count, seal_count, root, retention, month, mac) "
        "VALUES ($1, 0, 0, $2, 'three_years', $3, $4)",
        name, purge_root([]), dt.date(int(name[-7:-3]), int(name[-2:]), 1), secrets.token_bytes(32))


async def test_a_forged_purge_record_for_a_live_partition_does_not_hide_it(gql, pool, owner, cli):
    for key in (demo.COMPANY, demo.PERSON):
        await gql(Q, {"k": key})  # the public: three-year class, this month
    await seal_now(pool)
    assert (await cli())[0] == 0
    name = f"query_log_three_years_{THIS_MONTH}"
    await forge_purge(owner, name)
    target = await owner.fetchval("SELECT max(id) FROM query_log WHERE retention = 'three_years'")
    await owner.execute("UPDATE query_log SET purpose = 'x' WHERE id = $1", target)
    code, out = await cli()
    assert code == 1
    assert f"[forged_purge] purge record of partition {name} does not hold" in out
    assert f"[altered_or_forged] entry {target} " in out


async def test_a_forged_purge_and_a_dropped_long_term_month_are_named(pool, owner, cli):
    """State organs' lookups are kept long-term (Art. 22): no purge record excuses a missing one."""
    await old_rows(pool, owner, dt.datetime(2024, 3, 10, 8, tzinfo=dt.UTC), STATE_ORGAN, 2)
    await seal_now(pool)
    first = await owner.fetchval("SELECT min(id) FROM query_log WHERE retention = 'long_term'")
    name = "query_log_long_term_2024_03"
    await forge_purge(owner, name)
    await owner.execute(f'DROP TABLE "{name}"')
    code, out = await cli()
    assert code == 1
    assert f"[forged_purge] purge record of partition {name} does not hold: only three-year" in out
    assert f"[removed] partition {name} is gone without a purge" in out and f"entry {first}" in out


async def test_an_unsealed_month_dropped_is_named_by_the_gap(pool, owner, cli):
    """Rows never sealed leave no seal behind: the missing month itself is reported."""
    await old_rows(pool, owner, dt.datetime(2024, 3, 10, 8, tzinfo=dt.UTC), STATE_ORGAN, 1)
    await seal_now(pool)
    await owner.execute("DROP TABLE query_log_long_term_2024_05")  # an empty month in between
    code, out = await cli()
    assert code == 1
    assert "[missing_partition] partition query_log_long_term_2024_05 is missing" in out


async def test_a_detached_month_is_named(pool, owner, cli):
    await old_rows(pool, owner, dt.datetime(2024, 3, 10, 8, tzinfo=dt.UTC), STATE_ORGAN, 2)
    await seal_now(pool)
    first = await owner.fetchval("SELECT min(id) FROM query_log WHERE retention = 'long_term'")
    await owner.execute("ALTER TABLE query_log_long_term DETACH PARTITION query_log_long_term_2024_03")
    await owner.execute("ALTER TABLE query_log_three_years DETACH PARTITION query_log_three_years_2024_04")
    code, out = await cli()
    assert code == 1
    assert ("[removed] partition query_log_long_term_2024_03 is detached (the table is still "
            f"there) without a purge: its 2 sealed entries are missing from the trail, the first "
            f"is entry {first}") in out
    assert ("[detached_partition] partition query_log_three_years_2024_04 is detached from the "
            "trail: re-attach it with `credit audit repair-partitions`") in out
    code, out = await cli("audit", "repair-partitions")
    assert code == 0 and "re-attached query_log_long_term_2024_03" in out
    assert (await cli())[0] == 0


async def test_an_unsealed_row_older_than_the_window_is_named(pool, owner, dsn, cli):
    """A writing transaction of this database left open holds sealing back (it could still
    commit rows below the horizon); rows it keeps unsealed past the window are errors."""
    held = await asyncpg.connect(dsn)
    try:
        tx = held.transaction()
        await tx.start()
        await held.fetchval("SELECT pg_current_xact_id()")
        await old_rows(pool, owner, NOW - dt.timedelta(minutes=5), ANONYMOUS, 1)
        await seal_now(pool)
        target = await owner.fetchval("SELECT max(id) FROM query_log")
        code, out = await cli()
        assert code == 1
        assert f"[unsealed] entry {target} " in out and "older than the sealing window (60 s)" in out
        await tx.rollback()
    finally:
        await held.close()
    await seal_now(pool)
    assert (await cli())[0] == 0


async def test_a_genuine_purge_verifies_and_a_legacy_one_needs_its_sealed_act(pool, owner, cli):
    await old_rows(pool, owner, dt.datetime(2023, 5, 10, 8, tzinfo=dt.UTC), ANONYMOUS, 3)
    async with pool.acquire() as conn:
        done = await purge_expired(owner, conn, KEY, OPERATOR, today=NOW.date())
    assert done[0].partition == "query_log_three_years_2023_05" and done[0].rows == 3
    assert (await cli())[0] == 0
    # records written before migration 0006 carry no mac: their sealed purge act vouches
    await owner.execute("UPDATE audit_purges SET mac = NULL, retention = NULL, month = NULL")
    assert (await cli())[0] == 0
    # ... and without one, they do not hold
    await owner.execute("UPDATE audit_purges SET row_count = row_count + 1 "
                        "WHERE partition = 'query_log_three_years_2023_05'")
    code, out = await cli()
    assert code == 1 and "no sealed purge act with the same rows and seals vouches" in out


@pytest.mark.parametrize("name, problem", [
    ("query_log_long_term_2023_05", "only three-year months more than three years old"),
    (f"query_log_three_years_{THIS_MONTH}", "only three-year months more than three years old"),
    ("query_log_three_years_2023_06", "no purge act in the trail records it"),
])
async def test_even_a_signed_purge_record_holds_only_for_an_expired_three_year_month(
    pool, owner, name, problem
):
    """A purge record with a valid mac still needs the rule (Art. 21) and its act."""
    month = dt.date(int(name[-7:-3]), int(name[-2:]), 1)
    p = {"partition": name, "retention": "three_years" if "three_years" in name else "long_term",
         "month": month, "row_count": 0, "seal_count": 0, "root": purge_root([])}
    await owner.execute(
        "INSERT INTO audit_purges (partition, row_count, seal_count, root, retention, month, mac) "
        "VALUES ($1, 0, 0, $2, $3, $4, $5)", name, p["root"], p["retention"], month,
        purge_mac(KEY, p))
    async with pool.acquire() as conn:
        report = await verify(conn, KEY)
    forged = [f for f in report.findings if f.what == "forged_purge"]
    assert [f.partition for f in forged] == [name] and problem in forged[0].message
