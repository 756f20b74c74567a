"""Per-caller rate limits (api/ratelimit.py): 429 with Retry-After past the caller's rate, per
organisation and user (anonymous: per client address), per role; refusals of requests that name
subjects are logged; Redis shares the count between app instances; a failing store refuses."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from api.config import ConfigError, Settings
from api.ratelimit import RateLimiter
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, log_rows, token


@pytest.fixture(autouse=True)
def no_remembered_refusals():
    """Each test starts with no refusal remembered (repeats within the window are not logged)."""
    from api import ratelimit

    ratelimit._recent.clear()
    yield
    ratelimit._recent.clear()

COMPANY = "91130902MA0DEM0135"
PURPOSES = {"query": "{ purposes { code } }"}
REDIS = "redis://127.0.0.1:6379/0"


@contextlib.asynccontextmanager
async def running(settings: Settings, **limits: str) -> AsyncIterator:
    """An app of its own with rate limits on; `limits` per role, e.g. public="3/minute"."""
    from api.app import create_app

    storage = limits.pop("storage", "memory://")
    prefix = limits.pop("prefix", "credit")
    app = create_app(dataclasses.replace(
        settings, rate_limit_enabled=True, rate_limits=tuple(limits.items()),
        rate_limit_storage=storage, rate_limit_prefix=prefix,
    ))
    async with app.router.lifespan_context(app):
        yield app


def client(app, addr: str = "198.51.100.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(addr, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def bearer(settings: Settings, role: str, **claims) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(settings, role, **claims)}"}


def assert_limited(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    wait = int(r.headers["retry-after"])
    assert 1 <= wait <= 60
    error = r.json()["errors"][0]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": wait}
    assert error["message"].startswith("请求过于频繁")
    return wait


async def test_a_caller_over_its_rate_gets_429_with_retry_after(settings, pool):
    async with running(settings, public="3/minute") as app, client(app) as c:
        for _ in range(3):
            assert (await c.post("/graphql", json=PURPOSES)).status_code == 200
        assert_limited(await c.post("/graphql", json=PURPOSES))
        # another address is another caller; /health is never limited
        async with client(app, "198.51.100.2") as other:
            assert (await other.post("/graphql", json=PURPOSES)).status_code == 200
        for _ in range(5):
            assert (await c.get("/health")).status_code == 200


async def test_a_refused_request_naming_a_subject_is_logged(settings, pool):
    q = {"query": "query($k: ID!) { subject(key: $k) { key } }", "variables": {"k": COMPANY}}
    async with running(settings, public="1/minute") as app, client(app) as c:
        assert (await c.post("/graphql", json=q)).status_code == 200
        assert_limited(await c.post("/graphql", json=q))
        assert_limited(await c.post("/graphql", json=PURPOSES))  # names no one: no row
    rows = await log_rows(pool, COMPANY)
    assert [r["outcome"] for r in rows] == ["partial", "refused"]
    assert rows[1]["reason"].startswith("RATE_LIMITED") and rows[1]["client_addr"] == "198.51.100.1"
    refused = [r for r in await log_rows(pool) if r["outcome"] == "refused"]
    assert [r["subject_key"] for r in refused] == [COMPANY]  # the request naming no one: no row


async def test_a_flood_of_refused_requests_is_not_a_flood_of_log_writes(settings, pool):
    """Refused again and again within the window, for the same subject: one row says so."""
    q = {"query": "query($k: ID!) { subject(key: $k) { key } }", "variables": {"k": COMPANY}}
    async with running(settings, public="1/minute") as app, client(app) as c:
        assert (await c.post("/graphql", json=q)).status_code == 200
        for _ in range(30):
            assert_limited(await c.post("/graphql", json=q))
    refused = [r for r in await log_rows(pool, COMPANY) if r["outcome"] == "refused"]
    assert len(refused) == 1 and "秒内的重复拒绝不再逐条记录" in refused[0]["reason"]  # the request's language


async def test_a_subject_named_through_a_json_escape_is_logged_too(settings, pool):
    body = b'{"query": "{ \\u0073ubject(key: \\"' + COMPANY.encode() + b'\\") { key } }"}'
    async with running(settings, public="1/minute") as app, client(app) as c:
        assert (await c.post("/graphql", json=PURPOSES)).status_code == 200
        r = await c.post("/graphql", content=body, headers={"content-type": "application/json"})
        assert_limited(r)
    assert [r["outcome"] for r in await log_rows(pool, COMPANY)] == ["refused"]


async def test_users_are_counted_apart_and_roles_have_their_own_limits(settings):
    async with running(settings, public="1/minute", state_organ="3/minute") as app, client(app) as c:
        organ = bearer(settings, "state_organ")
        colleague = bearer(settings, "state_organ", sub="user-2")
        for _ in range(3):
            assert (await c.post("/graphql", json=PURPOSES, headers=organ)).status_code == 200
        assert_limited(await c.post("/graphql", json=PURPOSES, headers=organ))
        assert (await c.post("/graphql", json=PURPOSES, headers=colleague)).status_code == 200
        # the same address without a token is the public, with the public's limit
        assert (await c.post("/graphql", json=PURPOSES)).status_code == 200
        assert_limited(await c.post("/graphql", json=PURPOSES))


async def test_uploads_and_exports_are_limited_too(settings):
    async with running(settings, provider="1/minute", auditor="1/minute") as app, client(app) as c:
        for role, send in (
            ("provider", lambda h: c.post("/upload/records?format=ndjson", content=b"", headers=h)),
            ("auditor", lambda h: c.get("/audit/export", headers=h)),
        ):
            headers = bearer(settings, role)
            assert (await send(headers)).status_code != 429
            r = await send(headers)
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
            assert r.json()["error"] == "rate_limited"


async def redis_or_skip() -> None:
    try:
        async with aioredis.from_url(REDIS, socket_connect_timeout=1) as r:
            await r.ping()
    except (OSError, aioredis.ConnectionError) as e:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS} is needed in CI: {e}")
        pytest.skip(f"no Redis at {REDIS}")


async def test_two_app_instances_share_the_count_in_redis(settings):
    await redis_or_skip()
    prefix = f"credit-test-{uuid.uuid4().hex}"
    try:
        async with (
            running(settings, public="4/minute", storage=REDIS, prefix=prefix) as one,
            running(settings, public="4/minute", storage=REDIS, prefix=prefix) as two,
            client(one) as c1,
            client(two) as c2,
        ):
            for c in (c1, c2, c1, c2):
                assert (await c.post("/graphql", json=PURPOSES)).status_code == 200
            assert_limited(await c2.post("/graphql", json=PURPOSES))
            assert_limited(await c1.post("/graphql", json=PURPOSES))
    finally:
        async with aioredis.from_url(REDIS) as r:
            keys = [k async for k in r.scan_iter(match=f"{prefix}*")]
            assert keys  # the counts were in Redis
            await r.delete(*keys)


@contextlib.contextmanager
def servers(dsn: str, data_dir: str, ports: list[int], **env: str):
    """Real uvicorn processes of the app (as `credit serve` runs it), stopped afterwards."""
    base = {**os.environ, "DATABASE_URL": dsn, "CREDIT_JWT_SECRET": TEST_SECRET,
            "CREDIT_AUDIT_KEY": TEST_AUDIT_KEY, "CREDIT_DATA_DIR": data_dir, **env}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.asgi:app", "--host", "127.0.0.1", "--port", str(p)],
        env=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ) for p in ports]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def until_up(port: int) -> None:
    async with httpx.AsyncClient() as c:
        for _ in range(300):  # up to a minute: migrations and pool at start
            with contextlib.suppress(httpx.TransportError):
                if (await c.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    pytest.fail(f"the server on port {port} did not come up")


async def test_two_server_processes_share_the_count_and_refuse_at_once(dsn, tmp_path):
    await redis_or_skip()
    prefix = f"credit-test-{uuid.uuid4().hex}"
    ports = [18121, 18122]
    with servers(dsn, str(tmp_path), ports, CREDIT_RATE_LIMIT_PUBLIC="3/minute",
                 CREDIT_RATE_LIMIT_STORAGE=REDIS, CREDIT_RATE_LIMIT_PREFIX=prefix):
        for p in ports:
            await until_up(p)
        async with httpx.AsyncClient(timeout=10) as c:
            urls = [f"http://127.0.0.1:{p}/graphql" for p in ports]
            for url in (urls[0], urls[1], urls[0]):
                assert (await c.post(url, json=PURPOSES)).status_code == 200
            for url in urls:
                r = await c.post(url, json={"query": "# " + "x" * 5000 + "\n{ purposes { code } }"})
                assert_limited(r)
                assert r.elapsed.total_seconds() < 1.0  # answered, not waiting on the client
    async with aioredis.from_url(REDIS) as r:
        keys = [k async for k in r.scan_iter(match=f"{prefix}*")]
        if keys:
            await r.delete(*keys)


async def test_a_failing_store_refuses_rather_than_count_nothing(settings, pool):
    """Fail closed: a store that goes away answers 503 in bounded time; one that is not there
    stops the start."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = 18142
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(100):  # until it answers
            with contextlib.suppress(OSError, aioredis.ConnectionError):
                async with aioredis.from_url(url, socket_connect_timeout=0.2) as r:
                    await r.ping()
                    break
            await asyncio.sleep(0.05)
        async with running(settings, public="100/minute", storage=url) as app, client(app) as c:
            assert (await c.post("/graphql", json=PURPOSES)).status_code == 200
            proc.terminate()
            proc.wait(timeout=10)
            r = await asyncio.wait_for(c.post("/graphql", json={
                "query": f'{{ subject(key: "{COMPANY}") {{ key }} }}'}), timeout=10)
            assert r.status_code == 503 and r.headers["retry-after"]
            assert r.json()["errors"][0]["extensions"]["code"] == "RATE_LIMIT_UNAVAILABLE"
        assert [r["outcome"] for r in await log_rows(pool, COMPANY)] == ["refused"]
        with pytest.raises(ConfigError):
            async with running(settings, storage=url):
                pass
    finally:
        proc.kill()
        proc.wait()


