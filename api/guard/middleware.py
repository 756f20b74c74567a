"""The guard as ASGI middleware, outermost: header and body limits, admission, the per-request
context (BUSY -> Retry-After, client gone -> no commit), and the shutdown grace period."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import threading
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Limits
from ..http_body import drain
from ..i18n import _
from . import context
from .admission import Admission
from .limits import BodyReader, body_limit, declared_length, has_body, header_bytes, human

log = logging.getLogger("credit.guard")
LINE_BOUNDED = frozenset({"/upload/records"})
# Before a refusal, what the client is still sending is read and dropped (bounded): closing the
# connection on unread data resets it, and the client would not read the answer. A client that
# sends more than this still gets a reset (`credit serve` answers a declared oversized body in
# the protocol instead, and lingers reading; api/guard/protocol.py).
DRAIN_BYTES = 8 << 20
DRAIN_SECONDS = 0.5


def refusal(status: int, code: str, message: str, retry_after: int | None = None):
    body = json.dumps(
        {"error": code.lower(), "message": message,
         "errors": [{"message": message, "extensions": {"code": code}}]},
        ensure_ascii=False,
    ).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8"),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    return ({"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app: ASGIApp | None, limits: Limits):
        self.app = app
        self.limits = limits
        self.admission = Admission(limits)
        self.readers: set[BodyReader] = set()
        self.stopping = asyncio.Event()  # the grace period after SIGTERM has run out
        self.shutdown_started = False

    def wrap(self, app: ASGIApp) -> Guard:
        """For Starlette's middleware list: the guard made before the app, bound to it here."""
        self.app = app
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if header_bytes(scope) > self.limits.max_header_bytes:
            await self._answer(send, receive, 431, "HEADERS_TOO_LARGE",
                               _("request headers over {limit} ({bytes} bytes)",
                                 limit=human(self.limits.max_header_bytes),
                                 bytes=self.limits.max_header_bytes))
            return
        limit = body_limit(self.limits, path)
        length = declared_length(scope)
        if length is not None and length > limit:
            await self._answer(send, receive, 413, "PAYLOAD_TOO_LARGE",
                               _("request too large: the body of {path} is at most {limit} "
                                 "(Content-Length {length} over {bytes} bytes)",
                                 path=path, limit=human(limit), length=length, bytes=limit))
            return
        gate = self.admission.gate(path)
        if gate is not None and not await gate.enter():
            await self._answer(send, receive, 503, "BUSY",
                               _("busy, try again shortly (too many {what} in progress)",
                                 what=_(gate.name)),
                               retry_after=self.limits.retry_after_seconds)
            return
        try:
            await self._serve(scope, receive, send, path)
        finally:
            if gate is not None:
                await gate.leave()

    async def _serve(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        guard, token = context.enter()
        started = refused = ndjson = False

        async def guarded_send(message: Message) -> None:
            nonlocal started, ndjson
            if refused:
                return  # the guard has answered for the app already
            if message["type"] == "http.response.start":
                started = True
                ndjson = any(k.lower() == b"content-type" and b"ndjson" in v
                             for k, v in message.get("headers", ()))
                if guard.busy:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", ()),
                                          (b"retry-after", str(self.limits.retry_after_seconds).encode())]
            elif (message["type"] == "http.response.body" and not message.get("more_body")
                  and ndjson and reader.ended_early):
                # the body was ended short (shutdown, too slow, too large) after the answer had
                # begun: the last line says so, after whatever the app said about the rows it read
                code, reason = reader.ended_early
                await send({**message, "more_body": True})
                message = {"type": "http.response.body", "more_body": False, "body": json.dumps(
                    {"error": code.lower(), "code": code, "reason": reason}, ensure_ascii=False
                ).encode() + b"\n"}
            await send(message)

        async def cut(status: int, code: str, message: str) -> bool:
            nonlocal refused
            if started:
                return False
            start, body = refusal(status, code, message)
            refused = True
            await drain(receive, limit=DRAIN_BYTES, seconds=DRAIN_SECONDS)
            with contextlib.suppress(OSError):
                await send(start)
                await send(body)
            return True

        reader = BodyReader(receive, guard, self.limits, path=path, cut=cut,
                            line_bounded=path in LINE_BOUNDED, bodiless=not has_body(scope))
        self.readers.add(reader)
        if self.stopping.is_set():
            reader.stop()
        scope.setdefault("extensions", {})["credit.shutdown"] = self.stopping
        try:
            await self.app(scope, reader, guarded_send)
        except Exception:
            if not refused:
                raise
            log.info("request to %s ended after the guard refused it", path)
        finally:
            self.readers.discard(reader)
            reader.close()
            context.leave(token)

    async def _answer(self, send: Send, receive: Receive, status: int, code: str, message: str,
                      retry_after: int | None = None) -> None:
        await drain(receive, limit=DRAIN_BYTES, seconds=DRAIN_SECONDS)
        start, body = refusal(status, code, message, retry_after)
        await send(start)
        await send(body)

    # shutdown

    def begin_shutdown(self) -> None:
        """SIGTERM/SIGINT: after the grace period, bodies still arriving end (uploads at a whole
        line, so they answer with what they stored) and exports end with their error line."""
        if self.shutdown_started:
            return
        self.shutdown_started = True
        log.info("shutting down: open requests have %.0f s", self.limits.shutdown_grace_seconds)
        asyncio.get_running_loop().call_later(self.limits.shutdown_grace_seconds, self._stop_all)

    def _stop_all(self) -> None:
        self.stopping.set()
        for reader in list(self.readers):
            reader.stop()

    def hook_signals(self) -> Callable[[], None]:
        """Chain our handler before the server's (uvicorn's own SIGTERM handling carries on);
        returns the undo. Only the main thread may set signal handlers."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = asyncio.get_running_loop()
        previous = {}

        def handler(sig, frame):
            loop.call_soon_threadsafe(self.begin_shutdown)
            previous[sig](sig, frame)

        for sig in (signal.SIGTERM, signal.SIGINT):
            if callable(signal.getsignal(sig)):  # a server's handler (uvicorn's): chain it
                previous[sig] = signal.getsignal(sig)
                signal.signal(sig, handler)

        def undo() -> None:
            for sig, prev in previous.items():
                if signal.getsignal(sig) is handler:
                    signal.signal(sig, prev)

        return undo
