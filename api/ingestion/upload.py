"""The bulk upload (Art. 14: system integration and provider accounts): POST /upload/records
with an NDJSON or CSV body, streamed in both directions.

The body is read as it arrives and cut into batches (`batch` rows, or whatever arrived within
`FLUSH_SECONDS`); each batch is validated while the ones before it are written, and written in
its own transaction (up to `IN_FLIGHT` at once, never two with a reference in common). The response is
NDJSON: one line per row, sent only after the row's batch committed, so every line the client
has read names a row that is stored (or refused). A last line {"summary": ...} closes a
complete upload; an upload cut short has none, and sending the file again completes it (rows
already stored come back "unchanged")."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from urllib.parse import parse_qs

import asyncpg
import orjson
from starlette.types import Receive, Scope, Send

from ..errors import DomainError
from ..http_body import drain
from ..i18n import _
from .batch import Outcome
from .columns import field_names
from .formats import FormatError, Row, reader_for
from .service import Budget, Collector, declared_client, with_channel

log = logging.getLogger("credit.upload")

DEFAULT_BATCH = 2000
MAX_BATCH = 10_000
FLUSH_SECONDS = 1.0
FEED_SLICE = 4096  # body bytes parsed between two looks at the clock
ACK_SLICE = 500  # result lines encoded between two looks at the clock
# Body read ahead while batches are written: enough for the next batch to be complete when the
# one before commits, and a bound on what one upload holds in memory.
READ_AHEAD_BYTES = 8 << 20
# Batches written at once, each in its own transaction on its own connection: while one waits
# for its commit to reach the disk, the next one's rows are inserted. Batches that share a
# source reference are never in flight together (the later must see the earlier).
IN_FLIGHT = 2
_END, _GONE = object(), object()
CHANNEL = "bulk_upload"


async def _reply(send: Send, status: int, body: dict, receive: Receive | None = None) -> None:
    if receive is not None:
        await drain(receive)  # so the client reads this answer, not a reset
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(body, ensure_ascii=False).encode()})


def _line(obj: dict) -> bytes:
    return orjson.dumps(obj) + b"\n"


class BulkUpload:
    """ASGI endpoint; wrap it in TokenGate so `scope["state"]` carries the caller."""

    def __init__(self, get_state):
        self.get_state = get_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _reply(send, 405, {"error": "method_not_allowed", "reason": _("POST the file")}, receive)
            return
        state = self.get_state()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            reader = reader_for(headers.get("content-type"),
                                lambda code: field_names(state.catalog.current(code)))
        except FormatError as e:
            await _reply(send, 415, {"error": "unsupported_charset", "reason": str(e)}, receive)
            return
        if reader is None:
            await _reply(send, 415, {"error": "unsupported_media_type",
                                     "reason": _("send application/x-ndjson or text/csv")}, receive)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            batch_size = int(query.get("batch", [DEFAULT_BATCH])[0])
        except ValueError:
            batch_size = 0
        if not 1 <= batch_size <= MAX_BATCH:
            await _reply(send, 400, {"error": "invalid_input", "reason": _("batch is 1 to {max}", max=MAX_BATCH)},
                         receive)
            return
        # The channel is this endpoint's, whoever calls it and whatever the query says; the
        # client's own name for itself is kept beside it, as declared (Art. 33).
        try:
            collector = Collector(
                state.pool,
                state.catalog,
                scope["state"]["principal"],
                calendar=getattr(state, "calendar", None),
                request=with_channel(scope["state"]["request_info"], CHANNEL),
                operation="bulkUpload",
                declared_client=declared_client(headers.get("user-agent")),
                legacy_uscc=state.settings.legacy_uscc,
            )
        except DomainError as e:
            await _reply(send, 403, {"error": e.code, "reason": e.message}, receive)
            return
        await collector.refresh_catalog()
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/x-ndjson; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"x-request-id", collector.request.request_id.encode()),
            ],
        })
        try:
            await _Upload(collector, reader, receive, send, batch_size).run()
        except Exception as e:  # the 200 has gone out: the failure must be said in the stream
            log.exception("bulk upload failed")
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "more_body": False, "body": _line({
                    "error": "upload_failed",
                    "reason": _("{error}: the upload stopped; every row with a result line is "
                                "stored, send the file again to complete it", error=type(e).__name__),
                })})


class _Upload:
    """One upload: a reader of the body, this loop (parse, cut batches, validate, start their
    writes) and an acknowledger that sends each batch's results, in file order, as soon as it
    committed."""

    def __init__(self, collector: Collector, reader, receive: Receive, send: Send, batch_size: int):
        self.collector = collector
        self.reader = reader
        self.receive = receive
        self.send = send
        self.batch_size = batch_size
        self.queue: asyncio.Queue = asyncio.Queue()
        self.buffered = 0  # bytes in the queue
        self.room = asyncio.Event()
        self.batch: list[Row] = []
        self.batch_started: float | None = None  # when the batch being filled got its first row
        # batches being written or not yet acknowledged, oldest first, with their references
        self.pending: deque[tuple[asyncio.Task, frozenset[str]]] = deque()
        self.changed = asyncio.Condition()
        self.failed: BaseException | None = None
        self.client_gone = False
        self.budget = Budget()  # parsing and validation give the event loop its turn

    async def _read_body(self) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.queue.put_nowait(_GONE)
                return
            if message.get("body"):
                while self.buffered > READ_AHEAD_BYTES:  # let the client wait (TCP backpressure)
                    self.room.clear()
                    await self.room.wait()
                self.buffered += len(message["body"])
                self.queue.put_nowait(message["body"])
            if not message.get("more_body", False):
                self.queue.put_nowait(_END)
                return

    async def _emit(self, data: bytes) -> None:
        if self.client_gone:
            return
        try:
            await self.send({"type": "http.response.body", "body": data, "more_body": True})
        except OSError:
            self.client_gone = True

    async def _acknowledge(self) -> None:
        """Send each batch's results once it committed, oldest first; stop at a failed batch
        (its rows and those after it are not acknowledged)."""
        while True:
            async with self.changed:
                await self.changed.wait_for(lambda: bool(self.pending))
                task = self.pending[0][0]
            try:
                outcomes: list[Outcome] = await task
            except Exception as e:
                self.failed = e
                async with self.changed:
                    self.changed.notify_all()
                return
            for i in range(0, len(outcomes), ACK_SLICE):  # a batch's lines, a slice at a time
                await self._emit(b"".join(_line(o.wire()) for o in outcomes[i : i + ACK_SLICE]))
                await self.budget.pause()
            async with self.changed:
                self.pending.popleft()
                self.changed.notify_all()

    async def _feed(self, chunk: bytes) -> None:
        """Parse a piece of the body a slice at a time: a slice of short lines makes many rows,
        and a line inside a quoted value makes none, so the time is watched between slices.
        The bytes go first to the encoding's choice, which holds the file's start until made."""
        await self._read(self.reader.encoding.take(chunk))

    async def _read(self, data: bytes) -> None:
        for i in range(0, len(data), FEED_SLICE):
            await self._add(self.reader.read(data[i : i + FEED_SLICE]))
            await self.budget.pause()

    def _check(self) -> None:
        if self.failed is not None:
            raise self.failed

    async def _flush(self) -> None:
        if not self.batch:
            return
        rows, self.batch, self.batch_started = self.batch, [], None
        prepared = await self.collector.prepare_cooperatively(rows, self.budget)
        refs = frozenset(v.source_ref for _, v, _ in prepared.valid)
        async with self.changed:
            # at most IN_FLIGHT at once; a batch sharing a reference waits for the earlier one
            await self.changed.wait_for(lambda: self.failed is not None or (
                len(self.pending) < IN_FLIGHT and not any(refs & r for _, r in self.pending)))
            self._check()
            self.pending.append((asyncio.create_task(self.collector.write(prepared)), refs))
            self.changed.notify_all()

    async def _drain(self) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.failed is not None or not self.pending)
        self._check()

    async def _add(self, rows: list[Row]) -> None:
        for row in rows:
            if not self.batch:
                self.batch_started = asyncio.get_running_loop().time()
            self.batch.append(row)
            if len(self.batch) >= self.batch_size:
                await self._flush()

    async def run(self) -> None:
        body = asyncio.create_task(self._read_body())
        acknowledger = asyncio.create_task(self._acknowledge())
        loop = asyncio.get_running_loop()
        finished = False
        try:
            while True:
                self._check()
                # timers: the batch being filled, and the start of a file held for its encoding
                waits = [FLUSH_SECONDS - (now - t) for now, t in (
                    (loop.time(), self.batch_started), (time.monotonic(), self.reader.encoding.held_since),
                ) if t is not None]
                timeout = max(0.0, min(waits)) if waits else None
                try:
                    chunk = await asyncio.wait_for(self.queue.get(), timeout)
                except TimeoutError:
                    held = self.reader.encoding.held_since
                    if held is not None and time.monotonic() - held >= FLUSH_SECONDS:
                        await self._read(self.reader.encoding.decide())
                    if self.batch_started is not None and loop.time() - self.batch_started >= FLUSH_SECONDS:
                        await self._flush()
                    continue
                if chunk is _GONE:
                    self.client_gone = True
                    break
                if chunk is _END:
                    await self._read(self.reader.encoding.finish())
                    await self._add(self.reader.finish())
                    await self._flush()
                    await self._drain()
                    finished = True
                    break
                self.buffered -= len(chunk)
                if self.buffered <= READ_AHEAD_BYTES:
                    self.room.set()
                await self._feed(chunk)
        except FormatError as e:
            await self._drain()
            await self._emit(_line({"error": "format", "message": str(e)}))
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, RuntimeError) as e:
            log.error("bulk upload stopped: %s", e)
            await self._emit(_line({"error": "storage_unavailable",
                                    "message": _("the platform could not store a batch; rows without "
                                                 "a result line are not stored — send the file again")}))
        finally:
            body.cancel()
            for task, _result in list(self.pending):  # the client left: let the batches finish, unacknowledged
                with contextlib.suppress(Exception):
                    await task
            acknowledger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acknowledger
        if finished:
            c = self.collector
            await self._emit(_line({"summary": {**c.counts, "batches": c.batches,
                                                "encoding": self.reader.encoding.name}}))
        if not self.client_gone:
            with contextlib.suppress(OSError):
                await self.send({"type": "http.response.body", "body": b"", "more_body": False})
