"""The migration runner against real PostgreSQL: each test gets a scratch database on the test
server and its own folder of small SQL files."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from api.config import ROOT
from api.db_migrate import MigrationError, load_migrations, migrate

REAL_MIGRATIONS = ROOT / "migrations"


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
async def scratch(dsn: str) -> AsyncIterator[str]:
    name = f"credit_mig_{secrets.token_hex(5)}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(dsn, name)
    finally:
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "migrations"
    d.mkdir()
    return d


def write(folder: Path, name: str, sql: str) -> Path:
    path = folder / name
    path.write_text(sql, encoding="utf-8")
    return path


async def fetch(dsn: str, sql: str, *args):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def recorded(dsn: str) -> list[asyncpg.Record]:
    return await fetch(dsn, "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")


async def table_exists(dsn: str, table: str) -> bool:
    rows = await fetch(dsn, "SELECT to_regclass($1) IS NOT NULL AS present", table)
    return rows[0]["present"]


def sha(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


CREATE_T1 = "CREATE TABLE t1 (id int PRIMARY KEY, note text);\n"
INSERT_T1 = "INSERT INTO t1 VALUES (1, 'second');\n"
ALTER_T1 = "ALTER TABLE t1 ADD COLUMN extra text NOT NULL DEFAULT 'third';\n"


def three_migrations(folder: Path) -> None:
    write(folder, "0001_create.sql", CREATE_T1)
    write(folder, "0002_insert.sql", INSERT_T1)
    write(folder, "0010_alter.sql", ALTER_T1)


# --- applying ----------------------------------------------------------------------------------


async def test_migrate_applies_files_in_order_and_records_checksums(scratch, folder):
    three_migrations(folder)
    applied = await migrate(scratch, folder)
    assert applied == ["0001_create.sql", "0002_insert.sql", "0010_alter.sql"]
    rows = await recorded(scratch)
    assert [(r["version"], r["name"], r["checksum"]) for r in rows] == [
        ("0001", "0001_create.sql", sha(CREATE_T1)),
        ("0002", "0002_insert.sql", sha(INSERT_T1)),
        ("0010", "0010_alter.sql", sha(ALTER_T1)),
    ]
    # the later files needed the earlier ones: order really was kept
    data = await fetch(scratch, "SELECT id, note, extra FROM t1")
    assert [tuple(r) for r in data] == [(1, "second", "third")]


async def test_running_again_applies_nothing(scratch, folder):
    three_migrations(folder)
    await migrate(scratch, folder)
    before = await recorded(scratch)
    assert await migrate(scratch, folder) == []
    assert await recorded(scratch) == before
    assert len(await fetch(scratch, "SELECT * FROM t1")) == 1  # the INSERT did not run twice


async def test_a_new_file_is_applied_on_the_next_run_alone(scratch, folder):
    write(folder, "0001_create.sql", CREATE_T1)
    assert await migrate(scratch, folder) == ["0001_create.sql"]
    write(folder, "0002_insert.sql", INSERT_T1)
    assert await migrate(scratch, folder) == ["0002_insert.sql"]
    assert [r["version"] for r in await recorded(scratch)] == ["0001", "0002"]


async def test_empty_folder_applies_nothing_but_creates_the_ledger(scratch, folder):
    assert await migrate(scratch, folder) == []
    assert await table_exists(scratch, "schema_migrations")
    assert await recorded(scratch) == []


async def test_migration_with_several_statements_applies_them_all(scratch, folder):
    write(folder, "0001_two_tables.sql", "CREATE TABLE a (x int);\nCREATE TABLE b (y int);\n")
    await migrate(scratch, folder)
    assert await table_exists(scratch, "a") and await table_exists(scratch, "b")


# --- edited files -------------------------------------------------------------------------------


async def test_editing_an_applied_file_raises_naming_the_file(scratch, folder):
    three_migrations(folder)
    await migrate(scratch, folder)
    write(folder, "0002_insert.sql", "INSERT INTO t1 VALUES (2, 'changed');\n")
    write(folder, "0011_more.sql", "CREATE TABLE t11 (id int);\n")
    with pytest.raises(MigrationError) as e:
        await migrate(scratch, folder)
    message = str(e.value)
    assert "0002_insert.sql" in message
    assert "edited" in message
    # nothing ran: neither the edited file again nor the new one behind it
    assert [tuple(r) for r in await fetch(scratch, "SELECT id, note FROM t1")] == [(1, "second")]
    assert not await table_exists(scratch, "t11")
    assert [r["version"] for r in await recorded(scratch)] == ["0001", "0002", "0010"]


async def test_restoring_an_edited_file_lets_migrate_run_again(scratch, folder):
    three_migrations(folder)
    await migrate(scratch, folder)
    write(folder, "0001_create.sql", CREATE_T1 + "-- a comment\n")
    with pytest.raises(MigrationError, match="0001_create.sql"):
        await migrate(scratch, folder)
    write(folder, "0001_create.sql", CREATE_T1)
    assert await migrate(scratch, folder) == []


async def test_database_with_migrations_this_folder_lacks_is_refused(scratch, folder):
    three_migrations(folder)
    await migrate(scratch, folder)
    (folder / "0010_alter.sql").unlink()
    with pytest.raises(MigrationError, match="'0010'") as e:
        await migrate(scratch, folder)
    assert "newer" in str(e.value)


# --- failures -----------------------------------------------------------------------------------


async def test_failing_migration_rolls_back_entirely_and_earlier_ones_stay(scratch, folder):
    write(folder, "0001_create.sql", CREATE_T1)
    write(folder, "0002_broken.sql", "CREATE TABLE t2 (id int);\nINSERT INTO no_such_table VALUES (1);\n")
    write(folder, "0003_after.sql", "CREATE TABLE t3 (id int);\n")
    with pytest.raises(MigrationError, match="0002_broken.sql"):
        await migrate(scratch, folder)
    assert await table_exists(scratch, "t1")
    assert not await table_exists(scratch, "t2")  # the first statement of the failing file too
    assert not await table_exists(scratch, "t3")  # nothing after the failure
    assert [r["version"] for r in await recorded(scratch)] == ["0001"]


async def test_after_a_failed_migration_is_fixed_the_run_completes(scratch, folder):
    write(folder, "0001_create.sql", CREATE_T1)
    write(folder, "0002_broken.sql", "CREATE TABLE t2 (id int;\n")  # syntax error
    with pytest.raises(MigrationError, match="failed and was rolled back"):
        await migrate(scratch, folder)
    write(folder, "0002_broken.sql", "CREATE TABLE t2 (id int);\n")
    # the advisory lock was released by the failed run: this does not wait forever
    applied = await asyncio.wait_for(migrate(scratch, folder), timeout=30)
    assert applied == ["0002_broken.sql"]
    assert await table_exists(scratch, "t2")


# --- concurrency --------------------------------------------------------------------------------


async def test_concurrent_migrate_calls_apply_each_migration_exactly_once(scratch, folder):
    # plain CREATE TABLE (no IF NOT EXISTS) and a non-idempotent INSERT: a second application of
    # any file would raise or duplicate rows
    write(folder, "0001_create.sql", CREATE_T1)
    write(folder, "0002_insert.sql", INSERT_T1)
    write(folder, "0003_create.sql", "CREATE TABLE t3 (id int PRIMARY KEY);\n")
    write(folder, "0004_insert.sql", "INSERT INTO t3 SELECT g FROM generate_series(1, 100) g;\n")
    results = await asyncio.gather(*(migrate(scratch, folder) for _ in range(4)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    applied = [name for r in results for name in r]
    assert sorted(applied) == ["0001_create.sql", "0002_insert.sql", "0003_create.sql", "0004_insert.sql"]
    rows = await recorded(scratch)
    assert [r["version"] for r in rows] == ["0001", "0002", "0003", "0004"]
    assert len(await fetch(scratch, "SELECT * FROM t1")) == 1
    assert (await fetch(scratch, "SELECT count(*) AS n FROM t3"))[0]["n"] == 100


async def test_concurrent_first_run_on_a_database_without_the_ledger(scratch, folder):
    write(folder, "0001_create.sql", CREATE_T1)
    a, b = await asyncio.gather(migrate(scratch, folder), migrate(scratch, folder))
    assert sorted([a, b]) == [[], ["0001_create.sql"]]


# --- file names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_name", ["create_things.sql", "V1__init.sql", "_0001.sql", "first-0001.sql"])
async def test_badly_named_file_raises_naming_it(scratch, folder, bad_name):
    write(folder, "0001_create.sql", CREATE_T1)
    write(folder, bad_name, "CREATE TABLE bad (id int);\n")
    with pytest.raises(MigrationError) as e:
        await migrate(scratch, folder)
    assert bad_name in str(e.value)
    assert "NNNN_description.sql" in str(e.value)
    # refused before touching the database
    assert not await table_exists(scratch, "schema_migrations")
    assert not await table_exists(scratch, "t1")


async def test_two_files_with_the_same_number_are_refused(scratch, folder):
    write(folder, "0001_create.sql", CREATE_T1)
    write(folder, "0001_other.sql", "CREATE TABLE other (id int);\n")
    with pytest.raises(MigrationError, match="share a number"):
        await migrate(scratch, folder)
    assert not await table_exists(scratch, "t1")


def test_files_other_than_sql_are_ignored(folder):
    write(folder, "0001_create.sql", CREATE_T1)
    write(folder, "README.md", "notes")
    write(folder, "0002_draft.sql.bak", "DROP TABLE t1;")
    assert [m.name for m in load_migrations(folder)] == ["0001_create.sql"]




async def test_unpadded_numbers_are_applied_in_numeric_order_or_refused(scratch, folder):
    write(folder, "9_create.sql", CREATE_T1)
    write(folder, "10_insert.sql", INSERT_T1)
    try:
        applied = await migrate(scratch, folder)
    except MigrationError:
        return  # refusing the names is fine too
    assert applied == ["9_create.sql", "10_insert.sql"]


def test_numbers_differing_only_in_padding_count_as_the_same_number(folder):
    write(folder, "1_create.sql", CREATE_T1)
    write(folder, "01_insert.sql", INSERT_T1)
    with pytest.raises(MigrationError):
        load_migrations(folder)


# --- the real migrations ------------------------------------------------------------------------


async def test_real_migrations_apply_cleanly_to_a_fresh_database(scratch):
    files = sorted(p.name for p in REAL_MIGRATIONS.glob("*.sql"))
    assert files, "the repository has migrations"
    assert await migrate(scratch, REAL_MIGRATIONS) == files
    rows = await recorded(scratch)
    assert [r["name"] for r in rows] == files
    for r in rows:
        text = (REAL_MIGRATIONS / r["name"]).read_text(encoding="utf-8")
        assert r["checksum"] == sha(text)
    for table in ("query_log", "authorizations", "records", "subjects", "catalog_items", "organisations"):
        assert await table_exists(scratch, table), table
    assert await migrate(scratch, REAL_MIGRATIONS) == []
