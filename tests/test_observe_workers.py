"""`credit serve --workers 2`: one /metrics answers for both workers (PROMETHEUS_MULTIPROC_DIR,
made by `credit serve` under the data folder), whichever worker takes the scrape."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import httpx

from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET
from tests.test_ingestion_crash import ROOT
from tests.test_ingestion_crash import free_port
from tests.test_observe_http import PORTS, samples, value


async def test_two_workers_are_counted_together(dsn, tmp_path):
    port = free_port(PORTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDIT_", "PROMETHEUS_"))}
    env.update(DATABASE_URL=dsn, CREDIT_JWT_SECRET=TEST_SECRET, CREDIT_AUDIT_KEY=TEST_AUDIT_KEY,
               CREDIT_DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT), CREDIT_RATE_LIMIT="off",
               CREDIT_ACCESS_LOG="off")
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port),
                             "--workers", "2"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        scraped = {}
        while loop.time() < deadline:  # both workers up: their pools (2 connections each) summed
            assert proc.poll() is None, "credit serve exited"
            try:
                async with httpx.AsyncClient() as c:
                    scraped = samples((await c.get(url + "/metrics")).text)
            except httpx.TransportError:
                scraped = {}
            if value(scraped, "credit_pool_connections") >= 4:
                break
            await asyncio.sleep(0.2)  # polling for the condition, bounded above
        assert value(scraped, "credit_pool_connections") >= 4, scraped
        for _ in range(20):  # a fresh connection each: the workers share the socket
            async with httpx.AsyncClient() as c:
                assert (await c.get(url + "/health/live")).status_code == 200
        counts = set()
        for _ in range(4):
            async with httpx.AsyncClient() as c:
                m = samples((await c.get(url + "/metrics")).text)
            counts.add(value(m, "credit_requests_total", route="/health/live", operation="-", outcome="ok"))
        assert counts == {20.0}
        assert (tmp_path / f"metrics-{port}").is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 60)
