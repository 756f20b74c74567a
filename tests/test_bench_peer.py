"""The lookup benchmark's peer (bench/peer/, bench/peer_setup.py) gives the bench's asker what
the platform gives it, and logs each lookup in its transaction: otherwise `lookup.py --peer`
compares unlike things. Runs node; skipped where node is missing or bench/peer/node_modules was
never installed (`npm ci` in bench/peer, or one `python bench/lookup.py --peer`): the test does
not download packages itself.

It uses a database of its own: the peer turns on row-level security on `records`, which the
rest of the suite's database must not get."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import peer_setup  # noqa: E402
from benchdb import open_bench_database  # noqa: E402

from api import demo  # noqa: E402
from api.config import Settings  # noqa: E402
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, token  # noqa: E402

_missing = peer_setup.node_missing()
pytestmark = [
    pytest.mark.skipif(_missing is not None, reason=f"the peer needs node and npm: {_missing}"),
    pytest.mark.skipif(
        _missing is None and not peer_setup.node_modules_ready(),
        reason="bench/peer/node_modules not installed (npm ci in bench/peer, or run "
        "bench/lookup.py --peer once); the test does not download packages",
    ),
]

PLATFORM_QUERY = (
    "query($k: ID!, $p: String){ subject(key:$k, purpose:$p){ key name "
    "records { id item { code } decidedOn status } } }"
)
PURPOSE = "loan_review"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
async def bench(tmp_path_factory):
    """A database with the demo data and the peer installed; the platform app and the peer's
    node server on it."""
    from api.app import create_app

    db = await open_bench_database("credit-test-peer-")
    try:
        settings = Settings.from_env(
            {
                "DATABASE_URL": db.dsn,
                "CREDIT_JWT_SECRET": TEST_SECRET,
                "CREDIT_AUDIT_KEY": TEST_AUDIT_KEY,
                "CREDIT_DATA_DIR": str(tmp_path_factory.mktemp("peer-data")),
                "CREDIT_RATE_LIMIT": "off",
            }
        )
        platform = create_app(settings)
        async with platform.router.lifespan_context(platform):
            await demo.seed_demo(platform.state.credit.pool)
            await platform.state.credit.catalog.reload()
            signing = await peer_setup.install(db.dsn, TEST_AUDIT_KEY.encode())
            port = _free_port()
            log = tmp_path_factory.mktemp("peer-log") / "peer.log"
            proc = peer_setup.start(db.dsn, port, TEST_SECRET, workers=1, pool_size=2, log_path=log)
            try:
                url = f"http://127.0.0.1:{port}/graphql"
                async with httpx.AsyncClient(timeout=10) as peer:
                    deadline = time.monotonic() + 30
                    while True:  # ready: an anonymous {__typename} answers 200
                        assert proc.poll() is None, log.read_text()
                        try:
                            if (await peer.post(url, json={"query": "{__typename}"})).status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        assert time.monotonic() < deadline, log.read_text()
                        await asyncio.sleep(0.1)
                    transport = httpx.ASGITransport(app=platform, client=("203.0.113.7", 51000))
                    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                        yield {
                            "settings": settings, "dsn": db.dsn, "peer": peer, "url": url,
                            "platform": client, "signing": signing,
                        }
            finally:
                peer_setup.stop(proc)
    finally:
        await db.close()


async def _peer_lookup(bench, bearer: str | None, key: str = demo.COMPANY) -> dict:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    r = await bench["peer"].post(
        bench["url"], json={"query": peer_setup.QUERY, "variables": {"k": key, "p": PURPOSE}},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return peer_setup.lookup_of(r.json())


async def _platform_ids(bench, role: str | None) -> set[str]:
    """Records the platform shows the demo company's lookup by `role` (None: the public)."""
    headers = {"Authorization": f"Bearer {token(bench['settings'], role)}"} if role else {}
    r = await bench["platform"].post(
        "/graphql",
        json={"query": PLATFORM_QUERY, "variables": {"k": demo.COMPANY, "p": PURPOSE}},
        headers=headers,
    )
    assert r.status_code == 200 and not r.json().get("errors"), r.text
    return {rec["id"] for rec in r.json()["data"]["subject"]["records"]}


async def test_agency_gets_the_platforms_records_and_one_signed_log_row(bench):
    expected = await _platform_ids(bench, "credit_service")
    conn = await asyncpg.connect(bench["dsn"])
    try:
        before = await conn.fetchval("SELECT count(*) FROM peer.lookups")
        agency = peer_setup.token(TEST_SECRET, org=demo.AGENCY, name="沧州信达信用评估有限公司")
        found = await _peer_lookup(bench, agency)
        shown = {r["id"] for r in found["subject"]["records"]}
        # the demo authorization (public + authorized, loan_review) opens the authorized items
        assert shown == expected and len(shown) == 6
        assert found["outcome"] == "partial" and len(found["authorizationIds"]) == 1
        rows = await conn.fetch("SELECT * FROM peer.lookups WHERE id > $1", before)
        assert len(rows) == 1
        row = rows[0]
        assert (row["org_code"], row["role"], row["subject_key"], row["purpose"]) == (
            demo.AGENCY, "credit_service", demo.COMPANY, PURPOSE,
        )
        assert {d["record"] for d in json.loads(row["disclosed"])} == shown
        assert len(row["mac"]) == 32  # HMAC-SHA256, or the keyed sha256 without pgcrypto
    finally:
        await conn.close()


async def test_public_gets_public_records_only_and_nothing_without_a_lookup(bench):
    public = {r["id"] for r in (await _peer_lookup(bench, None))["subject"]["records"]}
    expected = await _platform_ids(bench, None)
    assert public == expected and 0 < len(public) < 6
    conn = await asyncpg.connect(bench["dsn"])
    try:
        async with conn.transaction():  # the asker's role, without peer.lookup_subject
            await conn.execute("SET LOCAL ROLE peer_credit_service")
            await conn.execute("SELECT set_config('jwt.claims.org', $1, true)", demo.AGENCY)
            assert await conn.fetchval("SELECT count(*) FROM records") == 0
            assert await conn.fetchval("SELECT count(*) FROM peer.records") == 0
    finally:
        await conn.close()
