"""uvicorn's httptools protocol with a cap on the request head. httptools itself accepts a
header of any size and buffers it whole (a 10 MB Authorization header was read and parsed); this
answers 431 and closes once the head passes the cap, having held at most the cap plus one read.
`credit serve` uses it; the guard middleware checks the parsed headers too, so a server started
another way still refuses them (after reading them)."""

from __future__ import annotations

import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..config import Limits

URL_ALLOWANCE = 8 << 10  # the request line on top of the headers
# After refusing, read and drop what comes for this long before closing, so the client, still
# sending, reads the 431 instead of a connection reset (which would discard it unread).
DISCARD_SECONDS = 1.0


def head_limit(env: dict[str, str] | None = None) -> int:
    return Limits.from_env(dict(os.environ if env is None else env)).max_header_bytes + URL_ALLOWANCE


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    head_limit = head_limit()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._in_head, self._head_bytes, self._discarding = True, 0, False
        super().connection_made(transport)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        super().data_received(data)
        # a read in which the head ended is not counted: only reads that were head throughout
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.head_limit:
                self._refuse_head()

    def _refuse_head(self) -> None:
        message = (f"请求头过大：上限 {self.head_limit} 字节 "
                   f"(request head over {self.head_limit} bytes)").encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            b"content-length: " + str(len(message)).encode() + b"\r\n\r\n" + message)
        self._discarding = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(DISCARD_SECONDS, self.transport.close)
