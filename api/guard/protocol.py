"""uvicorn's httptools protocol with a cap on the request head. httptools itself accepts a
header of any size and buffers it whole (a 10 MB Authorization header was read and parsed); this
answers 431 and closes once the head passes the cap, having held at most the cap plus one read.
`credit serve` uses it; the guard middleware checks the parsed headers too, so a server started
another way still refuses them (after reading them)."""

from __future__ import annotations

import contextlib
import json
import os
import socket

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..config import Limits
from .limits import body_limit, human

URL_ALLOWANCE = 8 << 10  # the request line on top of the headers
# After refusing, read and drop what comes for this long before closing, so the client, still
# sending, reads the 431 instead of a connection reset (which would discard it unread).
DISCARD_SECONDS = 1.0


LIMITS = Limits.from_env(dict(os.environ))
# Long responses whose reader's pace the app measures (api/guard/streaming.py): a small kernel
# send buffer, so that what the app sees sent is close to what the client took. Left to
# autotuning (up to 4 MB on Linux) a reader could stall for minutes behind what is buffered.
PACED_PATHS = frozenset({"/audit/export"})
PACED_SEND_BUFFER = 64 << 10


class _Refuse(Exception):
    """Raised in a parser callback to stop parsing; httptools reports it as a parser error."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    head_limit = LIMITS.max_header_bytes + URL_ALLOWANCE

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._in_head, self._head_bytes, self._discarding, self._heads = True, 0, False, 0
        self._refusal: tuple[bytes, str, str] | None = None
        super().connection_made(transport)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._heads += 1
        path = httptools.parse_url(self.url).path.decode("latin-1")
        limit = body_limit(LIMITS, path)
        for name, value in self.headers:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                self._refusal = (b"413 Content Too Large", "PAYLOAD_TOO_LARGE", f"请求过大：{path} 请求体上限 {human(limit)} "
                                 f"(Content-Length {int(value)} over the limit of {limit} bytes)")
                raise _Refuse  # before the app is started or a byte of the body is read
        if path in PACED_PATHS:
            sock = self.transport.get_extra_info("socket")
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PACED_SEND_BUFFER)
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refusal is not None:  # our own stop of the parser, not a malformed request
            self._refuse(*self._refusal)
            return
        super().send_400_response(msg)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        was_head, heads = self._in_head, self._heads
        super().data_received(data)
        # only reads that were head throughout count (not one in which a head or a body ended)
        if was_head and self._in_head and heads == self._heads and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.head_limit:
                self._refuse(b"431 Request Header Fields Too Large", "HEADERS_TOO_LARGE",
                             f"请求头过大：上限 {self.head_limit} 字节 (request head over {self.head_limit} bytes)")

    def _refuse(self, status: bytes, code: str, text: str) -> None:
        """Answer as the guard middleware does, then read and drop for a while before closing."""
        message = json.dumps({"error": code.lower(), "message": text,
                              "errors": [{"message": text, "extensions": {"code": code}}]},
                             ensure_ascii=False).encode()
        self.transport.write(
            b"HTTP/1.1 " + status + b"\r\n"
            b"content-type: application/json; charset=utf-8\r\nconnection: close\r\n"
            b"content-length: " + str(len(message)).encode() + b"\r\n\r\n" + message)
        self._discarding = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(DISCARD_SECONDS, self.transport.close)
