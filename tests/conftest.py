"""One real PostgreSQL per test run: DATABASE_URL's server when given (a fresh database is
created on it and dropped afterwards), otherwise an embedded one in a temporary folder."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.audit.integrity import _SEAL_LOCK as SEAL_LOCK
from api.auth.tokens import mint_token
from api.cli import TOKEN_PRESETS
from api.config import Settings
from api.db_server import embedded_database_url
from api.demo import seed_demo

TEST_SECRET = "test-secret-" + "x" * 40
DATA_TABLES = ("query_log", "audit_seals", "audit_purges", "authorizations", "records", "subjects", "catalog_items", "organisations", "record_versions", "subject_changes", "catalog_entries", "catalogs", "rights_notifications", "record_tombstones", "rights_steps", "rights_cases")
DATA_TABLES += ("authorization_documents", "authorization_disputes")  # Art. 19 (migration 0008)
DATA_TABLES += ("credit_report_pdfs", "credit_reports")  # Art. 18, 36 (migration 0013)
DATA_TABLES += ("credit_checks", "list_entries", "list_rules", "measure_versions", "measures")  # Art. 24-32 (0014)
TEST_AUDIT_KEY = "test-audit-key-" + "k" * 40


def _with_database(dsn: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
async def dsn() -> AsyncIterator[str]:
    tmp = None
    base = os.environ.get("DATABASE_URL")
    if not base:
        tmp = tempfile.TemporaryDirectory(prefix="credit-test-pg-")
        base = embedded_database_url(Path(tmp.name) / "pgdata", keep_running=False)
    name = f"credit_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield _with_database(base, name)
    finally:
        admin = await asyncpg.connect(base)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if tmp is not None:
            tmp.cleanup()


@pytest.fixture(scope="session")
def settings(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": dsn,
            "CREDIT_JWT_SECRET": TEST_SECRET,
            "CREDIT_AUDIT_KEY": TEST_AUDIT_KEY,
            "CREDIT_DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "CREDIT_RATE_LIMIT": "off",  # the suite is one caller; tests/test_ratelimit.py turns it on
        }
    )


@pytest.fixture(scope="session")
async def app(settings: Settings):
    from api.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def state(app):
    return app.state.credit


@pytest.fixture
async def pool(state) -> asyncpg.Pool:
    return state.pool


@pytest.fixture(autouse=True)
async def demo_data(request: pytest.FixtureRequest) -> None:
    """Every test that touches the app starts from the demo data and an empty log."""
    if "app" not in request.fixturenames and "state" not in request.fixturenames:
        return
    state = request.getfixturevalue("state")
    owner = await asyncpg.connect(request.getfixturevalue("dsn"))
    try:  # the app's own role may not truncate the audit trail; the owner may
        async with owner.transaction():  # the sealer's lock first: a seal meanwhile deadlocked
            await owner.execute("SELECT pg_advisory_xact_lock($1)", SEAL_LOCK)
            await owner.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " CASCADE")
    finally:
        await owner.close()
    await seed_demo(state.pool)
    await state.catalog.reload()


@pytest.fixture
def clock(state):
    """The rights workflows' clock, fixed (10:00 Beijing time on 2026-09-28; `clock.set(day)`
    moves it), and the real one back afterwards."""
    from tests.rights_helpers import Clock

    c = Clock()
    old, state.clock = state.clock, c
    yield c
    state.clock = old


@pytest.fixture
def cli_env(settings, monkeypatch) -> None:
    """The environment `credit ...` reads, pointing at the test database (for CLI commands run
    through api.cli.main in the test process)."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CREDIT_AUDIT_KEY", TEST_AUDIT_KEY)
    monkeypatch.setenv("CREDIT_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("CREDIT_DATA_DIR", str(settings.data_dir))


@pytest.fixture
async def owner(dsn) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the database owner (DDL, and what the app's role may not do)."""
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def token(settings: Settings, role: str, **claims: Any) -> str:
    """A real signed token for a role, with the demo organisation of that role."""
    body = {**TOKEN_PRESETS[role], "roles": [role], "sub": f"user-{role}", **claims}
    return mint_token(settings, {k: v for k, v in body.items() if v is not None})


class GQL:
    def __init__(self, client: httpx.AsyncClient, settings: Settings):
        self.client = client
        self.settings = settings

    async def __call__(
        self, query: str, variables: dict | None = None, *, as_: str | None = None,
        bearer: str | None = None, language: str | None = None, **claims: Any
    ) -> dict:
        headers = {} if language is None else {"Accept-Language": language}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        elif as_ is not None:
            headers["Authorization"] = f"Bearer {token(self.settings, as_, **claims)}"
        r = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def gql(client, settings) -> GQL:
    return GQL(client, settings)


async def log_rows(pool: asyncpg.Pool, subject_key: str | None = None) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        if subject_key is None:
            return await conn.fetch("SELECT * FROM query_log ORDER BY id")
        return await conn.fetch(
            "SELECT * FROM query_log WHERE subject_key = $1 ORDER BY id", subject_key
        )


def nodes(connection: dict) -> list[dict]:
    """The nodes of a page of a connection (README: Pagination)."""
    return [e["node"] for e in connection["edges"]]
