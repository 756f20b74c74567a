"""The trail's request fields are the server's: its own request id (the client's kept beside it
as a claim) and the client address by the rightmost-untrusted X-Forwarded-For rule."""

from __future__ import annotations

import uuid

import pytest

from api import demo
from api.auth.request_info import client_addr, client_request_id, request_info
from tests.conftest import log_rows

PROXIES = frozenset({"10.0.0.1", "10.1.0.0/16", "::1"})


def scope(peer: str | None, *forwarded: str) -> dict:
    return {
        "type": "http",
        "client": (peer, 40000) if peer else None,
        "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded],
    }


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # an untrusted peer's header proves nothing
        ("198.51.100.9", ["1.2.3.4"], "198.51.100.9"),
        # one trusted proxy: the entry it appended is the client, whatever the client wrote left of it
        ("10.0.0.1", ["6.6.6.6, 198.51.100.9"], "198.51.100.9"),
        # a chain of trusted proxies (address and network) is skipped from the right
        ("10.0.0.1", ["6.6.6.6, 198.51.100.9, 10.1.2.3"], "198.51.100.9"),
        # several headers are one list
        ("10.0.0.1", ["6.6.6.6", "198.51.100.9"], "198.51.100.9"),
        # a client that forges a trusted proxy's address at the left gains nothing
        ("10.0.0.1", ["10.0.0.1, 198.51.100.9"], "198.51.100.9"),
        # every hop trusted: the leftmost one
        ("10.0.0.1", ["10.1.0.5, 10.0.0.1"], "10.1.0.5"),
        # garbage the proxy passed on: the last hop it vouched for
        ("10.0.0.1", ["198.51.100.9, not-an-address"], "10.0.0.1"),
        # ports and brackets
        ("10.0.0.1", ["198.51.100.9:5555"], "198.51.100.9"),
        ("::1", ["[2001:db8::7]:443"], "2001:db8::7"),
        # a trusted peer without the header is the client
        ("10.0.0.1", [], "10.0.0.1"),
    ],
)
def test_client_address_is_the_rightmost_untrusted_hop(peer, forwarded, expected):
    assert client_addr(scope(peer, *forwarded), PROXIES) == expected


def test_no_trusted_proxies_configured_means_the_peer():
    assert client_addr(scope("127.0.0.1", "1.2.3.4"), frozenset()) == "127.0.0.1"
    assert client_addr(scope(None), PROXIES) is None


def test_a_malformed_trusted_entry_trusts_nothing():
    assert client_addr(scope("10.0.0.1", "1.2.3.4"), frozenset({"10.0.0.x"})) == "10.0.0.1"


@pytest.mark.parametrize(
    ("given", "kept"),
    [("abc-123", "abc-123"), (str(uuid.UUID(int=7)), str(uuid.UUID(int=7))), ("", None), (None, None),
     ("a\x00b", None), ("x" * 129, None), ("标识", None), ("  ok  ", "ok")],
)
def test_the_clients_request_id_is_kept_only_as_printable_ascii(given, kept):
    assert client_request_id(given) == kept


def test_the_server_makes_every_request_id():
    chosen = str(uuid.UUID(int=1))
    info = request_info(scope("198.51.100.9"), {"x-request-id": chosen}, PROXIES)
    assert info.request_id != chosen and uuid.UUID(info.request_id)
    assert info.client_request_id == chosen


async def test_the_trail_keeps_the_servers_id_and_the_clients_beside_it(client, pool):
    chosen = str(uuid.UUID(int=42))
    r = await client.post(
        "/graphql",
        json={"query": f'{{ subject(key: "{demo.COMPANY}") {{ key }} }}'},
        headers={"X-Request-Id": chosen, "X-Forwarded-For": "6.6.6.6"},
    )
    assert r.status_code == 200
    (row,) = await log_rows(pool, demo.COMPANY)
    assert str(row["request_id"]) != chosen
    assert row["details"]["client_request_id"] == chosen
    assert row["client_addr"] == "203.0.113.7"  # the test client's peer is no trusted proxy


def test_serve_turns_off_uvicorns_own_proxy_header_trust(monkeypatch, settings):
    import argparse

    import uvicorn

    from api import cli

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))

    async def prepared(*a, **kw):
        return None

    monkeypatch.setattr(cli, "prepare_database", prepared)
    cli._serve(settings, argparse.Namespace(host="127.0.0.1", port=18700, workers=1, demo=False))
    assert seen["proxy_headers"] is False
