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
from dataclasses import dataclass
from typing import Any

import asyncpg

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..catalog import CHINA_TIME, Catalog
from ..errors import Forbidden, TooMany
from ..observe.metrics import count_upload
from ..i18n import _
from ..text import bad_character
from . import repository as repo
from .subjects import apply_registrations
from .timeliness import Deadlines
from .validation import RecordInput, Rejection, Validator, ValidRecord
from .versions import severity_dropped

log = logging.getLogger("credit.ingestion")

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"
RETRIES = 3
# CPU work between two turns of the event loop (validation, parsing): a lookup waits at most
# about this long behind an upload or a submitRecords call.
SLICE_SECONDS = 0.002
_RETRYABLE = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.UniqueViolationError,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one submitted record; `line` is its index (submitRecords) or its line in
    the uploaded file."""

    line: int
    source_ref: str | None
    status: str
    record_id: str | None = None
    version: int | None = None
    rejection: Rejection | None = None
    due_on: dt.date | None = None
    provisional: bool = False
    late: bool | None = None

    def wire(self) -> dict[str, Any]:
        """The NDJSON form streamed back by the bulk upload."""
        out: dict[str, Any] = {"line": self.line, "sourceRef": self.source_ref, "status": self.status}
        if self.record_id:
            out["recordId"] = self.record_id
            out["version"] = self.version
        if self.rejection:
            out["field"] = self.rejection.field
            out["rule"] = self.rejection.rule
            out["message"] = self.rejection.message
        if self.due_on:
            out["dueOn"] = self.due_on.isoformat()
            out["late"] = self.late
            if self.provisional:
                out["provisional"] = True
        return out


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


class _Conflict(RuntimeError):
    """Another transaction changed a record of this batch meanwhile: run the batch again."""


@dataclass
class Prepared:
    """A batch after validation (pure work), ready to be written."""

    lines: list[tuple[int, str | None]]
    rejected: dict[int, Rejection]
    valid: list[tuple[int, ValidRecord, tuple[dt.date, bool] | None]]
    received_on: dt.date
    number: int = 0  # the batch's number in the submission, for the collection log


def require_provider(principal: Principal) -> str:
    if not principal.has("provider") or not principal.org_code:
        raise Forbidden(_("only a provider submits records"), rule="provider_role")
    return principal.org_code


class Collector:
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
            except (_Conflict, *_RETRYABLE) as e:
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

    async def _write(self, conn: asyncpg.Connection, batch: Prepared) -> list[Outcome]:
        results: dict[int, Outcome] = {
            line: Outcome(line, ref, REJECTED, rejection=batch.rejected[line])
            for line, ref in batch.lines
            if line in batch.rejected
        }
        # a reference given twice in a batch: the later one is written after the earlier one
        segments: list[list[tuple[int, ValidRecord, tuple[dt.date, bool] | None]]] = [[]]
        seen: set[str] = set()
        for entry in batch.valid:
            if entry[1].source_ref in seen:
                segments.append([])
                seen = set()
            seen.add(entry[1].source_ref)
            segments[-1].append(entry)
        for n, segment in enumerate(s for s in segments if s):
            for o in await self._write_segment(conn, segment, batch.received_on, first=n == 0):
                results[o.line] = o
        return [results[line] for line, _ in batch.lines]

    async def _write_segment(self, conn, segment, received_on: dt.date, *, first: bool) -> list[Outcome]:
        rows = []
        for line, v, due in segment:
            due_on, provisional = due if due else (None, None)
            rows.append((
                line, v.subject_key, v.key_type, v.subject_type, v.subject_name, v.item.code,
                v.source_ref, v.decided_on, v.data_json, v.consent_ref, v.change_reason,
                v.item.year, due_on, provisional,
                None if due_on is None else received_on > due_on,
            ))
        await repo.stage(conn, rows, first=first)
        await repo.upsert_subjects(conn)
        by_line = {line: (v, due) for line, v, due in segment}
        out: list[Outcome] = []
        new_lines: list[int] = []
        changes: list[tuple[int, str, int]] = []
        unsure: list[tuple[int, str, int]] = []
        existing = {r["idx"]: r for r in await repo.classify(conn, self.provider_org)}
        for line, v, _due in segment:
            r = existing.get(line)
            if r is None:
                new_lines.append(line)
                continue
            reject = None
            if r["known_type"] != v.subject_type:
                reject = Rejection(
                    "subjectType", "subject_type_known",
                    _("the platform knows {key} as a {known}, not a {type}", key=v.subject_key,
                      known=r["known_type"], type=v.subject_type),
                )
            elif r["id"] is None:
                new_lines.append(line)
                continue
            elif r["status"] == "deleted":
                reject = Rejection(
                    "sourceRef", "record_deleted",
                    _("the record {ref} was deleted and is not collected again under this reference",
                      ref=v.source_ref),
                )
            elif r["identity_changed"]:
                reject = Rejection(
                    "sourceRef", "identity_change",
                    _("{ref} is stored for another subject or item; a reference stays with its "
                      "subject and item — use a new reference", ref=v.source_ref),
                )
            elif r["same"]:
                out.append(Outcome(line, v.source_ref, UNCHANGED, str(r["id"]), r["version"]))
                continue
            elif not v.change_reason:
                reject = Rejection(
                    "changeReason", "reason_required",
                    _("{ref} is stored with different content; a stored record is corrected only "
                      "with a reason (changeReason), and its earlier version is kept (Art. 16)",
                      ref=v.source_ref),
                )
            elif v.item.severity is not None:
                unsure.append((line, r["id"], r["version"]))  # may leave out its severity
                continue
            else:
                changes.append((line, r["id"], r["version"]))
                continue
            out.append(Outcome(line, v.source_ref, REJECTED, rejection=reject))
        for line, record_id, version, reject in await _severity_kept(conn, unsure, by_line):
            if reject is None:
                changes.append((line, record_id, version))
            else:
                out.append(Outcome(line, by_line[line][0].source_ref, REJECTED, rejection=reject))
        user = (self.principal.user_id, self.principal.name)
        if new_lines:
            ids = await repo.insert_new(
                conn, provider_org=self.provider_org, user_id=user[0], user_name=user[1],
                channel=self.channel, received_on=received_on,
                indexes=None if len(new_lines) == len(segment) else new_lines,
            )
            if len(ids) != len(new_lines):
                raise _Conflict("a record of this batch was stored meanwhile")
            for line in new_lines:
                v, due = by_line[line]
                out.append(_stored(line, v, CREATED, ids[v.source_ref], 1, due, received_on))
        if changes:
            updated = await repo.update_changed(
                conn, user_id=user[0], user_name=user[1], channel=self.channel, changes=changes
            )
            if len(updated) != len(changes):
                raise _Conflict("a record of this batch was corrected meanwhile")
            for u in updated:
                v, _due = by_line[u["idx"]]
                out.append(Outcome(
                    u["idx"], v.source_ref, UPDATED, str(u["id"]), u["version"],
                    due_on=u["due_on"], provisional=u["due_provisional"], late=u["late"],
                ))
        registrations = [
            (v, o.record_id) for o in out if o.status in (CREATED, UPDATED)
            for v in (by_line[o.line][0],) if v.item.category == "registration"
        ]
        if registrations:
            await apply_registrations(conn, self.principal, self.request, self.catalog, registrations)
        return out

    async def _log(self, conn: asyncpg.Connection, outcomes: list[Outcome], number: int) -> None:
        """Art. 33: who submitted what, when, by which path, and each record's outcome."""
        by_status: dict[str, list] = {CREATED: [], UPDATED: [], UNCHANGED: [], REJECTED: []}
        for o in outcomes:
            if o.status == REJECTED:
                by_status[REJECTED].append(
                    {"line": o.line, "ref": o.source_ref, "field": o.rejection.field, "rule": o.rejection.rule}
                )
            else:
                by_status[o.status].append(o.source_ref)
        await record_act(
            conn,
            self.principal,
            kind="collection",
            operation=self.operation,
            details={
                "provider": self.provider_org,
                "channel": self.channel,
                **({"declaredClient": self.declared_client} if self.declared_client else {}),
                "batch": number,
                "lines": [outcomes[0].line, outcomes[-1].line] if outcomes else [],
                "counts": {s: len(v) for s, v in by_status.items()},
                "outcomes": by_status,
            },
            request=self.request,
        )


def _stored(line, v: ValidRecord, status, record_id, version, due, received_on) -> Outcome:
    due_on, provisional = due if due else (None, False)
    return Outcome(
        line, v.source_ref, status, record_id, version, due_on=due_on, provisional=provisional,
        late=None if due_on is None else received_on > due_on,
    )


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


async def _severity_kept(conn: asyncpg.Connection, changes: list[tuple[int, str, int]],
                         by_line: dict) -> list[tuple[int, str, int, Rejection | None]]:
    """Corrections of penalties with a severity policy: each refused if it leaves out the
    severity the stored version states (api/ingestion/versions.py `severity_dropped`)."""
    if not changes:
        return []
    stored = await repo.stored_data(conn, [str(c[1]) for c in changes])
    return [(line, record_id, version,
             severity_dropped(by_line[line][0].item, stored.get(str(record_id)), by_line[line][0].data_json))
            for line, record_id, version in changes]
