"""What the guard knows about the request being served, reachable from deep inside it (the pool,
the lookup's commit) without passing it through every call: a context variable per request."""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass, field


@dataclass
class RequestGuard:
    busy: bool = False  # a BUSY refusal happened: the response gets Retry-After
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # the client disconnected

    @property
    def client_gone(self) -> bool:
        return self.gone.is_set()


_current: contextvars.ContextVar[RequestGuard | None] = contextvars.ContextVar(
    "credit_request_guard", default=None
)


def current() -> RequestGuard | None:
    return _current.get()


def enter() -> tuple[RequestGuard, contextvars.Token]:
    guard = RequestGuard()
    return guard, _current.set(guard)


def leave(token: contextvars.Token) -> None:
    _current.reset(token)
