"""Request limits, checked from outside against a real uvicorn: header size (431), body size
from Content-Length and while streaming (413, the limit named), an idle or trickling body (408),
and admission past the requests in flight (503 with Retry-After)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET
from tests.test_ingestion_crash import Server, free_port

ROOT = Path(__file__).resolve().parent.parent
SMALL_LIMITS = {
    "CREDIT_MAX_BODY_GRAPHQL": str(64 << 10),
    "CREDIT_MAX_HEADER_BYTES": str(8 << 10),
    "CREDIT_BODY_IDLE_SECONDS": "1",
    "CREDIT_BODY_MIN_RATE": "1000",
    "CREDIT_BODY_RATE_WINDOW": "2",
}
LOOKUP = json.dumps({"query": '{ subject(key: "91130902MA0DEM0135") { key name } }'}).encode()


class GuardServer(Server):
    """A real uvicorn in a subprocess on a free loopback port, with the given limits (waits for
    readiness as the ingestion tests' Server does)."""

    def __init__(self, dsn: str, data_dir: Path, env: dict[str, str], *, bounded_head: bool = False,
                 port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
        # one test client sends the load: the per-caller rate limit (tested on its own) stays off
        full.update(DATABASE_URL=dsn, CREDIT_JWT_SECRET=TEST_SECRET, CREDIT_AUDIT_KEY=TEST_AUDIT_KEY,
                    CREDIT_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), CREDIT_RATE_LIMIT="off")
        full.update(env)
        command = [sys.executable, "-m", "uvicorn", "api.asgi:app", "--host", "127.0.0.1",
                   "--port", str(self.port), "--log-level", "warning"]
        if bounded_head:  # as `credit serve` runs it
            command = [sys.executable, "-c",
                       "import uvicorn; from api.guard.protocol import BoundedHttpToolsProtocol as P; "
                       f"uvicorn.run('api.asgi:app', host='127.0.0.1', port={self.port}, "
                       "log_level='warning', http=P)"]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=full)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self) -> None:
        self.kill()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    extra: dict = field(default_factory=dict)

    def json(self):
        return json.loads(self.body)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_reply(raw: bytes, seconds: float) -> Reply:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding") == "chunked":
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16) if size_line.strip() else 0
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        body = out
    return Reply(int(status_line.split()[1]), headers, body, seconds)


async def raw_exchange(port: int, head: bytes, chunks=(), *, pause: float = 0.0,
                       timeout: float = 10.0) -> Reply:
    """Send `head`, then each of `chunks` with `pause` seconds between them (stopping once the
    server answers), and read the reply to the end."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    raw = bytearray()
    answered = asyncio.Event()

    async def read_all() -> None:
        try:
            while chunk := await reader.read(1 << 16):
                raw.extend(chunk)
                answered.set()
        except ConnectionError:
            pass  # a reset after the answer (we were still sending): keep what was read
        answered.set()

    try:
        writer.write(head)
        await writer.drain()
        reading = asyncio.ensure_future(read_all())
        for chunk in chunks:
            if answered.is_set():
                break
            try:
                writer.write(chunk)
                await writer.drain()
            except ConnectionError:
                break
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered.wait(), pause)
        await asyncio.wait_for(reading, timeout)
        assert raw, "the server closed the connection without an answer"
        return parse_reply(bytes(raw), time.monotonic() - started)
    finally:
        writer.close()


@pytest.fixture(scope="module")
async def small_server(dsn, tmp_path_factory, app):
    server = GuardServer(dsn, tmp_path_factory.mktemp("guard"), SMALL_LIMITS)
    try:
        await server.ready()
        yield server
    finally:
        server.stop()


async def test_oversized_headers_are_refused_with_431(small_server):
    head = request_head("POST", "/graphql", {"Authorization": "Bearer " + "a" * (10 << 10),
                                             "Content-Type": "application/json",
                                             "Content-Length": str(len(LOOKUP))})
    reply = await raw_exchange(small_server.port, head + LOOKUP)
    assert reply.status == 431
    assert reply.json()["errors"][0]["extensions"]["code"] == "HEADERS_TOO_LARGE"
    assert "8 KiB" in reply.json()["message"]


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(small_server):
    head = request_head("POST", "/graphql", {"Content-Type": "application/json",
                                             "Content-Length": str(47 << 20)})
    reply = await raw_exchange(small_server.port, head, [b"x" * (64 << 10)] * 4)
    assert reply.status == 413
    assert reply.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "64 KiB" in reply.json()["message"] and "/graphql" in reply.json()["message"]
    assert reply.seconds < 2.0


async def test_a_chunked_body_is_cut_as_soon_as_it_passes_the_limit(small_server):
    head = request_head("POST", "/graphql", {"Content-Type": "application/json",
                                             "Transfer-Encoding": "chunked"})
    piece = b"%x\r\n%s\r\n" % (16 << 10, b" " * (16 << 10))
    reply = await raw_exchange(small_server.port, head, [piece] * 64)  # 1 MiB offered
    assert reply.status == 413
    assert "64 KiB" in reply.json()["message"]


async def test_a_body_that_stops_arriving_is_cut_with_408(small_server):
    head = request_head("POST", "/graphql", {"Content-Type": "application/json",
                                             "Content-Length": str(len(LOOKUP))})
    reply = await raw_exchange(small_server.port, head + LOOKUP[:10])
    assert reply.status == 408
    assert reply.json()["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert 0.9 < reply.seconds < 3.0


async def test_a_trickled_body_is_cut_for_its_rate_though_never_idle_long(small_server):
    head = request_head("POST", "/graphql", {"Content-Type": "application/json",
                                             "Content-Length": str(len(LOOKUP))})
    reply = await raw_exchange(small_server.port, head, [bytes([b]) for b in LOOKUP], pause=0.5)
    assert reply.status == 408
    assert "1000" in reply.json()["message"]  # the rate, named
    assert reply.seconds < 4.0


async def test_an_ordinary_request_passes_every_limit(small_server):
    head = request_head("POST", "/graphql", {"Content-Type": "application/json",
                                             "Content-Length": str(len(LOOKUP))})
    reply = await raw_exchange(small_server.port, head + LOOKUP)
    assert reply.status == 200
    assert reply.json()["data"]["subject"]["key"] == "91130902MA0DEM0135"


async def test_the_served_protocol_refuses_a_huge_head_without_reading_it_whole(dsn, tmp_path, app):
    server = GuardServer(dsn, tmp_path, SMALL_LIMITS, bounded_head=True)
    try:
        await server.ready()
        rss_before = server.rss_kib()
        head = b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        reply = await raw_exchange(server.port, head, [b"a" * (64 << 10)] * 160)  # 10 MiB offered
        assert reply.status == 431
        assert reply.json()["errors"][0]["extensions"]["code"] == "HEADERS_TOO_LARGE"
        assert reply.seconds < 2.0
        assert server.rss_kib() - rss_before < 4 * 1024  # not the 10 MiB
        big = request_head("POST", "/graphql", {"Content-Type": "application/json",
                                                "Content-Length": str(47 << 20)})
        reply = await raw_exchange(server.port, big, [b" " * (1 << 20)] * 47)  # sent at full speed
        assert reply.status == 413 and "64 KiB" in reply.json()["message"]
        assert reply.seconds < 1.0
        padded = LOOKUP[:-1] + b" " * (60 << 10) + b"}"  # a body read in large pieces is no head
        ok = await raw_exchange(server.port, request_head("POST", "/graphql", {
            "Content-Type": "application/json", "Content-Length": str(len(padded))}) + padded)
        assert ok.status == 200, ok
    finally:
        server.stop()
