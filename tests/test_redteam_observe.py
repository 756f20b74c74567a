"""Attacks on the watching surfaces: /health/ready is open to anyone and outside admission, so
however many callers poll it at once, one readiness check (one pool connection, two rolled-back
trail rows) serves them all; and a client's GraphQL mistake leaves no subject key or name it
typed in the log."""

from __future__ import annotations

import asyncio
import logging

import pytest

from api.observe.health import SharedReadiness
from tests.conftest import token


class Check:
    def __init__(self):
        self.release = asyncio.Event()
        self.running = 0
        self.most_at_once = 0

    async def __call__(self):
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.release.wait()
            return True, {"status": "ok", "n": self.most_at_once}
        finally:
            self.running -= 1


async def test_callers_at_once_share_one_check():
    check = Check()
    shared = SharedReadiness(check)
    callers = [asyncio.create_task(shared()) for _ in range(200)]
    while check.running == 0:
        await asyncio.sleep(0)
    check.release.set()
    results = await asyncio.gather(*callers)
    assert shared.checks_run == 1 and check.most_at_once == 1
    assert all(r == (True, {"status": "ok", "n": 1}) for r in results)


async def test_a_caller_leaving_does_not_cancel_the_check_others_wait_for():
    check = Check()
    shared = SharedReadiness(check)
    leaving, staying = asyncio.create_task(shared()), asyncio.create_task(shared())
    while check.running == 0:
        await asyncio.sleep(0)
    leaving.cancel()
    check.release.set()
    assert (await staying)[0] is True
    assert leaving.cancelled()


async def test_without_reuse_each_later_poll_checks_again():
    check = Check()
    check.release.set()
    shared = SharedReadiness(check)
    for _ in range(3):
        await shared()
    assert shared.checks_run == 3  # a failure shows on the next poll, not a second later


# --- what the log learns from a client's mistake -------------------------------------------------

NAME, KEY = "张三丰", "110101199003071234"


@pytest.mark.parametrize("body", [
    {"query": '{ subject(key: "%s" "%s") { key } }' % (KEY, NAME)},  # syntax error on a string
    {"query": "query($k: ID!) { subject(key: $k, purpose: \"x\") { key } }",
     "variables": {"k": {"name": NAME, "key": KEY}}},  # a value the schema cannot take
    {"query": "query($k: String!) { __typename }", "variables": {"k": int(KEY)}},
    {"query": "query($d: Date!) { __typename }", "variables": {"d": NAME + KEY}},
])
async def test_a_client_mistake_is_one_info_line_without_what_the_client_quoted(client, settings, caplog, body):
    caplog.set_level(logging.INFO)
    r = await client.post("/graphql", json=body,
                          headers={"Authorization": f"Bearer {token(settings, 'state_organ')}"})
    assert r.status_code == 200 and r.json()["errors"]
    records = [rec for rec in caplog.records if rec.name.startswith(("credit", "strawberry"))]
    assert records and all(rec.levelno <= logging.INFO for rec in records)
    for rec in records:
        text = rec.getMessage() + (rec.exc_text or "")
        assert NAME not in text and KEY not in text, text


async def test_readiness_tells_a_public_caller_its_status_but_not_the_checks(client):
    r = await client.get("/health/ready")  # the test client's address is 203.0.113.7
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readiness_details_are_for_the_metrics_network():
    from api.observe.scrape import MetricsAccess

    def scope(peer, headers=()):
        return {"type": "http", "client": (peer, 4000), "headers": list(headers)}

    access = MetricsAccess.from_env({})
    assert access.sees_details(scope("10.1.2.3"), frozenset())
    assert not access.sees_details(scope("203.0.113.7"), frozenset())
    assert not access.sees_details(scope("127.0.0.1", [(b"x-forwarded-for", b"10.0.0.1")]), frozenset())
