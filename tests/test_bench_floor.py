"""bench/floor.py, the bench's framework-free floor, does the lookup's database work for real:
it answers the subject's records from LOOKUP and writes one signed log row per lookup in the
read's transaction, as the raw phase does. Otherwise its figures would bound nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

from api import demo
from api.audit.integrity import row_mac
from tests.conftest import log_rows

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import floor  # noqa: E402


async def test_the_floor_reads_and_logs_each_lookup(pool):
    floor._state["pool"] = pool
    try:
        transport = httpx.ASGITransport(app=floor.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://floor") as client:
            before = await log_rows(pool, demo.COMPANY)
            body = {"query": "ignored", "variables": {"k": demo.COMPANY, "p": "loan_review"}}
            answer = await client.post("/graphql", content=json.dumps(body))
            assert (await client.get("/health")).status_code == 200
    finally:
        floor._state.clear()
    assert answer.status_code == 200
    subject = answer.json()["data"]["subject"]
    ids = {str(r["id"]) for r in await pool.fetch(
        "SELECT id FROM records WHERE subject_key = $1 AND status <> 'deleted'", demo.COMPANY)}
    assert subject["key"] == demo.COMPANY and {r["id"] for r in subject["records"]} == ids
    rows = (await log_rows(pool, demo.COMPANY))[len(before):]
    assert len(rows) == 1 and rows[0]["outcome"] == "disclosed"
    assert {d["record"] for d in rows[0]["disclosed"]} == ids
    async with pool.acquire() as conn:
        assert bytes(rows[0]["mac"]) == row_mac(conn.audit_key, dict(rows[0]))
