"""Watching it run (issue 13), over HTTP against a real uvicorn: /metrics counts what was done,
every answer carries X-Request-Id and leaves exactly one JSON access line with the same id (the
trail's request_id too), a client's GraphQL mistake is one INFO line, and readiness proves the
trail's month takes rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api import demo
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, token
from tests.test_ingestion_crash import ROOT, Server, free_port

LOOKUP = 'query($k: ID!, $p: String) { subject(key: $k, purpose: $p) { key } }'
PORTS = range(18210, 18300)  # this suite's servers stay in their own range


class LoggedServer(Server):
    """uvicorn api.asgi:app as deployed: JSON logs on stderr, kept in a file to read."""

    def __init__(self, dsn: str, data_dir: Path, env: dict[str, str] | None = None):
        self.port = free_port(PORTS)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        full = {k: v for k, v in os.environ.items() if not k.startswith(("CREDIT_", "PROMETHEUS_"))}
        full.update(DATABASE_URL=dsn, CREDIT_JWT_SECRET=TEST_SECRET, CREDIT_AUDIT_KEY=TEST_AUDIT_KEY,
                    CREDIT_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), CREDIT_RATE_LIMIT="off",
                    **(env or {}))
        self.log_file = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.asgi:app", "--host", "127.0.0.1", "--port",
             str(self.port), "--log-level", "warning"],
            cwd=ROOT, env=full, stderr=self.log_file,
        )

    def lines(self) -> list[dict]:
        out = []
        for raw in self.log_path.read_text().splitlines():
            if raw.startswith("{"):
                out.append(json.loads(raw))
        return out

    async def access_lines(self, ids: set[str], timeout: float = 10.0) -> list[dict]:
        """The access lines of these request ids, once all are written (the line follows the
        answer's last byte)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [l for l in self.lines() if l.get("logger") == "credit.access" and l.get("request_id") in ids]
            if {l["request_id"] for l in found} >= ids or loop.time() > deadline:
                return found
            await asyncio.sleep(0.05)  # polling for the lines, bounded above

    def stop(self) -> None:
        self.kill()
        self.log_file.close()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(m: dict, name: str, **labels: str) -> float:
    return m.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def server(dsn, pool, tmp_path):
    s = LoggedServer(dsn, tmp_path, {"CREDIT_MAX_BODY_GRAPHQL": "4096"})
    try:
        await s.ready()
        yield s
    finally:
        s.stop()


async def test_metrics_move_with_lookups_refusals_and_log_writes(server, settings):
    organ = {"Authorization": f"Bearer {token(settings, 'state_organ')}"}
    async with httpx.AsyncClient(base_url=server.url) as c:
        before = samples((await c.get("/metrics")).text)
        ok = await c.post("/graphql", headers=organ, json={
            "query": LOOKUP, "variables": {"k": demo.COMPANY, "p": "government_procurement"}})
        refused = await c.post("/graphql", headers=organ, json={  # no Art. 29 purpose: refused, logged
            "query": LOOKUP, "variables": {"k": demo.COMPANY}})
        after = samples((await c.get("/metrics")).text)
    assert ok.json()["data"]["subject"]["key"] == demo.COMPANY
    assert refused.json()["errors"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("credit_requests_total", route="/graphql", operation="subject", outcome="ok") == 1
    assert delta("credit_requests_total", route="/graphql", operation="subject",
                 outcome="purpose_required") == 1
    assert delta("credit_request_duration_seconds_count", route="/graphql", operation="subject") == 2
    disclosed = sum(delta("credit_lookups_total", role="state_organ", outcome=o)
                    for o in ("disclosed", "partial"))
    assert disclosed == 1
    assert delta("credit_lookups_total", role="state_organ", outcome="refused") == 1
    assert delta("credit_trail_write_seconds_count") == 2  # the lookup's row and the refusal's
    assert ("credit_audit_seal_lag_seconds", frozenset()) in after
    assert value(after, "credit_pool_connections") >= 1


async def test_one_access_line_per_answer_with_the_header_id(server, settings, pool):
    organ = {"Authorization": f"Bearer {token(settings, 'state_organ')}"}
    async with httpx.AsyncClient(base_url=server.url) as c:
        answers = [
            await c.post("/graphql", headers={**organ, "X-Request-Id": "client-own-id"}, json={
                "query": LOOKUP, "variables": {"k": demo.COMPANY, "p": "government_procurement"}}),
            await c.post("/graphql", json={"query": "{ subject(key: "}),  # syntax error
            await c.post("/graphql", headers={"Authorization": "Bearer not-a-token"},
                         json={"query": "{ purposes }"}),  # 401 from the token gate
            await c.post("/graphql", content=b"{" + b" " * 8000 + b"}",  # 413 from the guard
                         headers={"content-type": "application/json"}),
            await c.get("/no/such/path"),
            await c.get("/graphql", headers={"accept": "text/html"}),  # the GraphiQL page
        ]
    assert [a.status_code for a in answers] == [200, 200, 401, 413, 404, 200]
    ids = [a.headers["x-request-id"] for a in answers]
    assert len(set(ids)) == len(ids) and "client-own-id" not in ids
    lines = await server.access_lines(set(ids))
    by_id = {}
    for line in lines:
        by_id.setdefault(line["request_id"], []).append(line)
    assert all(len(by_id.get(i, [])) == 1 for i in ids), by_id
    lookup, syntax, unauth, too_large, missing, page = (by_id[i][0] for i in ids)
    assert (lookup["role"], lookup["org"], lookup["operation"], lookup["outcome"], lookup["status"]) == (
        "state_organ", demo.HOUSING, "subject", "ok", 200)
    assert lookup["duration_ms"] > 0 and "subject_key" not in lookup and "user" not in lookup
    assert (syntax["operation"], syntax["outcome"], syntax["role"]) == ("invalid", "invalid", "public")
    assert (unauth["status"], unauth["outcome"]) == (401, "http_401")
    assert (too_large["status"], too_large["route"]) == (413, "unmatched")
    assert missing["status"] == 404
    assert (page["route"], page["operation"], page["outcome"]) == ("/graphql", "-", "ok")
    # the trail's row carries the same server-made id; the client's id is kept as its claim
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT request_id::text, details FROM query_log WHERE request_id = $1::uuid", ids[0])
    assert row is not None and row["details"]["client_request_id"] == "client-own-id"
    # the syntax error: one INFO line, no source excerpt; nothing at ERROR
    graphql = [l for l in server.lines() if l.get("logger", "").startswith(("credit.graphql", "strawberry"))]
    assert [l["level"] for l in graphql] == ["INFO"]
    assert graphql[0]["request_id"] == ids[1] and "\n" not in graphql[0]["message"]
    assert not [l for l in server.lines() if l["level"] in ("ERROR", "CRITICAL")]


@pytest.fixture
async def operator(app):
    """A caller on the operators' network: readiness shows it the checks (a public one gets the
    status only)."""
    transport = httpx.ASGITransport(app=app, client=("10.0.0.9", 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_ready_fails_while_the_month_partition_is_detached(operator, owner, dsn):
    client = operator
    from api.audit.upkeep import ensure_partitions, reattach

    assert (await client.get("/health/ready")).status_code == 200
    assert (await client.get("/health/live")).status_code == 200
    month = f"query_log_three_years_{dt.datetime.now(dt.UTC):%Y_%m}"
    before = await owner.fetchval("SELECT count(*) FROM query_log")
    await owner.execute(f'ALTER TABLE query_log_three_years DETACH PARTITION "{month}"')
    try:
        r = await client.get("/health/ready")
        old = await client.get("/health")  # the old name answers as readiness
    finally:
        await reattach(owner)
        await ensure_partitions(dsn)
    assert r.status_code == 503 and old.status_code == 503
    body = r.json()
    assert body["failed"] == ["trail_writable"] and "partition" in body["checks"]["trail_writable"]
    assert body["checks"]["database"] == "ok"
    again = await client.get("/health/ready")
    assert again.status_code == 200, again.text
    assert await owner.fetchval("SELECT count(*) FROM query_log") == before  # the probe left no row


async def test_ready_fails_when_the_app_may_not_insert_into_the_trail(operator, owner):
    client = operator
    await owner.execute("REVOKE INSERT ON query_log FROM credit_app")
    try:
        r = await client.get("/health/ready")
    finally:
        await owner.execute("GRANT INSERT ON query_log TO credit_app")
    assert r.status_code == 503
    assert "permission" in r.json()["checks"]["trail_writable"].lower()
    assert (await client.get("/health/ready")).status_code == 200
