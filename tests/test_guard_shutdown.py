"""SIGTERM with an upload still sending (issue 8: a row every 2 s kept a server alive 56 s): after
the grace period the upload's body ends at the last whole line, the upload answers for the rows
it read (each stored), says why it stopped, and the server exits."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid

from tests.conftest import token
from tests.test_guard_limits import GuardServer, request_head
from tests.test_ingestion_bulk import licence_row

GRACE = 1.0
ROW_EVERY = 0.3


async def test_sigterm_ends_an_open_upload_after_the_grace_period(dsn, settings, pool, tmp_path):
    server = GuardServer(dsn, tmp_path, {"CREDIT_SHUTDOWN_GRACE_SECONDS": str(GRACE)})
    tag = uuid.uuid4().hex[:8]
    try:
        await server.ready()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request_head("POST", "/upload/records?batch=1", {
            "Authorization": f"Bearer {token(settings, 'provider')}",
            "Content-Type": "application/x-ndjson", "Transfer-Encoding": "chunked"}))
        response = bytearray()
        results: list[dict] = []

        async def read_results() -> None:
            while chunk := await reader.read(1 << 16):
                response.extend(chunk)
                results[:] = [json.loads(line) for line in _lines(bytes(response))]

        reading = asyncio.ensure_future(read_results())
        sent = 0
        signalled_at = None
        while not reading.done() and sent < 200:  # bounded: the server must stop it long before
            row = json.dumps(licence_row(sent, sourceRef=f"G-{tag}-{sent}"), ensure_ascii=False)
            data = row.encode() + b"\n"
            try:
                writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                await writer.drain()
            except ConnectionError:
                break
            sent += 1
            if signalled_at is None and sum(r.get("status") == "created" for r in results) >= 2:
                server.proc.send_signal(signal.SIGTERM)
                signalled_at = time.monotonic()
            await asyncio.wait({reading}, timeout=ROW_EVERY)  # the uploader's own pace
        assert signalled_at is not None, "no row was acknowledged"
        await asyncio.wait_for(reading, 10)
        code = await asyncio.to_thread(server.proc.wait, 15)
        exited_after = time.monotonic() - signalled_at
        writer.close()
    finally:
        server.stop()
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    assert exited_after < GRACE + 5.0, exited_after
    assert results[-1]["code"] == "SHUTTING_DOWN"
    assert "summary" in results[-2]
    created = [r["sourceRef"] for r in results if r.get("status") == "created"]
    assert 2 <= len(created) <= sent
    async with pool.acquire() as conn:
        stored = {r["source_ref"] for r in await conn.fetch(
            "SELECT source_ref FROM records WHERE source_ref LIKE $1", f"G-{tag}-%")}
    assert stored == set(created)


def _lines(raw: bytes) -> list[bytes]:
    _, _, body = raw.partition(b"\r\n\r\n")
    out, rest = b"", body
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep or not size_line.strip():
            break
        size = int(size_line, 16)
        if size == 0 or len(rest) < size:
            break
        out, rest = out + rest[:size], rest[size + 2:]
    return [line for line in out.split(b"\n") if line.strip()][: out.count(b"\n")]
