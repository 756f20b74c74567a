"""`credit ingest FILE`: the command-line upload, through the platform's own endpoint on a real
uvicorn, with the same validation, results and collection log as every other path."""

from __future__ import annotations

import asyncio
import json

from api import demo
from api.cli import main
from api.ingestion.client import USER_AGENT
from tests.conftest import token
from tests.test_ingestion_bulk import as_csv, licence_row
from tests.test_ingestion_crash import Server


async def test_credit_ingest_uploads_a_file_and_a_second_run_changes_nothing(dsn, settings, pool, tmp_path, capsys):
    rows = [licence_row(n, sourceRef=f"CLI-{n}") for n in range(30)] + [licence_row(99, itemCode="TAX_ARREARS")]
    file = tmp_path / "records.csv"
    file.write_bytes(as_csv(rows))
    results = tmp_path / "results.ndjson"
    bearer = token(settings, "provider")
    server = Server(dsn, tmp_path)
    try:
        await server.ready()
        argv = ["ingest", str(file), "--url", server.url, "--token", bearer, "--results", str(results),
                "--batch", "7"]
        code = await asyncio.to_thread(main, argv)
        first = [json.loads(x) for x in results.read_text(encoding="utf-8").splitlines()]
        again = await asyncio.to_thread(main, argv)
        second = [json.loads(x) for x in results.read_text(encoding="utf-8").splitlines()]
        refused = await asyncio.to_thread(main, ["ingest", str(file), "--url", server.url, "--token",
                                                 token(settings, "credit_service"), "--quiet"])
    finally:
        server.kill()
    assert code == again == 1  # one row was refused, and the command says so
    assert refused == 2
    assert [r["status"] for r in first[:-1]] == ["created"] * 30 + ["rejected"]
    # batches of 7 (more if the machine is so slow that a batch is cut by the one-second timer)
    assert first[-1]["summary"]["created"] == 30 and first[-1]["summary"]["batches"] >= 5
    assert first[30]["rule"] == "provider_assignment" and first[30]["line"] == 32
    assert [r["status"] for r in second[:-1]] == ["unchanged"] * 30 + ["rejected"]
    err = capsys.readouterr().err
    assert "line 32: itemCode:" in err and "refused the upload" in err
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM records WHERE source_ref LIKE 'CLI-%'") == 30
        paths = await conn.fetch("SELECT DISTINCT channel, org_code, details->>'declaredClient' AS tool "
                                 "FROM query_log WHERE kind = 'collection'")
        stored = await conn.fetch("SELECT DISTINCT channel FROM records WHERE source_ref LIKE 'CLI-%'")
    # the channel is the endpoint's; the tool is what the client declared itself to be
    assert [tuple(p) for p in paths] == [("bulk_upload", demo.MARKET, USER_AGENT)]
    assert USER_AGENT.startswith("credit-ingest/")
    assert [r["channel"] for r in stored] == ["bulk_upload"]