def test_limits_come_from_the_environment(tmp_path):
    env = {"CREDIT_JWT_SECRET": TEST_SECRET, "CREDIT_AUDIT_KEY": TEST_AUDIT_KEY,
           "CREDIT_DATA_DIR": str(tmp_path), "CREDIT_RATE_LIMIT_PUBLIC": "2/second;10/minute",
           "CREDIT_RATE_LIMIT_AUDITOR": "none", "CREDIT_RATE_LIMIT_STORAGE": REDIS}
    s = Settings.from_env(env)
    assert s.rate_limit_enabled and s.rate_limit_storage == REDIS
    assert dict(s.rate_limits) == {"public": "2/second;10/minute", "auditor": "none"}
    limiter = RateLimiter(s)
    assert [str(i) for i in limiter.limits["public"]] == ["2 per 1 second", "10 per 1 minute"]
    assert limiter.limits["auditor"] == []
    assert not Settings.from_env({**env, "CREDIT_RATE_LIMIT": "off"}).rate_limit_enabled
    with pytest.raises(ConfigError):
        RateLimiter(Settings.from_env({**env, "CREDIT_RATE_LIMIT_PUBLIC": "lots"}))
    with pytest.raises(ConfigError):
        RateLimiter(Settings.from_env({**env, "CREDIT_RATE_LIMIT_STORAGE": "mongodb://x"}))
