"""The lookup benchmark's HTTP side (bench/lookup.py): the lookup it asks for, a small HTTP/1.1
keep-alive client, the platform's and the peer's requests, and the check of the platform's first
answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import peer_setup

from api import demo

PURPOSE = "loan_review"
QUERY = (
    "query($k: ID!, $p: String){ subject(key:$k, purpose:$p){ key name "
    "records { id item { code } decidedOn data status } withheld { disclosure count reason } } }"
)


# A small HTTP/1.1 keep-alive client: write the request, read status line, headers and a
# Content-Length (or chunked) body. One connection per in-flight request.


class HttpConnection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")  # no trailers expected
                    break
                parts.append(await self.reader.readexactly(size + 2))
            body = b"".join(p[:-2] for p in parts)
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:  # body runs to the end of the connection
            body = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, body


def build_request(host: str, port: int, token: str) -> bytes:
    body = json.dumps({"query": QUERY, "variables": {"k": demo.COMPANY, "p": PURPOSE}}).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def check_response(status: int, body: bytes, record_ids: set[str]) -> dict[str, Any]:
    """The first response must be the full, correct answer; abort loudly otherwise."""
    if status != 200:
        raise SystemExit(f"platform: first lookup returned HTTP {status}: {body[:500]!r}")
    doc = json.loads(body)
    if doc.get("errors"):
        raise SystemExit(f"platform: first lookup returned errors: {doc['errors']}")
    subject = (doc.get("data") or {}).get("subject")
    if not subject or subject.get("key") != demo.COMPANY:
        raise SystemExit(f"platform: first lookup did not return {demo.COMPANY}: {doc}")
    shown = len(subject["records"])
    got = {r["id"] for r in subject["records"]}
    if shown == 0 or len(got) != shown or not got <= record_ids:
        raise SystemExit(
            f"platform: expected some of the subject's {len(record_ids)} records, got: {subject}"
        )
    return {"records": shown, "withheld": subject["withheld"], "ids": sorted(got)}


def peer_request(port: int, token: str) -> bytes:
    body = json.dumps(
        {"query": peer_setup.QUERY, "variables": {"k": demo.COMPANY, "p": PURPOSE}}
    ).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body
