"""Acts in the audit trail (Art. 33, 36, 41): collection, catalog publication, policy changes,
corrections, deletions, authorizations. Written in the acting transaction, kept long-term,
in the same trail as the query log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from ..auth.principal import Principal, RequestInfo
from .repository import trail_row, write_rows

KINDS = frozenset(
    {"collection", "catalog", "policy", "correction", "deletion", "authorization", "objection",
     "repair", "subject_change", "purge", "calendar", "audit_read", "list", "measure",
     "credit_check"}
)


async def record_act(
    conn: asyncpg.Connection,
    actor: Principal,
    *,
    kind: str,
    operation: str,
    subject_key: str | None = None,
    details: dict[str, Any] | None = None,
    request: RequestInfo | None = None,
) -> None:
    """Write one act into the trail inside the caller's open transaction: the act and its
    trail row commit together or not at all."""
    if kind not in KINDS:
        raise ValueError(f"unknown act kind {kind!r}")
    row = trail_row(
        actor,
        request,
        dt.datetime.now(dt.UTC),
        kind=kind,
        operation=operation,
        subject_key=subject_key,
        outcome="recorded",
        details=details or {},
        retention="long_term",
    )
    await write_rows(conn, [row])
