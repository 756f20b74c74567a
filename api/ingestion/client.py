"""A client of the bulk upload that sends and reads at the same time.

Common HTTP clients send the whole request body before they read the response; against an
endpoint that answers row by row while it reads, a large upload would stall once both
directions' buffers are full. This one (asyncio streams, HTTP/1.1, chunked body) writes the
file in one task and reads result lines in another. Used by `credit ingest`, the tests and the
benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field
from importlib import metadata
from urllib.parse import urlsplit

PATH = "/upload/records"
# How this client names itself; the platform keeps it in the collection log as the client's
# declaration (the channel itself is the endpoint's: bulk_upload).
def _user_agent() -> str:
    try:
        return f"credit-ingest/{metadata.version('credit-platform')}"
    except metadata.PackageNotFoundError:  # run from a checkout without installing
        return "credit-ingest"


USER_AGENT = _user_agent()


class UploadError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


@dataclass
class UploadResult:
    status: int
    summary: dict | None = None
    error: dict | None = None
    lines: int = 0
    counts: dict[str, int] = field(default_factory=dict)


async def _read_chunked(reader: asyncio.StreamReader):
    while True:
        size_line = await reader.readline()
        if not size_line:
            raise ConnectionError("the server closed the connection mid-response")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)


async def upload(
    url: str,
    body: AsyncIterable[bytes],
    *,
    content_type: str,
    token: str | None = None,
    batch: int | None = None,
    on_result: Callable[[dict], None] | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> UploadResult:
    """POST `body` to the platform at `url` (its base address); call on_result for every result
    line as it arrives. Raises UploadError for a refused upload, ConnectionError if the
    connection breaks (the lines already passed to on_result are stored rows)."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    reader, writer = await asyncio.open_connection(
        parts.hostname, port, ssl=ssl.create_default_context() if secure else None, limit=1 << 22
    )
    query = f"batch={batch}" if batch else ""
    head = [
        f"POST {parts.path.rstrip('/')}{PATH}{'?' + query if query else ''} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Type: {content_type}",
        "Transfer-Encoding: chunked",
        "Accept: application/x-ndjson",
        "Connection: close",
        f"User-Agent: {USER_AGENT}",
    ]
    if token:
        head.append(f"Authorization: Bearer {token}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))

    async def send_body() -> None:
        async for chunk in body:
            if chunk:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                if on_sent:
                    on_sent(len(chunk))
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    sender = asyncio.create_task(send_body())
    receiver = asyncio.create_task(_receive(reader, on_result))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if sender.done() and not receiver.done():
            failure = sender.exception()
            if failure is not None and not isinstance(failure, OSError):
                raise failure  # the body could not be produced: stop rather than wait forever
        return await receiver  # a broken connection shows here, as does an early refusal
    finally:
        for task in (receiver, sender):
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        writer.close()


async def _receive(reader: asyncio.StreamReader, on_result) -> UploadResult:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection before answering")
    status = int(status_line.split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    chunked = "chunked" in headers.get("transfer-encoding", "")
    if status != 200:
        raw = b"".join([c async for c in _read_chunked(reader)]) if chunked else await reader.read()
        raise UploadError(status, raw.decode("utf-8", "replace"))
    result = UploadResult(status=status)
    pending = b""
    stream = _read_chunked(reader) if chunked else _read_plain(reader)
    async for piece in _guarded(stream):
        pending += piece
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            if not raw.strip():
                continue
            obj = json.loads(raw)
            if "summary" in obj:
                result.summary = obj["summary"]
            elif "error" in obj:
                result.error = obj
            else:
                result.lines += 1
                result.counts[obj["status"]] = result.counts.get(obj["status"], 0) + 1
            if on_result:
                on_result(obj)
    if result.summary is None and result.error is None:
        raise ConnectionError("the upload ended without its summary line; send the file again")
    return result


async def _guarded(stream):
    try:
        async for piece in stream:
            yield piece
    except asyncio.IncompleteReadError as e:
        raise ConnectionError("the server closed the connection mid-response") from e


async def _read_plain(reader: asyncio.StreamReader):
    while chunk := await reader.read(1 << 16):
        yield chunk


async def file_chunks(path, size: int = 1 << 16):
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk
