"""The outermost middleware: every request gets the server-made request id (the one the trail
records, api/auth/request_info.py), an `X-Request-Id` response header (refusals of the guard,
the token gate and the rate limiter included), one access-log line and its metrics.

Per request this costs one uuid, two perf_counter reads, one counter and one histogram update
and one log record (README "Watching it run" has the measured figure)."""

from __future__ import annotations

import contextvars
import json
import logging
import time
import uuid
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import LATENCY, REQUESTS, role_of

log = logging.getLogger("credit.app")
access_log = logging.getLogger("credit.access")

HEADER = b"x-request-id"


@dataclass(slots=True)
class Current:
    """What the layers inside learn about the request, for its access line and metrics."""

    request_id: str
    operation: str | None = None  # the GraphQL root field (schema/observe.py)
    outcome: str | None = None  # "ok" or the first error's code, lower case


_current: contextvars.ContextVar[Current | None] = contextvars.ContextVar("credit_request", default=None)


def current() -> Current | None:
    return _current.get()


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state")
    return state.get("request_id") if state else None


def outcome_of_status(status: int) -> str:
    return "ok" if status < 400 else f"http_{status}"


class Observe:
    def __init__(self, app: ASGIApp, *, access: bool = True, tracer=None):
        self.app = app
        self.access = access
        self.tracer = tracer  # api/observe/tracing.py; None unless configured

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif self.tracer is None:
            await self._serve(scope, receive, send, None)
        else:
            from .tracing import start_span

            with start_span(self.tracer, scope) as span:
                await self._serve(scope, receive, send, span)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, span) -> None:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        rec = Current(request_id)
        token = _current.set(rec)
        status = 0
        header = request_id.encode()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or ())
                if not any(k.lower() == HEADER for k, _ in headers):
                    headers.append((HEADER, header))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if status:
                raise  # the answer had begun: the server closes the connection
            log.exception("request failed")  # carries request_id (logs.RequestIdFilter)
            status, rec.outcome = 500, "error"
            body = json.dumps({"error": "internal", "request_id": request_id}).encode()
            await send({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (HEADER, header)]})
            await send({"type": "http.response.body", "body": body})
        finally:
            _current.reset(token)
            self._done(scope, rec, status, time.perf_counter() - started, span)

    def _done(self, scope: Scope, rec: Current, status: int, seconds: float, span) -> None:
        route = scope.get("route")
        path = route.path if route is not None and hasattr(route, "path") else "unmatched"
        # a GraphQL result without a root field run: the document did not parse or validate
        operation = rec.operation or ("invalid" if rec.outcome is not None else "-")
        outcome = rec.outcome or outcome_of_status(status or 499)  # 0: the client left unanswered
        key = (path, operation, outcome)
        children = _children.get(key)
        if children is None:  # label sets are bounded, so is this cache
            children = _children[key] = (REQUESTS.labels(*key), LATENCY.labels(path, operation))
        children[0].inc()
        children[1].observe(seconds)
        if span is not None:
            from .tracing import finish_span

            finish_span(span, scope["method"], path, operation, outcome, status or 499, rec.request_id)
        if self.access:
            principal = (scope.get("state") or {}).get("principal")
            access_log.info("access", extra={"fields": {
                "request_id": rec.request_id, "method": scope["method"], "route": path,
                "operation": operation, "outcome": outcome, "status": status or 499,
                "duration_ms": round(seconds * 1000, 2),
                "role": role_of(principal.roles) if principal is not None else None,
                "org": principal.org_code if principal is not None else None,
            }})


_children: dict[tuple[str, str, str], tuple] = {}
