"""Art. 41: the app may only insert and read the trail; altering, removing or forging an entry
directly in the database is reported by `credit audit verify`, naming the entry; Art. 21
purges drop whole expired partitions and verification still passes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import asyncpg
import pytest

from api import demo
from api.audit.integrity import decode_ids, encode_ids, seal
from api.audit.repository import trail_row, write_rows
from api.audit.upkeep import expired_partitions, purge_expired
from api.audit.verify import verify
from api.auth.principal import ANONYMOUS, Principal
from api.cli import main as credit
from tests.conftest import TEST_AUDIT_KEY

KEY = TEST_AUDIT_KEY.encode()
Q = 'query($k: ID!) { subject(key: $k) { key } }'
OPERATOR = Principal("os:test", "测试员", demo.DATA_OFFICE, "沧州市大数据服务中心", ("data_office",))


async def lookups(gql, n: int) -> None:
    for key in [demo.COMPANY, demo.PERSON, demo.PERSON2][:n]:
        await gql(Q, {"k": key})


async def sealed_trail(gql, pool) -> None:
    await lookups(gql, 3)
    async with pool.acquire() as conn:
        made = await seal(conn, KEY)
    assert sum(s["row_count"] for s in made) == 3


async def check(pool) -> object:
    async with pool.acquire() as conn:
        return await verify(conn, KEY)


@pytest.mark.parametrize("ids", [[1], [1, 2, 3], [5, 130, 131, 100_000, 2**40]])
def test_id_lists_round_trip(ids):
    assert decode_ids(encode_ids(ids)) == ids


async def test_the_apps_role_cannot_change_or_delete_log_rows(gql, pool):
    await lookups(gql, 1)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_user") == "credit_app"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE query_log SET purpose = 'x'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM query_log")
        part = await conn.fetchval("SELECT tableoid::regclass::text FROM query_log LIMIT 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f'DELETE FROM "{part}"')
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit_seals")


async def test_an_untouched_trail_verifies(gql, pool):
    await sealed_trail(gql, pool)
    await lookups(gql, 1)  # one entry not sealed yet is fine
    report = await check(pool)
    assert report.ok, report.findings
    assert report.rows_checked == 4 and report.unsealed_rows == 1


async def test_an_altered_entry_is_named(gql, pool, owner):
    await sealed_trail(gql, pool)
    target = await owner.fetchval("SELECT id FROM query_log WHERE subject_key = $1", demo.PERSON)
    await owner.execute("UPDATE query_log SET purpose = 'nothing to see' WHERE id = $1", target)
    report = await check(pool)
    assert not report.ok
    assert report.findings[0].what == "altered_or_forged"
    assert report.findings[0].entry_id == target
    assert f"entry {target}" in report.findings[0].message


async def test_an_altered_entry_with_a_recomputed_hash_is_still_named(gql, pool, owner):
    """Without the key, even someone who knows the scheme cannot make a matching mac."""
    await sealed_trail(gql, pool)
    target = await owner.fetchval("SELECT id FROM query_log WHERE subject_key = $1", demo.COMPANY)
    await owner.execute(
        "UPDATE query_log SET user_name = '某人', mac = sha256(mac) WHERE id = $1", target
    )
    report = await check(pool)
    assert [f.entry_id for f in report.findings if f.what == "altered_or_forged"] == [target]


async def test_a_removed_entry_is_named(gql, pool, owner):
    await sealed_trail(gql, pool)
    target = await owner.fetchval("SELECT id FROM query_log WHERE subject_key = $1", demo.PERSON2)
    await owner.execute("DELETE FROM query_log WHERE id = $1", target)
    report = await check(pool)
    assert [(f.what, f.entry_id) for f in report.findings] == [("removed", target)]


async def test_a_forged_entry_is_named(gql, pool, owner):
    await sealed_trail(gql, pool)
    forged = await owner.fetchval(
        """INSERT INTO query_log (entry, at, request_id, roles, operation, subject_key, outcome,
               channel, retention, mac)
           SELECT gen_random_uuid(), now(), gen_random_uuid(), '{public}', 'subject', $1,
                  'not_found', 'graphql', 'three_years', mac
           FROM query_log LIMIT 1
           RETURNING id""",
        demo.COMPANY,
    )
    report = await check(pool)
    assert [(f.what, f.entry_id) for f in report.findings] == [("altered_or_forged", forged)]


async def test_a_copied_entry_is_named(gql, pool, owner):
    """A replay of a genuine row under a new id: its mac is valid, but no seal covers it."""
    await sealed_trail(gql, pool)
    cols = ("entry, at, request_id, user_id, user_name, org_code, org_name, roles, kind, operation, "
            "subject_key, purpose, outcome, reason, disclosed, withheld, authorization_ids, "
            "client_addr, channel, details, retention, mac")
    copy = await owner.fetchval(
        f"INSERT INTO query_log ({cols}) SELECT {cols} FROM query_log ORDER BY id LIMIT 1 RETURNING id"
    )
    async with pool.acquire() as conn:
        await seal(conn, KEY)  # even once sealed, a copy is two rows with one entry
    report = await check(pool)
    assert copy in [f.entry_id for f in report.findings]


async def test_a_removed_seal_breaks_the_chain(gql, pool, owner):
    await sealed_trail(gql, pool)
    await lookups(gql, 1)
    async with pool.acquire() as conn:
        await seal(conn, KEY)
    await owner.execute("DELETE FROM audit_seals WHERE seq = 1")
    report = await check(pool)
    assert any(f.what == "seal_broken" for f in report.findings)


async def test_verify_command_names_the_entry_and_fails(gql, pool, owner, cli_env, capsys):
    await sealed_trail(gql, pool)
    assert await asyncio.to_thread(credit, ["audit", "verify"]) == 0
    target = await owner.fetchval("SELECT max(id) FROM query_log")
    await owner.execute("DELETE FROM query_log WHERE id = $1", target)
    assert await asyncio.to_thread(credit, ["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"entry {target} (sealed in seal" in out and "removed" in out


def test_only_three_year_partitions_wholly_past_three_years_expire():
    names = ["query_log_three_years_2023_10", "query_log_three_years_2023_11",
             "query_log_three_years_2023_12", "query_log_long_term_2020_01",
             "query_log_three_years_2026_11"]
    assert expired_partitions(names, dt.date(2026, 11, 27)) == ["query_log_three_years_2023_10"]
    assert expired_partitions(names, dt.date(2026, 12, 1)) == [
        "query_log_three_years_2023_10", "query_log_three_years_2023_11"]


async def _old_rows(pool, owner, at: dt.datetime, principal: Principal, n: int) -> None:
    # as the platform does: every month from then to now exists
    await owner.execute("SELECT credit_audit_partitions($1, now()::date)", at.date())
    async with pool.acquire() as conn, conn.transaction():
        await write_rows(conn, [
            trail_row(principal, None, at, kind="query", operation="subject",
                      subject_key=demo.COMPANY, outcome="partial")
            for _ in range(n)
        ])


async def test_purge_drops_expired_three_year_rows_only_and_verification_still_passes(gql, pool, owner):
    state_organ = Principal("u1", "王芳", demo.HOUSING, "住建局", ("state_organ",))
    old = dt.datetime(2023, 5, 10, 8, 0, tzinfo=dt.UTC)
    await _old_rows(pool, owner, old, ANONYMOUS, 5)  # three-year class, expired
    await _old_rows(pool, owner, old, state_organ, 2)  # long-term class, same month
    await _old_rows(pool, owner, dt.datetime(2024, 2, 1, tzinfo=dt.UTC), ANONYMOUS, 3)  # not yet
    await lookups(gql, 2)  # recent
    async with pool.acquire() as conn:
        done = await purge_expired(owner, conn, KEY, OPERATOR, today=dt.date(2026, 11, 27))
    # 2023-05 .. 2023-10 are past three years on 2026-11-27; only 2023-05 had rows
    assert [(p.partition, p.rows) for p in done if p.rows] == [("query_log_three_years_2023_05", 5)]
    assert [p.partition for p in done] == [f"query_log_three_years_2023_{m:02}" for m in range(5, 11)]
    counts = dict(await owner.fetch(
        "SELECT retention || ':' || to_char(at, 'YYYY-MM'), count(*) FROM query_log "
        "WHERE kind = 'query' GROUP BY 1"))
    assert counts == {"long_term:2023-05": 2, "three_years:2024-02": 3, f"three_years:{dt.date.today():%Y-%m}": 2}
    assert await owner.fetchval("SELECT to_regclass('query_log_three_years_2023_05')") is None
    act = await owner.fetchrow("SELECT * FROM query_log WHERE kind = 'purge'")
    assert act["retention"] == "long_term" and json.loads(act["details"])["rows"] == 5
    report = await check(pool)
    assert report.ok, report.findings
    assert report.partitions_purged == 6
    # a purged month is not made again by partition upkeep
    assert await owner.fetchval("SELECT credit_audit_partitions('2023-05-01', '2023-05-01')") == 0


async def test_sealing_an_idle_trail_writes_nothing(gql, pool, owner):
    await sealed_trail(gql, pool)
    before = await owner.fetchval("SELECT count(*) FROM audit_seals")
    async with pool.acquire() as conn:
        for _ in range(3):
            assert await seal(conn, KEY) == []
    assert await owner.fetchval("SELECT count(*) FROM audit_seals") == before


async def test_a_purge_does_not_hold_up_lookups_while_a_long_read_is_open(gql, pool, owner, dsn):
    old = dt.datetime(2023, 5, 10, 8, 0, tzinfo=dt.UTC)
    await _old_rows(pool, owner, old, ANONYMOUS, 3)
    reader = await asyncpg.connect(dsn)
    try:
        read = reader.transaction()
        await read.start()
        await reader.fetchval("SELECT count(*) FROM query_log")  # an auditor's long read
        async with pool.acquire() as conn:
            purge = asyncio.ensure_future(
                purge_expired(owner, conn, KEY, OPERATOR, today=dt.date(2026, 11, 27)))
            # the purge waits for the reader; a lookup meanwhile must not
            await asyncio.wait_for(gql(Q, {"k": demo.COMPANY}), timeout=10)
            assert not purge.done()
            await read.commit()
            done = await asyncio.wait_for(purge, timeout=30)
    finally:
        await reader.close()
    assert [p.partition for p in done][0] == "query_log_three_years_2023_05"
    assert (await check(pool)).ok


async def test_an_interrupted_purge_is_finished_by_the_next_run(gql, pool, owner):
    old = dt.datetime(2023, 5, 10, 8, 0, tzinfo=dt.UTC)
    await _old_rows(pool, owner, old, ANONYMOUS, 4)
    async with pool.acquire() as conn:
        await seal(conn, KEY)
    name = "query_log_three_years_2023_05"
    seals = await owner.fetch("SELECT mac, row_count FROM audit_seals WHERE partition = $1", name)
    # as if the process died right after recording the purge, before detaching
    from api.audit.integrity import purge_root
    await owner.execute(
        "INSERT INTO audit_purges (partition, row_count, seal_count, root) VALUES ($1, $2, $3, $4)",
        name, 4, len(seals), purge_root(bytes(s["mac"]) for s in seals))
    async with pool.acquire() as conn:
        done = await purge_expired(owner, conn, KEY, OPERATOR, today=dt.date(2026, 11, 27))
    assert [(p.partition, p.rows) for p in done if p.rows] == [(name, 4)]
    assert await owner.fetchval("SELECT to_regclass($1)", name) is None
    assert (await check(pool)).ok


async def test_a_partition_dropped_without_a_purge_is_reported(gql, pool, owner):
    old = dt.datetime(2024, 3, 10, 8, 0, tzinfo=dt.UTC)
    await _old_rows(pool, owner, old, ANONYMOUS, 2)
    async with pool.acquire() as conn:
        await seal(conn, KEY)
    first = await owner.fetchval("SELECT min(id) FROM query_log WHERE at < '2024-04-01'")
    await owner.execute("DROP TABLE query_log_three_years_2024_03")
    report = await check(pool)
    assert [(f.what, f.entry_id) for f in report.findings] == [("removed", first)]
    assert "gone without a purge" in report.findings[0].message


async def test_removing_the_newest_seal_with_its_entries_is_caught_by_a_recorded_head(gql, pool, owner):
    await sealed_trail(gql, pool)
    await lookups(gql, 1)
    async with pool.acquire() as conn:
        await seal(conn, KEY)
    head = (await check(pool)).head
    assert head is not None
    async with pool.acquire() as conn:
        assert (await verify(conn, KEY, expect_head=head)).ok
    # remove the newest seal and the entry it alone covers: the chain itself still holds
    last = await owner.fetchrow("SELECT seq, ids FROM audit_seals ORDER BY seq DESC LIMIT 1")
    from api.audit.integrity import decode_ids
    await owner.execute("DELETE FROM query_log WHERE id = ANY($1::bigint[])", decode_ids(bytes(last["ids"])))
    await owner.execute("DELETE FROM audit_seals WHERE seq = $1", last["seq"])
    assert (await check(pool)).ok  # undetectable from inside the database alone
    async with pool.acquire() as conn:
        report = await verify(conn, KEY, expect_head=head)
    assert [f.what for f in report.findings] == ["seal_broken"]
    assert f"seal {last['seq']}" in report.findings[0].message
