"""Tracing (issue 13): configured, a request is a server span continuing the caller's trace,
with the lookup's SQL statements as child spans and no parameter (no subject key) recorded;
not configured, OpenTelemetry is not even imported. Each case runs in its own process: a
tracer provider and the asyncpg instrumentation are set once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from api import demo
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, token
from tests.test_ingestion_crash import ROOT

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"

TRACED = f"""
import asyncio, json, httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from api.observe import tracing
exporter = InMemorySpanExporter()
tracing.setup(exporter)
from api.app import create_app

async def main():
    app = create_app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.post("/graphql", json={{"query": 'query($k: ID!) {{ subject(key: $k, purpose: "government_procurement") {{ key }} }}',
                                               "variables": {{"k": {demo.COMPANY!r}}}}},
                             headers={{"Authorization": "Bearer " + TOKEN,
                                      "traceparent": "00-{TRACE_ID}-{PARENT}-01"}})
    spans = [{{"name": s.name, "trace": format(s.context.trace_id, "032x"),
               "parent": format(s.parent.span_id, "016x") if s.parent else None,
               "id": format(s.context.span_id, "016x"), "attributes": dict(s.attributes)}}
             for s in exporter.get_finished_spans()]
    print(json.dumps({{"status": r.status_code, "request_id": r.headers["x-request-id"], "spans": spans}}))

asyncio.run(main())
"""


def run(code: str, dsn: str, data_dir, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CREDIT_", "OTEL_", "PROMETHEUS_"))}
    full.update(DATABASE_URL=dsn, CREDIT_JWT_SECRET=TEST_SECRET, CREDIT_AUDIT_KEY=TEST_AUDIT_KEY,
                CREDIT_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), CREDIT_RATE_LIMIT="off",
                CREDIT_ACCESS_LOG="off", **env)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_a_lookup_is_one_server_span_with_its_statements_under_it(dsn, pool, settings, tmp_path):
    code = f"TOKEN = {token(settings, 'state_organ')!r}\n" + TRACED
    out = json.loads(run(code, dsn, tmp_path))
    assert out["status"] == 200
    spans = out["spans"]
    server = [s for s in spans if s["name"] == "POST /graphql"]
    assert len(server) == 1
    server = server[0]
    assert (server["trace"], server["parent"]) == (TRACE_ID, PARENT)  # the caller's trace goes on
    assert server["attributes"]["credit.operation"] == "subject"
    assert server["attributes"]["credit.request_id"] == out["request_id"]
    by_id = {s["id"]: s for s in spans}

    def under_server(s) -> bool:
        while s["parent"] in by_id:
            s = by_id[s["parent"]]
            if s is server:
                return True
        return False

    statements = [s for s in spans if "db.statement" in s["attributes"] or "db.query.text" in s["attributes"]]
    assert any("query_log" in str(s["attributes"]) and under_server(s) for s in statements)
    assert all(s["trace"] == TRACE_ID for s in statements if under_server(s))
    assert demo.COMPANY not in json.dumps(spans)  # no parameter, no subject key, in any span


def test_unconfigured_tracing_imports_nothing(dsn, tmp_path):
    code = ("import sys, api.asgi; from api.observe import tracing; "
            "print(tracing.setup() is None, any(m.startswith('opentelemetry') for m in sys.modules))")
    assert run(code, dsn, tmp_path) == "True False"
