"""The query log (Art. 21, 22, 33, 41): written in the caller's transaction, read by auditors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from ..auth.principal import Principal, RequestInfo

INSERT_QUERY_LOG = """
INSERT INTO query_log (request_id, user_id, user_name, org_code, org_name, roles, operation,
    subject_key, purpose, outcome, reason, disclosed, withheld, authorization_ids, client_addr,
    channel, retention)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
"""


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


def _args(principal: Principal, request: RequestInfo, e: LogEntry) -> tuple[Any, ...]:
    return (
        request.request_id,
        principal.user_id,
        principal.name,
        principal.org_code,
        principal.org_name,
        list(principal.roles),
        e.operation,
        e.subject_key,
        e.purpose,
        e.outcome,
        e.reason,
        e.disclosed or [],
        e.withheld or {},
        e.authorization_ids or [],
        request.client_addr,
        request.channel,
        principal.retention,
    )


async def record_queries(
    conn: asyncpg.Connection, principal: Principal, request: RequestInfo, entries: list[LogEntry]
) -> None:
    """Write the log rows inside the caller's open transaction; the caller's read commits only
    if these rows do."""
    if len(entries) == 1:
        await conn.execute(INSERT_QUERY_LOG, *_args(principal, request, entries[0]))
    elif entries:
        await conn.executemany(INSERT_QUERY_LOG, [_args(principal, request, e) for e in entries])


@dataclass(frozen=True)
class LogFilter:
    subject_key: str | None = None
    org_code: str | None = None
    user_id: str | None = None
    role: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    authorization_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


async def read_log(
    conn: asyncpg.Connection, f: LogFilter, *, first: int, after_id: int | None
) -> list[asyncpg.Record]:
    """Newest first, keyset-paginated on id."""
    where, args = [], []

    def add(sql: str, value: Any) -> None:
        args.append(value)
        where.append(sql.format(f"${len(args)}"))

    if f.subject_key:
        add("subject_key = {}", f.subject_key)
    if f.org_code:
        add("org_code = {}", f.org_code)
    if f.user_id:
        add("user_id = {}", f.user_id)
    if f.role:
        add("{} = ANY(roles)", f.role)
    if f.purpose:
        add("purpose = {}", f.purpose)
    if f.outcome:
        add("outcome = {}", f.outcome)
    if f.authorization_id:
        add("{}::uuid = ANY(authorization_ids)", f.authorization_id)
    if f.since:
        add("at >= {}", f.since)
    if f.until:
        add("at < {}", f.until)
    if after_id is not None:
        add("id < {}", after_id)
    args.append(first)
    sql = (
        "SELECT * FROM query_log"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY id DESC LIMIT ${len(args)}"
    )
    return await conn.fetch(sql, *args)
