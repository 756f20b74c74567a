"""Sending a long response (the audit export) to a client that may read slowly: a reader that
takes less than `min_rate` bytes/s over a window, or a response past its time limit, is cut; the
source is closed at once (its database connection goes back) and the stream ends with an error
line when the client can still take one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from starlette.types import Send

from ..i18n import _

CHUNK = 16 << 10
LAST_LINE_SECONDS = 5.0  # a reader that resumes soon after the cut still reads why


class SlowReader(Exception):
    pass


async def send_stream(
    send: Send,
    lines: AsyncIterator[str],
    *,
    min_rate: int,
    window: float,
    time_limit: float,
    stop: asyncio.Event,
    gone: asyncio.Event | None = None,
    error_line: Callable[[str, int], str],
) -> int:
    """Send `lines` as the body of a response already started; returns the lines the client
    took. The caller's `error_line(reason, lines_taken)` ends a cut stream."""
    loop = asyncio.get_running_loop()
    started = window_start = loop.time()
    window_bytes = 0
    sent_lines = 0
    buffered: list[bytes] = []
    size = 0

    async def push(data: bytes) -> None:
        nonlocal window_start, window_bytes
        task = asyncio.ensure_future(send({"type": "http.response.body", "body": data, "more_body": True}))
        while True:
            now = loop.time()
            deadline = min(window_start + window, started + time_limit)
            await asyncio.wait({task}, timeout=max(deadline - now, 0))
            if task.done():
                task.result()
                window_bytes += len(data)
                return
            now = loop.time()
            if stop.is_set() or now >= started + time_limit:
                task.cancel()
                raise SlowReader(_("the export reached its time limit of {seconds} s", seconds=f"{time_limit:g}"))
            if now >= window_start + window:
                if window_bytes < min_rate * window:
                    task.cancel()
                    raise SlowReader(_("the reader is slower than {rate} bytes/s", rate=min_rate))
                window_start, window_bytes = now, 0

    try:
        async for line in lines:
            data = line.encode()
            buffered.append(data)
            size += len(data)
            if size >= CHUNK:
                await push(b"".join(buffered))
                sent_lines += len(buffered)
                buffered, size = [], 0
            if stop.is_set():
                raise SlowReader(_("the server is shutting down"))
            if gone is not None and gone.is_set():  # nobody is reading: stop the cursor too
                await _close(lines)
                return sent_lines
        if buffered:
            await push(b"".join(buffered))
            sent_lines += len(buffered)
    except SlowReader as e:
        await _close(lines)
        last = error_line(str(e), sent_lines).encode()
        # a client that reads nothing more gets its connection closed instead
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                send({"type": "http.response.body", "body": last, "more_body": False}),
                LAST_LINE_SECONDS)
        return sent_lines
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return sent_lines


async def _close(lines: AsyncIterator[str]) -> None:
    aclose = getattr(lines, "aclose", None)
    if aclose is not None:
        await aclose()
