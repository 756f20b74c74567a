"""Request limits at the ASGI edge: header size, body size (from Content-Length when given,
counted while streaming otherwise, never buffered past the limit), a body's idle time and
minimum rate, and the end of a body at shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.types import Message, Receive, Scope

from ..config import Limits
from ..i18n import _
from .context import RequestGuard

# Most a line-bounded body holds back waiting for the end of a line; a longer line is passed on
# (the upload refuses it by its own line limit).
MAX_HELD_LINE = 1 << 20


def header_bytes(scope: Scope) -> int:
    return sum(len(k) + len(v) + 4 for k, v in scope["headers"])


def body_limit(limits: Limits, path: str) -> int:
    if path == "/graphql":
        return limits.max_body_graphql
    if path == "/upload/records":
        return limits.max_body_upload
    return limits.max_body_other


def declared_length(scope: Scope) -> int | None:
    """Content-Length as declared; None when the body is chunked or absent."""
    for k, v in scope["headers"]:
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


def has_body(scope: Scope) -> bool:
    length = declared_length(scope)
    if length is not None:
        return length > 0
    return any(k == b"transfer-encoding" for k, _ in scope["headers"])


def human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


Cut = Callable[[int, str, str], Awaitable[bool]]  # (status, code, message) -> refusal sent?
_END = {"type": "http.request", "body": b"", "more_body": False}
_GONE = {"type": "http.disconnect"}


class BodyReader:
    """receive() as the application sees it. While the body arrives it enforces the size limit,
    the idle time and the minimum rate (measured only over time spent waiting for the client, not
    while the app is busy); a breach is refused (413, 408) by `cut` and the app then sees a
    disconnect. At shutdown an upload's body simply ends at the last whole line, so the upload
    finishes its batches and answers with its results so far. Once the body is complete, one
    watcher reads on and marks the client gone when it disconnects."""

    def __init__(self, receive: Receive, guard: RequestGuard, limits: Limits, *, path: str,
                 cut: Cut, line_bounded: bool, bodiless: bool):
        self.receive = receive
        self.guard = guard
        self.limits = limits
        self.path = path
        self.limit = body_limit(limits, path)
        self.cut = cut
        self.line_bounded = line_bounded
        self.total = 0
        self.waited = 0.0
        self.window_bytes = 0
        self.held = b""
        self.finished = False
        self.stopping = False  # set by the guard at shutdown
        self.ended_early: tuple[str, str] | None = None  # (code, message) of a body ended short
        self.pending: asyncio.Future | None = None
        self.watcher: asyncio.Task | None = None
        if bodiless:
            self.finished = True
            self.first_given = False
            self.watcher = asyncio.ensure_future(self._watch())
        else:
            self.first_given = True

    async def __call__(self) -> Message:
        if self.finished:
            if not self.first_given:
                self.first_given = True
                return dict(_END)
            await self.guard.gone.wait()
            return dict(_GONE)
        while True:
            message = await self._next()
            if message is None:  # stopped for shutdown
                return await self._stop()
            if message["type"] != "http.request":
                self.guard.gone.set()
                self.finished = True
                return message
            body = message.get("body", b"")
            more = message.get("more_body", False)
            self.total += len(body)
            self.window_bytes += len(body)
            if self.total > self.limit:
                return await self._refuse(
                    413, "PAYLOAD_TOO_LARGE",
                    _("request too large: the body of {path} is at most {limit} "
                      "(request body over {bytes} bytes)",
                      path=self.path, limit=human(self.limit), bytes=self.limit))
            if self.waited >= self.limits.body_rate_window:
                if self.window_bytes < self.limits.body_min_rate * self.waited:
                    return await self._refuse(
                        408, "REQUEST_TIMEOUT",
                        _("request body sent too slowly: under {rate} bytes a second",
                          rate=self.limits.body_min_rate))
                self.waited, self.window_bytes = 0.0, 0
            if not more:
                data = self.held + body
                self._finish()
                return {"type": "http.request", "body": data, "more_body": False}
            if not self.line_bounded:
                return {"type": "http.request", "body": body, "more_body": True}
            data = self.held + body
            cut_at = data.rfind(b"\n") + 1
            if cut_at == 0 and len(data) > MAX_HELD_LINE:
                cut_at = len(data)
            self.held = data[cut_at:]
            if cut_at:
                return {"type": "http.request", "body": data[:cut_at], "more_body": True}

    async def _next(self) -> Message | None:
        if self.stopping:
            return None
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.pending = asyncio.ensure_future(self.receive())
        try:
            await asyncio.wait({self.pending}, timeout=self.limits.body_idle_seconds)
        finally:
            self.waited += loop.time() - started
        pending, self.pending = self.pending, None
        if pending.done() and not pending.cancelled():
            return pending.result()
        pending.cancel()
        if self.stopping:
            return None
        return await self._refuse(
            408, "REQUEST_TIMEOUT",
            _("request body stalled: no data for {seconds} s",
              seconds=f"{self.limits.body_idle_seconds:g}"))

    def stop(self) -> None:
        """Shutdown: end the body at the next chance (at once if waiting for the client)."""
        self.stopping = True
        if self.pending is not None and not self.pending.done():
            self.pending.cancel()

    async def _stop(self) -> Message:
        if self.line_bounded:
            self.ended_early = ("SHUTTING_DOWN", _(
                "server shutting down: the body was read up to the last whole line; "
                "send the rest again"))
            self._finish()
            return dict(_END)
        return await self._refuse(503, "SHUTTING_DOWN", _("server shutting down, try again shortly"))

    async def _refuse(self, status: int, code: str, message: str) -> Message:
        self.held = b""
        if await self.cut(status, code, message):
            self.finished = True
            self.first_given = True
            self.guard.gone.set()  # nothing this request does may commit a disclosure now
            return dict(_GONE)
        # the response has begun (an upload answering as it reads): end the body instead
        self.ended_early = (code, message)
        self._finish()
        return dict(_END)

    def _finish(self) -> None:
        self.finished = True
        self.held = b""
        if self.watcher is None:
            self.watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.guard.gone.set()
                return

    def close(self) -> None:
        for task in (self.watcher, self.pending):
            if task is not None and not task.done():
                task.cancel()
