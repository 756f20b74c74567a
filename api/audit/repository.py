"""The query log (Art. 21, 22, 33, 41): written in the caller's transaction, read by auditors."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from ..auth.principal import Principal, RequestInfo
from .integrity import row_mac

INSERT_QUERY_LOG = """
INSERT INTO query_log (entry, at, request_id, user_id, user_name, org_code, org_name, roles,
    kind, operation, subject_key, purpose, outcome, reason, disclosed, withheld,
    authorization_ids, client_addr, channel, details, retention, mac)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
    $20, $21, $22)
"""
_INSERT_ORDER = (
    "entry", "at", "request_id", "user_id", "user_name", "org_code", "org_name", "roles", "kind",
    "operation", "subject_key", "purpose", "outcome", "reason", "disclosed", "withheld",
    "authorization_ids", "client_addr", "channel", "details", "retention",
)


@dataclass(frozen=True)
class LogEntry:
    """One subject looked up in one request."""

    operation: str
    subject_key: str
    purpose: str | None
    outcome: str  # disclosed | partial | refused | not_found
    reason: str | None = None
    disclosed: list[dict[str, Any]] | None = None
    withheld: dict[str, Any] | None = None
    authorization_ids: list[str] | None = None


def trail_row(
    principal: Principal,
    request: RequestInfo | None,
    at: dt.datetime,
    *,
    kind: str,
    operation: str,
    subject_key: str | None,
    outcome: str,
    purpose: str | None = None,
    reason: str | None = None,
    disclosed: list[dict[str, Any]] | None = None,
    withheld: dict[str, Any] | None = None,
    authorization_ids: list[str] | None = None,
    details: dict[str, Any] | None = None,
    retention: str | None = None,
) -> dict[str, Any]:
    """One row of the trail, as written and as its mac covers it."""
    return {
        "entry": uuid.uuid4(),
        "at": at,
        "request_id": uuid.UUID(request.request_id) if request else uuid.uuid4(),
        "user_id": principal.user_id,
        "user_name": principal.name,
        "org_code": principal.org_code,
        "org_name": principal.org_name,
        "roles": list(principal.roles),
        "kind": kind,
        "operation": operation,
        "subject_key": subject_key,
        "purpose": purpose,
        "outcome": outcome,
        "reason": reason,
        "disclosed": disclosed or [],
        "withheld": withheld or {},
        "authorization_ids": [uuid.UUID(a) for a in authorization_ids or ()],
        "client_addr": request.client_addr if request else None,
        "channel": request.channel if request else "cli",
        "details": _with_client_request_id(details, request),
        "retention": retention or principal.retention,
    }


def _with_client_request_id(
    details: dict[str, Any] | None, request: RequestInfo | None
) -> dict[str, Any] | None:
    """The client's own X-Request-Id is its claim, kept beside the server-made request_id."""
    claimed = request.client_request_id if request else None
    if claimed is None:
        return details
    return {**(details or {}), "client_request_id": claimed}


async def write_rows(conn: asyncpg.Connection, rows: list[dict[str, Any]]) -> None:
    """Sign and insert trail rows inside the caller's open transaction."""
    key = getattr(conn, "audit_key", b"")
    if not key:
        raise RuntimeError("this connection cannot sign audit rows (not from the platform's pool)")
    args = [(*(r[c] for c in _INSERT_ORDER), row_mac(key, r)) for r in rows]
    if len(args) == 1:
        await conn.execute(INSERT_QUERY_LOG, *args[0])
    elif args:
        await conn.executemany(INSERT_QUERY_LOG, args)


async def record_queries(
    conn: asyncpg.Connection,
    principal: Principal,
    request: RequestInfo,
    entries: list[LogEntry],
    *,
    at: dt.datetime,
) -> None:
    """Write the log rows inside the caller's open transaction; the caller's read commits only
    if these rows do."""
    await write_rows(
        conn,
        [
            trail_row(
                principal,
                request,
                at,
                kind="query",
                operation=e.operation,
                subject_key=e.subject_key,
                outcome=e.outcome,
                purpose=e.purpose,
                reason=e.reason,
                disclosed=e.disclosed,
                withheld=e.withheld,
                authorization_ids=e.authorization_ids,
            )
            for e in entries
        ],
    )


@dataclass(frozen=True)
class LogFilter:
    subject_key: str | None = None
    org_code: str | None = None
    user_id: str | None = None
    role: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    authorization_id: str | None = None
    kind: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def where(self, args: list[Any]) -> str:
        """SQL conditions for this filter, appending their values to `args`."""
        conds: list[str] = []

        def add(sql: str, value: Any) -> None:
            args.append(value)
            conds.append(sql.format(f"${len(args)}"))

        for column in ("subject_key", "org_code", "user_id", "purpose", "outcome", "kind"):
            value = getattr(self, column)
            if value:
                add(f"{column} = {{}}", value)
        if self.role:
            add("{} = ANY(roles)", self.role)
        if self.authorization_id:
            add("{}::uuid = ANY(authorization_ids)", self.authorization_id)
        if self.since:
            add("at >= {}", self.since)
        if self.until:
            add("at < {}", self.until)
        return " AND ".join(conds) or "true"


async def read_log(
    conn: asyncpg.Connection, f: LogFilter, *, first: int, after_id: int | None
) -> list[asyncpg.Record]:
    """Newest first, keyset-paginated on id."""
    args: list[Any] = []
    where = f.where(args)
    if after_id is not None:
        args.append(after_id)
        where += f" AND id < ${len(args)}"
    args.append(first)
    return await conn.fetch(
        f"SELECT * FROM query_log WHERE {where} ORDER BY id DESC LIMIT ${len(args)}", *args
    )


async def daily_totals(conn: asyncpg.Connection, f: LogFilter) -> list[asyncpg.Record]:
    """Lookups per organisation per day (China time), by outcome."""
    args: list[Any] = []
    where = f.where(args)
    return await conn.fetch(
        f"""SELECT (at AT TIME ZONE 'Asia/Shanghai')::date AS day, org_code,
                   max(org_name) AS org_name, count(*) AS total,
                   count(*) FILTER (WHERE outcome = 'disclosed') AS disclosed,
                   count(*) FILTER (WHERE outcome = 'partial') AS partial,
                   count(*) FILTER (WHERE outcome = 'refused') AS refused,
                   count(*) FILTER (WHERE outcome = 'not_found') AS not_found
            FROM query_log WHERE {where}
            GROUP BY 1, 2 ORDER BY 1 DESC, 2 NULLS FIRST""",
        *args,
    )


EXPORT_COLUMNS = (
    "id", "entry", "at", "kind", "request_id", "user_id", "user_name", "org_code", "org_name",
    "roles", "operation", "subject_key", "purpose", "outcome", "reason", "disclosed", "withheld",
    "authorization_ids", "client_addr", "channel", "details", "retention",
)


def export_cursor(conn: asyncpg.Connection, f: LogFilter, *, prefetch: int = 1000):
    """Rows oldest first, streamed from a server-side cursor (call inside a transaction)."""
    args: list[Any] = []
    where = f.where(args)
    return conn.cursor(
        f"SELECT {', '.join(EXPORT_COLUMNS)} FROM query_log WHERE {where} ORDER BY id",
        *args,
        prefetch=prefetch,
    )


QUERIES_OF_SUBJECT = """
SELECT id, at, org_code, org_name, purpose, outcome, disclosed, authorization_ids
FROM query_log
WHERE subject_key = $1 AND kind = 'query' AND ($2::bigint IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3
"""
