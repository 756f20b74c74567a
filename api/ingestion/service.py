"""Collection (Art. 11-16): a provider's records are validated against the catalog, then written
batch by batch, each batch in its own transaction together with its line in the collection log
(Art. 33). A record's result is known, and may be acknowledged, only once its batch committed.

(provider, source reference) identifies a record. The same content again is "unchanged";
changed content with a reason is a new version ("updated"); every version is kept (Art. 16).

Every path (submitRecords, the bulk upload, `credit ingest`) goes through `Collector`."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable

import asyncpg

from ..auth.principal import Principal, RequestInfo
from ..catalog import CHINA_TIME, Catalog
from ..errors import Forbidden, TooMany
from ..i18n import _
from ..observe.metrics import count_upload
from ..text import bad_character
from .batch import CREATED, REJECTED, UNCHANGED, UPDATED, Conflict, Outcome, Prepared
from .record import RecordInput, Rejection
from .timeliness import Deadlines
from .validation import Validator
from .writer import BatchWriter

log = logging.getLogger("credit.ingestion")

RETRIES = 3
# CPU work between two turns of the event loop (validation, parsing): a lookup waits at most
# about this long behind an upload or a submitRecords call.
SLICE_SECONDS = 0.002
_RETRYABLE = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.UniqueViolationError,
)


class Budget:
    """Cooperative CPU work: `await budget.pause()` between two pieces of work gives the event
    loop its turn once `seconds` have passed since the last turn (measured, not counted in rows:
    a row's cost varies a hundredfold)."""

    def __init__(self, seconds: float = SLICE_SECONDS):
        self.seconds = seconds
        self._until = time.perf_counter() + seconds

    async def pause(self) -> None:
        if time.perf_counter() >= self._until:
            await asyncio.sleep(0)
            self._until = time.perf_counter() + self.seconds


def require_provider(principal: Principal) -> str:
    if not principal.has("provider") or not principal.org_code:
        raise Forbidden(_("only a provider submits records"), rule="provider_role")
    return principal.org_code


class Collector(BatchWriter):
    """One provider's submission through one path (channel)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        catalog: Catalog,
        principal: Principal,
        *,
        calendar=None,
        request: RequestInfo | None = None,
        operation: str,
        legacy_uscc: frozenset[str] = frozenset(),
        clock: Callable[[], dt.datetime] | None = None,
        declared_client: str | None = None,
    ):
        self.provider_org = require_provider(principal)
        self.pool = pool
        self.catalog = catalog
        self.principal = principal
        self.request = request
        self.channel = request.channel if request else "cli"  # the endpoint's, never the client's say
        self.declared_client = declared_client
        self.operation = operation
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.deadlines = Deadlines(calendar)
        self.legacy_uscc = legacy_uscc
        self.batches = 0  # written
        self._numbered = 0
        self.counts = {CREATED: 0, UPDATED: 0, UNCHANGED: 0, REJECTED: 0}
        self._validator: Validator | None = None

    def _today(self) -> dt.date:
        return self.clock().astimezone(CHINA_TIME).date()

    async def refresh_catalog(self) -> None:
        async with self.pool.acquire() as conn:
            await self.catalog.refresh(conn)

    async def prepare_cooperatively(
        self, rows: list[tuple[int, RecordInput | Rejection]], budget: Budget | None = None
    ) -> Prepared:
        """Validate a batch (CPU only, so the next batch is checked while one is written), giving
        the event loop its turn whenever the budget is spent: a large or hostile batch never
        holds up the lookups running beside it."""
        budget = budget or Budget()
        batch = self._prepared()
        for line, rec in rows:
            self._check(batch, line, rec)
            await budget.pause()
        return batch

    def _prepared(self) -> Prepared:
        today = self._today()
        if self._validator is None or self._validator.today != today:
            self._validator = Validator(self.catalog, self.provider_org, today, legacy_uscc=self.legacy_uscc)
        return Prepared(lines=[], rejected={}, valid=[], received_on=today)

    def _check(self, batch: Prepared, line: int, rec: RecordInput | Rejection) -> None:
        if isinstance(rec, Rejection):
            batch.lines.append((line, None))
            batch.rejected[line] = rec
            return
        ref = rec.source_ref.strip() if isinstance(rec.source_ref, str) else None
        if ref and bad_character(ref) is not None:  # echoed and logged: escaped, never stored raw
            ref = ref.encode("unicode_escape").decode("ascii")
        batch.lines.append((line, ref or None))
        checked = self._validator.validate(rec)
        if isinstance(checked, Rejection):
            batch.rejected[line] = checked
        else:
            batch.valid.append(
                (line, checked, self.deadlines.due(checked.decided_on, checked.item.deadline_working_days))
            )

    async def write(self, batch: Prepared) -> list[Outcome]:
        """Store a validated batch in one transaction with its collection-log line; retried
        when a concurrent submission touched the same records."""
        if not batch.number:  # before the first await: batches started in order are numbered in order
            self._numbered += 1
            batch.number = self._numbered
        for attempt in range(1, RETRIES + 1):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    outcomes = await self._write(conn, batch)
                    await self._log(conn, outcomes, batch.number)
                break
            except (Conflict, *_RETRYABLE) as e:
                if attempt == RETRIES:
                    raise
                log.info("batch conflicted with another submission (%s); running it again", e)
        self.batches += 1
        for o in outcomes:
            self.counts[o.status] += 1
        count_upload(Counter(o.status for o in outcomes))  # metrics: credit_upload_rows_total
        return outcomes

    async def submit(self, rows: list[tuple[int, RecordInput | Rejection]]) -> list[Outcome]:
        return await self.write(await self.prepare_cooperatively(rows))


async def submit_records(
    pool: asyncpg.Pool,
    catalog: Catalog,
    principal: Principal,
    records: list[RecordInput],
    *,
    max_records: int,
    calendar=None,
    request: RequestInfo | None = None,
    legacy_uscc: frozenset[str] = frozenset(),
    clock: Callable[[], dt.datetime] | None = None,
) -> list[Outcome]:
    """submitRecords: a bounded batch, one transaction, one line in the collection log."""
    collector = Collector(
        pool, catalog, principal, calendar=calendar, request=request, operation="submitRecords",
        legacy_uscc=legacy_uscc, clock=clock,
    )
    if len(records) > max_records:
        raise TooMany(
            _("submitRecords takes at most {max_records} records; use the bulk upload for more", max_records=max_records),
            field="records",
            rule="batch_size",
        )
    if not records:
        return []
    await collector.refresh_catalog()
    return await collector.submit(list(enumerate(records)))


def declared_client(user_agent: str | None) -> str | None:
    """The tool a client says it is (its User-Agent, e.g. `credit-ingest/0.1.0`), kept as a
    declared value: printable ASCII, at most 100 characters; never taken for the channel."""
    if not user_agent:
        return None
    text = "".join(c for c in user_agent if " " <= c <= "~").strip()[:100]
    return text or None


def with_channel(request: RequestInfo | None, channel: str) -> RequestInfo | None:
    return dataclasses.replace(request, channel=channel) if request else None
