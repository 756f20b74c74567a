"""Killing the server in the middle of a bulk upload loses no acknowledged row and leaves no
half-written batch; sending the file again completes it, each row stored once.

A real uvicorn in a subprocess on a free loopback port, on the test database; a large upload
streamed by the platform's own client; kill -9 once some batches are acknowledged."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api import demo
from api.ingestion.client import upload
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, token
from tests.test_ingestion_bulk import licence_row

ROOT = Path(__file__).resolve().parent.parent
ROWS = 40_000
BATCH = 500
ACKS_BEFORE_KILL = 3 * BATCH
START_TIMEOUT = 60.0


def free_port(ports: range | None = None) -> int:
    """A free loopback port: any, or the first free one of `ports` (a suite kept to its range)."""
    for port in ports or (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise AssertionError(f"no free port in {ports.start}-{ports.stop - 1}")


class Server:
    def __init__(self, dsn: str, data_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
        env.update(DATABASE_URL=dsn, CREDIT_JWT_SECRET=TEST_SECRET, CREDIT_AUDIT_KEY=TEST_AUDIT_KEY,
                   CREDIT_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.asgi:app", "--host", "127.0.0.1", "--port",
             str(self.port), "--log-level", "warning"],
            cwd=ROOT, env=env,
        )

    async def ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        async with httpx.AsyncClient() as c:
            while loop.time() < deadline:
                assert self.proc.poll() is None, "the server exited during start-up"
                try:
                    if (await c.get(self.url + "/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)  # polling for the health condition, bounded above
        raise AssertionError("the server did not become healthy")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


async def file_body(rows: int):
    chunk = []
    for n in range(rows):
        chunk.append(json.dumps(licence_row(n, sourceRef=f"K-{n:06d}"), ensure_ascii=False).encode() + b"\n")
        if len(chunk) == 200:
            yield b"".join(chunk)
            chunk = []
            await asyncio.sleep(0)
    if chunk:
        yield b"".join(chunk)


async def test_a_killed_server_loses_no_acknowledged_row_and_a_resend_completes_the_file(
    dsn, settings, pool, tmp_path
):
    bearer = token(settings, "provider")
    acked: list[str] = []
    enough = asyncio.Event()

    def on_result(obj: dict) -> None:
        if obj.get("status") == "created":
            acked.append(obj["sourceRef"])
            if len(acked) >= ACKS_BEFORE_KILL:
                enough.set()

    server = Server(dsn, tmp_path)
    try:
        await server.ready()
        sending = asyncio.create_task(upload(
            server.url, file_body(ROWS), content_type="application/x-ndjson", token=bearer,
            batch=BATCH, on_result=on_result,
        ))
        waiting = asyncio.create_task(enough.wait())
        await asyncio.wait({sending, waiting}, return_when=asyncio.FIRST_COMPLETED, timeout=120)
        assert enough.is_set(), "no batch was acknowledged"
        assert not sending.done(), "the upload finished before the kill; make the file larger"
        server.kill()
        with pytest.raises((ConnectionError, OSError)):
            await asyncio.wait_for(sending, 60)
    finally:
        server.kill()

    async with pool.acquire() as conn:
        stored = {r["source_ref"] for r in await conn.fetch(
            "SELECT source_ref FROM records WHERE provider_org = $1 AND source_ref LIKE 'K-%'", demo.MARKET)}
        logged = await conn.fetch(
            "SELECT details FROM query_log WHERE kind = 'collection' AND operation = 'bulkUpload'")
    assert set(acked) <= stored, "an acknowledged row was lost"
    assert len(stored) < ROWS
    # whole batches only: what is stored is exactly what the committed batches logged
    batches = [d["details"]["outcomes"]["created"] for d in logged]
    assert stored == {ref for b in batches for ref in b}
    assert len(stored) == sum(len(b) for b in batches)

    server = Server(dsn, tmp_path)
    try:
        await server.ready()
        result = await upload(server.url, file_body(ROWS), content_type="application/x-ndjson",
                              token=bearer, batch=BATCH)
    finally:
        server.kill()
    assert result.summary["unchanged"] == len(stored)
    assert result.summary["created"] == ROWS - len(stored)
    assert result.summary["rejected"] == 0
    async with pool.acquire() as conn:
        total, distinct, corrected = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT source_ref), count(*) FILTER (WHERE version > 1) "
            "FROM records WHERE source_ref LIKE 'K-%'")
    assert (total, distinct, corrected) == (ROWS, ROWS, 0)


async def test_rows_of_a_slow_stream_are_acknowledged_before_the_batch_fills(dsn, settings, pool, tmp_path):
    """A system pushing records as they happen gets each acknowledged within about a second,
    not when a batch of 2000 is full: the next rows are sent only after the first are acked."""
    acked: list[str] = []
    first_three = asyncio.Event()

    def on_result(obj: dict) -> None:
        if "status" in obj:
            acked.append(obj["sourceRef"])
            if len(acked) == 3:
                first_three.set()

    async def trickle():
        for n in range(3):
            yield json.dumps(licence_row(n, sourceRef=f"S-{n}"), ensure_ascii=False).encode() + b"\n"
        await asyncio.wait_for(first_three.wait(), 30)  # the condition, bounded
        for n in range(3, 5):
            yield json.dumps(licence_row(n, sourceRef=f"S-{n}"), ensure_ascii=False).encode() + b"\n"

    server = Server(dsn, tmp_path)
    try:
        await server.ready()
        result = await upload(server.url, trickle(), content_type="application/x-ndjson",
                              token=token(settings, "provider"), on_result=on_result)
    finally:
        server.kill()
    assert acked == [f"S-{n}" for n in range(5)]
    assert result.summary["created"] == 5 and result.summary["batches"] >= 2
