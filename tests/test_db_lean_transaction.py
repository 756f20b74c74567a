"""The lookups' transaction (api.db.lean_transaction): BEGIN, the block, and a COMMIT that
carries the pool's session reset. It must be the same unit of work as transaction(): committed
when the block ends, nothing kept when it raises, and every connection handed back reset."""

from __future__ import annotations

import pytest

from api.db import lean_transaction, transaction


async def test_commit_is_durable_and_the_session_is_reset(pool, owner):
    await owner.execute("CREATE TABLE IF NOT EXISTS lean_probe (n int)")
    await owner.execute("GRANT SELECT, INSERT ON lean_probe TO credit_app")
    try:
        async with lean_transaction(pool) as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            await conn.execute("SET work_mem = '7MB'")  # a session setting: the reset undoes it
            await conn.execute("INSERT INTO lean_probe VALUES (1)")
            assert conn.is_in_transaction()
        assert await owner.fetchval("SELECT count(*) FROM lean_probe") == 1  # another session sees it
        # whichever connection the pool hands out next, none carries the setting
        for _ in range(pool.get_size()):
            async with pool.acquire() as conn:
                assert await conn.fetchval("SHOW work_mem") != "7MB"
                assert not conn.is_in_transaction()
                if await conn.fetchval("SELECT pg_backend_pid()") == pid:
                    break
        else:
            pytest.fail("the connection used was not handed out again")
    finally:
        await owner.execute("DROP TABLE lean_probe")


async def test_a_failing_block_keeps_nothing(pool, owner):
    await owner.execute("CREATE TABLE IF NOT EXISTS lean_probe (n int)")
    await owner.execute("GRANT SELECT, INSERT ON lean_probe TO credit_app")
    try:
        with pytest.raises(RuntimeError, match="after the insert"):
            async with lean_transaction(pool) as conn:
                await conn.execute("SET work_mem = '7MB'")
                await conn.execute("INSERT INTO lean_probe VALUES (1)")
                raise RuntimeError("after the insert")
        assert await owner.fetchval("SELECT count(*) FROM lean_probe") == 0
        # a failed statement inside: rolled back too, and the pool's connections are usable
        with pytest.raises(Exception, match="division by zero"):
            async with lean_transaction(pool) as conn:
                await conn.execute("INSERT INTO lean_probe VALUES (2)")
                await conn.fetchval("SELECT 1 / 0")
        assert await owner.fetchval("SELECT count(*) FROM lean_probe") == 0
        for _ in range(pool.get_size()):
            async with transaction(pool) as conn:
                assert await conn.fetchval("SHOW work_mem") != "7MB"
                assert await conn.fetchval("SELECT 1") == 1
    finally:
        await owner.execute("DROP TABLE lean_probe")


async def test_a_nested_asyncpg_transaction_is_refused(pool):
    """The block may not open its own transaction: asyncpg would otherwise commit ours early."""
    with pytest.raises(Exception, match="manually started transaction"):
        async with lean_transaction(pool) as conn:
            async with conn.transaction():
                pass
