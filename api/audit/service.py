"""Reading the trail: auditors (Art. 41; logs, never record content) and the subject itself
(Art. 36: who queried me). Auditors' own reads are acts in the trail too."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg

from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..errors import Forbidden, InvalidInput
from ..pagination import Page, page_of
from ..i18n import _
from .integrity import plain
from .repository import (
    EXPORT_COLUMNS,
    QUERIES_OF_SUBJECT,
    LogFilter,
    daily_totals,
    export_cursor,
    read_log,
)
from .trail import record_act

MAX_PAGE = 500
EXPORT_FORMATS = ("csv", "ndjson")


def encode_cursor(log_id: int) -> str:
    return base64.urlsafe_b64encode(f"log:{log_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        kind, _sep, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "log":
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(_("after is not a cursor this API gave out"), field="after", rule="cursor") from None


def _auditor(principal: Principal) -> None:
    if not principal.has("auditor"):
        raise Forbidden(_("only auditors read the query log"), rule="auditor_role")


def _page_size(first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(_("first must be between 1 and {max_page}", max_page=MAX_PAGE), field="first", rule="range")


def _filter_details(f: LogFilter) -> dict[str, Any]:
    return {k: plain(v) for k, v in asdict(f).items() if v is not None}


async def query_log_page(
    pool: asyncpg.Pool,
    principal: Principal,
    f: LogFilter,
    *,
    first: int,
    after: str | None,
    request: RequestInfo | None = None,
) -> Page[asyncpg.Record]:
    """A page of log rows, newest first. No total count: the trail holds millions of rows."""
    _auditor(principal)
    _page_size(first)
    after_id = decode_cursor(after) if after else None
    async with transaction(pool) as conn:
        rows = await read_log(conn, f, first=first + 1, after_id=after_id)
        await record_act(
            conn, principal, kind="audit_read", operation="queryLog", request=request,
            details={"filter": _filter_details(f), "rows": min(len(rows), first)},
        )
    return page_of(rows, first, lambda r: encode_cursor(r["id"]), after=after)


async def query_log_totals(
    pool: asyncpg.Pool, principal: Principal, f: LogFilter, *, request: RequestInfo | None = None
) -> list[asyncpg.Record]:
    _auditor(principal)
    async with transaction(pool) as conn:
        rows = await daily_totals(conn, f)
        await record_act(
            conn, principal, kind="audit_read", operation="queryLogTotals", request=request,
            details={"filter": _filter_details(f)},
        )
    return rows


def _csv_line(values: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(values)
    return buf.getvalue()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _export_value(v: Any) -> Any:
    """A CSV cell. Text that a spreadsheet would take for a formula (OWASP "CSV injection":
    starting with = + - @ tab or CR) gets a leading apostrophe, so `=HYPERLINK(...)` sent as a
    purpose by anyone reaches the auditor as text, never as a live formula."""
    v = plain(v)
    if isinstance(v, (dict, list)):
        v = json.dumps(v, ensure_ascii=False)
    if isinstance(v, str) and v.startswith(_FORMULA_STARTS):
        return "'" + v
    return v


BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def parse_bound(name: str, raw: str) -> dt.datetime:
    """`since`/`until` of the export. A date-time must carry its offset (`Z`, `+08:00`); a date
    without a time means that whole day in Beijing time: `since=2026-11-01` starts at its
    00:00 +08:00 and `until=2026-11-30` ends at the end of that day (the next 00:00 +08:00,
    exclusive). Anything else, or a time outside 1970..9998, is INVALID_INPUT naming `name`."""
    def bad(why: str) -> InvalidInput:
        return InvalidInput(
            _("parameter {name} is not valid: {why} ({raw}); give a date (YYYY-MM-DD, a whole day in Beijing time) or a date-time with its offset (YYYY-MM-DDTHH:MM:SS+08:00)", name=name, why=why, raw=repr(raw[:40])),
            field=name, rule="datetime",
        )

    text = raw.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            when = dt.datetime.combine(day, dt.time(), BEIJING)
            if name == "until":
                when += dt.timedelta(days=1)
        else:
            when = dt.datetime.fromisoformat(text)
            if when.tzinfo is None:
                raise bad(_("the date-time lacks its offset"))
        when = when.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise bad(_("not a valid date or date-time")) from None
    if not _EARLIEST <= when < _LATEST:
        raise bad(_("outside 1970-01-01 .. 9998-12-31"))
    return when


async def export_log(
    pool: asyncpg.Pool,
    principal: Principal,
    f: LogFilter,
    fmt: str,
    *,
    request: RequestInfo | None = None,
) -> AsyncIterator[str]:
    """The log rows matching `f`, oldest first, as CSV or NDJSON lines, streamed from a cursor
    (memory does not grow with the range). The export is an act in the trail."""
    _auditor(principal)
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(_("format is one of {export_formats}", export_formats=', '.join(EXPORT_FORMATS)), field="format", rule="format")
    async with transaction(pool) as conn:
        await record_act(
            conn, principal, kind="audit_read", operation="queryLog.export", request=request,
            details={"filter": _filter_details(f), "format": fmt},
        )
    return _stream(pool, f, fmt)


async def _stream(pool: asyncpg.Pool, f: LogFilter, fmt: str) -> AsyncIterator[str]:
    """Rows, then an end line, so a cut-off export is never mistaken for a whole one: NDJSON
    ends with {"end": true, "rows": N}; if the read fails half way the last line says so
    ({"error": ..., "rows": N}, or for CSV a line starting "# export failed")."""
    if fmt == "csv":
        yield _csv_line(list(EXPORT_COLUMNS))
    rows = 0
    try:
        async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            async for r in export_cursor(conn, f, prefetch=200):  # small steps: lookups run between them
                rows += 1
                if fmt == "csv":
                    yield _csv_line([_export_value(r[c]) for c in EXPORT_COLUMNS])
                else:
                    yield json.dumps({c: plain(r[c]) for c in EXPORT_COLUMNS}, ensure_ascii=False) + "\n"
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        message = _("export failed after {rows} rows: {error}; run it again", rows=rows, error=type(e).__name__)
        yield f"# {message}\n" if fmt == "csv" else json.dumps({"error": message, "rows": rows}) + "\n"
        return
    if fmt == "ndjson":
        yield json.dumps({"end": True, "rows": rows}) + "\n"


@dataclass(frozen=True)
class QueryOfMe:
    """Art. 36: one look at the subject's data, as the subject sees it. Decision: staff names
    are not shown to the subject (the organisation answers for its staff; auditors and the
    credit office see names)."""

    id: int
    at: dt.datetime
    org_code: str | None  # None: the public, without a token
    org_name: str | None
    purpose: str | None
    rights: tuple[str, ...]  # the bases records were disclosed under
    outcome: str


async def queries_of_me(
    pool: asyncpg.Pool, principal: Principal, *, first: int, after: str | None
) -> Page[QueryOfMe]:
    """Who queried the caller's own data: only its own subject key, only once verified. No
    total count: a much-queried subject has a long trail, and the count would scan all of it."""
    if not (principal.has("subject") and principal.subject_key and principal.real_name_verified):
        raise Forbidden(
            _("only the subject itself, real-name verified, sees who queried it (Art. 36)"),
            rule="self_verified",
        )
    _page_size(first)
    after_id = decode_cursor(after) if after else None
    async with pool.acquire() as conn:
        rows = await conn.fetch(QUERIES_OF_SUBJECT, principal.subject_key, after_id, first + 1)
    out = [
        QueryOfMe(
            id=r["id"],
            at=r["at"],
            org_code=r["org_code"],
            org_name=r["org_name"],
            purpose=r["purpose"],
            rights=tuple(sorted({d["basis"] for d in r["disclosed"] if "basis" in d})),
            outcome=r["outcome"],
        )
        for r in rows
    ]
    return page_of(out, first, lambda q: encode_cursor(q.id), after=after)
