"""Refusing a request whose body is still arriving."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import Receive

DRAIN_BYTES = 1 << 20
DRAIN_SECONDS = 2.0


async def drain(receive: Receive, *, limit: int = DRAIN_BYTES, seconds: float = DRAIN_SECONDS) -> None:
    """Read (and drop) what the client is still sending, up to a bound, before answering with
    a refusal: closing a connection with unread data resets it, and the client, still
    writing, would see "connection reset" instead of the reason it was refused."""

    async def read() -> None:
        taken = 0
        while taken < limit:
            message = await receive()
            if message["type"] != "http.request":
                return
            taken += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(read(), timeout=seconds)
