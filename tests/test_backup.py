"""Art. 34: a backup restored into a fresh database verifies against the chain head taken before
the backup; a changed archive or a non-empty target is refused and nothing is restored."""

from __future__ import annotations

import asyncio
import re
import secrets
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from api.audit.integrity import seal
from api.cli import main as credit

LOOKUP = '{ subject(key: "91130902MA0DEM0135") { key records { item { code } } } }'


@pytest.fixture
async def fresh_db(dsn):
    name = f"credit_restore_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield urlunsplit(urlsplit(dsn)._replace(path="/" + name))
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def _head(capsys) -> str:
    assert await asyncio.to_thread(credit, ["audit", "verify"]) == 0
    return re.search(r"chain head: (\S+)", capsys.readouterr().out).group(1)


async def test_a_restored_backup_verifies_with_the_head_taken_before_it(
    gql, pool, settings, cli_env, fresh_db, tmp_path, capsys
):
    for _ in range(3):
        assert "errors" not in await gql(LOOKUP)
    async with pool.acquire() as conn:
        await seal(conn, settings.audit_key)
    head = await _head(capsys)
    archive = tmp_path / "credit.dump"

    assert await asyncio.to_thread(credit, ["backup", "--out", str(archive)]) == 0
    assert f"chain head at backup: {head}" in capsys.readouterr().out
    assert await asyncio.to_thread(credit, ["restore", str(archive), "--into", fresh_db]) == 0
    out = capsys.readouterr().out
    assert f"audit trail verified against the head recorded at backup ({head})" in out

    source, copy = await asyncpg.connect(settings.database_url), await asyncpg.connect(fresh_db)
    try:
        for table in ("records", "subjects", "query_log", "audit_seals", "authorizations"):
            assert await copy.fetchval(f"SELECT count(*) FROM {table}") == await source.fetchval(
                f"SELECT count(*) FROM {table}"), table
    finally:
        await source.close()
        await copy.close()


async def test_a_changed_archive_is_refused_and_nothing_is_restored(
    gql, settings, cli_env, fresh_db, tmp_path, capsys
):
    archive = tmp_path / "credit.dump"
    assert await asyncio.to_thread(credit, ["backup", "--out", str(archive)]) == 0
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    capsys.readouterr()
    assert await asyncio.to_thread(credit, ["restore", str(archive), "--into", fresh_db]) == 1
    assert "摘要与清单不符" in capsys.readouterr().out
    conn = await asyncpg.connect(fresh_db)
    try:
        assert await conn.fetchval("SELECT to_regclass('public.records')") is None
    finally:
        await conn.close()


async def test_a_restore_into_a_database_that_holds_tables_is_refused(
    settings, cli_env, tmp_path, capsys
):
    archive = tmp_path / "credit.dump"
    assert await asyncio.to_thread(credit, ["backup", "--out", str(archive)]) == 0
    capsys.readouterr()
    assert await asyncio.to_thread(credit, ["restore", str(archive), "--into", settings.database_url]) == 1
    assert "不是空库" in capsys.readouterr().out
