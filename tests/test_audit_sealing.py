"""The sealing horizon: bounded by this database's own writing transactions, never by another
database's, and never skipping a row that commits late."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from api import demo
from api.audit.integrity import seal, seal_horizon, widen_xid
from api.audit.repository import trail_row, write_rows
from api.audit.verify import verify
from api.auth.principal import ANONYMOUS
from tests.conftest import TEST_AUDIT_KEY, _with_database

KEY = TEST_AUDIT_KEY.encode()
Q = 'query($k: ID!) { subject(key: $k) { key } }'


@pytest.mark.parametrize("xid32, ref, full", [
    (100, 100, 100),
    (90, 2**32 + 100, 2**32 + 90),  # older, same epoch
    (2**32 - 10, 2**32 + 5, 2**32 - 10),  # older, previous epoch
    (20, 2**32 - 5, 2**32 + 20),  # newer, next epoch
])
def test_a_32_bit_transaction_id_is_widened_next_to_the_reference(xid32, ref, full):
    assert widen_xid(xid32, ref) == full


async def _unsealed(pool) -> int:
    async with pool.acquire() as conn:
        return (await verify(conn, KEY)).unsealed_rows


async def test_a_transaction_open_in_another_database_does_not_hold_sealing(gql, pool, dsn):
    """Held open (with a transaction id, as any writer has) in the cluster's `postgres`
    database while the sealer runs twice: every new trail row of this database is sealed."""
    other = await asyncpg.connect(_with_database(dsn, "postgres"))
    try:
        async with other.transaction():
            other_xid = int(await other.fetchval("SELECT pg_current_xact_id()::text"))
            for key in (demo.COMPANY, demo.PERSON):
                await gql(Q, {"k": key})
            async with pool.acquire() as conn:
                assert await seal_horizon(conn) > other_xid
                first = await seal(conn, KEY)
                await gql(Q, {"k": demo.PERSON2})
                second = await seal(conn, KEY)
            assert sum(s["row_count"] for s in first) == 2
            assert sum(s["row_count"] for s in second) == 1
            assert await _unsealed(pool) == 0
    finally:
        await other.close()


async def test_a_row_that_commits_late_is_sealed_not_skipped(gql, pool):
    """A writing transaction of this database holds the horizon below its own id, so rows
    committed after it by others wait, and its own row is sealed once it commits."""
    async with pool.acquire() as writer:
        tx = writer.transaction()
        await tx.start()
        await write_rows(writer, [trail_row(ANONYMOUS, None, dt.datetime.now(dt.UTC), kind="query",
                                            operation="subject", subject_key=demo.COMPANY,
                                            outcome="partial")])
        await gql(Q, {"k": demo.PERSON})  # commits before the writer does
        async with pool.acquire() as conn:
            assert await seal(conn, KEY) == []
        await tx.commit()
    async with pool.acquire() as conn:
        made = await seal(conn, KEY)
        assert sum(s["row_count"] for s in made) == 2
        report = await verify(conn, KEY)
    assert report.ok, report.findings
    assert report.unsealed_rows == 0 and report.rows_checked == 2
