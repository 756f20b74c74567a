"""CORS over HTTP (api/cors.py): a real server with CREDIT_CORS_ORIGINS; a listed origin's
preflight is allowed with the right headers, another origin's is not; the preflight goes through
the guard's header limit like any request."""

from __future__ import annotations


import httpx
import pytest

from tests.conftest import token
from tests.test_guard_limits import GuardServer
from tests.test_ingestion_crash import free_port

PORTAL = "https://portal.example.cn"
OTHER = "https://evil.example.com"
PORTS = range(18300, 18400)  # the port range of this test file's servers


@pytest.fixture(scope="module")
async def server(dsn, tmp_path_factory):
    s = GuardServer(dsn, tmp_path_factory.mktemp("cors"),
                    {"CREDIT_CORS_ORIGINS": f"{PORTAL},http://localhost:3000",
                     "CREDIT_MAX_HEADER_BYTES": str(8 << 10)}, port=free_port(PORTS))
    try:
        await s.ready()
        yield s
    finally:
        s.kill()


def preflight(origin: str) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"}


async def test_a_listed_origins_preflight_is_allowed_with_the_right_headers(server):
    async with httpx.AsyncClient() as c:
        r = await c.options(server.url + "/graphql", headers=preflight(PORTAL))
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == PORTAL
    assert {m.strip() for m in r.headers["access-control-allow-methods"].split(",")} == {"GET", "POST"}
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert r.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in r.headers


async def test_an_unlisted_origins_preflight_gets_no_allow_headers(server):
    async with httpx.AsyncClient() as c:
        r = await c.options(server.url + "/graphql", headers=preflight(OTHER))
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers


async def test_the_real_request_carries_the_origin_only_for_a_listed_one(server, settings):
    body = {"query": "{ purposes { code } }"}
    auth = {"Authorization": f"Bearer {token(settings, 'credit_service')}"}
    async with httpx.AsyncClient() as c:
        listed = await c.post(server.url + "/graphql", json=body, headers={**auth, "Origin": PORTAL})
        other = await c.post(server.url + "/graphql", json=body, headers={**auth, "Origin": OTHER})
    assert listed.status_code == 200 and listed.json()["data"]["purposes"]
    assert listed.headers["access-control-allow-origin"] == PORTAL
    assert "access-control-allow-origin" not in other.headers


async def test_a_preflight_does_not_bypass_the_guards_header_limit(server):
    headers = {**preflight(PORTAL), "X-Padding": "p" * (9 << 10)}
    async with httpx.AsyncClient() as c:
        r = await c.options(server.url + "/graphql", headers=headers)
    assert r.status_code == 431
    assert "access-control-allow-origin" not in r.headers


async def test_without_configured_origins_a_preflight_is_not_answered(client):
    r = await client.options("/graphql", headers=preflight(PORTAL))
    assert r.status_code == 405
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("origin", [
    PORTAL + ".evil.example", PORTAL.replace("://", "://evil"), PORTAL.upper(), PORTAL + ":443",
    PORTAL + "/", "null", "http" + PORTAL.removeprefix("https"), "*",
    f"{PORTAL}, {OTHER}", "http://localhost:3000.evil.example", "http://localhost:30000",
])
async def test_an_origin_only_like_a_listed_one_is_not_allowed(server, settings, origin):
    auth = {"Authorization": f"Bearer {token(settings, 'credit_service')}"}
    async with httpx.AsyncClient() as c:
        pre = await c.options(server.url + "/graphql", headers=preflight(origin))
        real = await c.post(server.url + "/graphql", json={"query": "{ purposes { code } }"},
                            headers={**auth, "Origin": origin})
    assert pre.status_code == 400 and "access-control-allow-origin" not in pre.headers
    assert "access-control-allow-origin" not in real.headers
    assert "access-control-allow-credentials" not in real.headers
