"""Acts in the audit trail (Art. 33, 36, 41): collection, catalog publication, policy changes,
corrections, deletions, authorizations. Written in the acting transaction, kept long-term,
in the same trail as the query log."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from ..auth.principal import Principal, RequestInfo

INSERT_ACT = """
INSERT INTO query_log (request_id, user_id, user_name, org_code, org_name, roles, kind,
    operation, subject_key, outcome, details, client_addr, channel, retention)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'disclosed', $10, $11, $12, 'long_term')
"""

KINDS = frozenset(
    {"collection", "catalog", "policy", "correction", "deletion", "authorization", "objection",
     "repair", "subject_change", "purge", "calendar"}
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
    await conn.execute(
        INSERT_ACT,
        request.request_id if request else str(uuid.uuid4()),
        actor.user_id,
        actor.name,
        actor.org_code,
        actor.org_name,
        list(actor.roles),
        kind,
        operation,
        subject_key,
        details or {},
        request.client_addr if request else None,
        request.channel if request else "cli",
    )
