"""The app logs in as its own role (migrations/0007): not the owner, not a superuser, unable to
change role; the owner keeps migrations and upkeep; what the app may not do, it cannot."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import asyncpg
import pytest

from api.db import create_pool
from api.db_login import LoginError, app_login_dsn
from api.db_migrate import migrate
from tests.conftest import TEST_AUDIT_KEY
from tests.test_migrations import _with_database

REAL_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@pytest.mark.parametrize("owner_dsn,app_dsn", [
    ("postgresql://postgres@127.0.0.1:5432/credit", "postgresql://credit_app@127.0.0.1:5432/credit"),
    ("postgresql://owner:s3cret@db.example:6432/credit?sslmode=require",
     "postgresql://credit_app@db.example:6432/credit?sslmode=require"),
    ("postgresql://postgres:@/postgres?host=/tmp/pgsock", "postgresql://credit_app@/postgres?host=/tmp/pgsock"),
    ("postgresql:///credit?host=/run/pg&user=owner&password=x", "postgresql://credit_app@/credit?host=/run/pg"),
])
def test_the_app_login_is_derived_from_the_owners_dsn(owner_dsn, app_dsn, monkeypatch):
    monkeypatch.delenv("CREDIT_APP_DATABASE_URL", raising=False)
    assert app_login_dsn(owner_dsn) == app_dsn


def test_an_explicit_app_login_wins(monkeypatch):
    monkeypatch.setenv("CREDIT_APP_DATABASE_URL", "postgresql://credit_app:pw@db/credit")
    assert app_login_dsn("postgresql://owner@db/credit") == "postgresql://credit_app:pw@db/credit"
    assert app_login_dsn("postgresql://owner@db/credit", "postgresql://x@y/z") == "postgresql://x@y/z"


async def test_the_app_is_its_own_login_and_cannot_change_role(pool, owner):
    owner_role = await owner.fetchval("SELECT current_user")
    async with pool.acquire() as conn:
        assert tuple(await conn.fetchrow("SELECT session_user, current_user")) == ("credit_app", "credit_app")
        assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
        await conn.execute("RESET ROLE")
        assert await conn.fetchval("SELECT current_user") == "credit_app"
        for role in {owner_role, "postgres"}:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f'SET ROLE "{role}"')
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f'SET SESSION AUTHORIZATION "{owner_role}"')


@pytest.mark.parametrize("sql", [
    "DELETE FROM records",
    "DELETE FROM subjects",
    "DELETE FROM record_tombstones",
    "UPDATE record_versions SET data = '{}'",
    "UPDATE record_tombstones SET basis = 'art40_request'",
    "UPDATE query_log SET reason = 'x'",
    "DELETE FROM audit_seals",
    "TRUNCATE records CASCADE",
    "ALTER TABLE records DISABLE TRIGGER USER",
    "SET session_replication_role = replica",
])
async def test_what_the_app_never_does_it_cannot(pool, sql):
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql)


async def test_a_kept_version_refuses_a_new_mac(pool, gql):
    from tests.test_records_integrity import submitted

    await submitted(gql, pool)
    await submitted(gql, pool, data={"xk_nr": "建材及五金销售"}, changeReason="许可范围更正")
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(asyncpg.CheckViolationError, match="never changed"):
            await conn.execute("UPDATE record_versions SET mac = NULL")


async def test_the_pool_refuses_a_login_that_could_do_more(dsn):
    with pytest.raises(LoginError, match="superuser"):  # the owner of the test set-up is one
        await create_pool(dsn, audit_key=TEST_AUDIT_KEY.encode(), min_size=1, max_size=1, login_dsn=dsn)


async def test_the_pool_refuses_a_login_that_belongs_to_another_role(dsn, owner):
    role = f"credit_test_member_{secrets.token_hex(4)}"
    await owner.execute(f'CREATE ROLE "{role}" LOGIN IN ROLE credit_app')
    try:
        with pytest.raises(LoginError, match="member of credit_app"):
            await create_pool(dsn, audit_key=TEST_AUDIT_KEY.encode(), min_size=1, max_size=1,
                              login_dsn=app_login_dsn(dsn).replace("credit_app@", f"{role}@"))
    finally:
        await owner.execute(f'DROP ROLE "{role}"')


async def test_databases_of_one_cluster_migrate_at_once(dsn, owner):
    """Roles are cluster-wide: two fresh databases set up the app login at the same time."""
    names = [f"credit_roles_{secrets.token_hex(4)}" for _ in range(2)]
    for name in names:
        await owner.execute(f'CREATE DATABASE "{name}"')
    try:
        done = await asyncio.gather(*(migrate(_with_database(dsn, n), REAL_MIGRATIONS) for n in names))
        assert all("0007_app_login_record_macs.sql" in d for d in done)
        pool = await create_pool(_with_database(dsn, names[0]), audit_key=TEST_AUDIT_KEY.encode(),
                                 min_size=1, max_size=1)
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT session_user") == "credit_app"
        await pool.close()
    finally:
        for name in names:
            await owner.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
