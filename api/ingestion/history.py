"""Art. 36: a subject knows where its records came from and why they changed; Art. 16: a
provider answers for its own. A record's versions (who, when, why) are read by the subject the
record is about (real-name verified, as for its own non-public data) and by the provider that
submitted it; for anyone else the record does not exist. Every read is logged like a query."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from ..audit.repository import LogEntry, record_queries
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..errors import NotFound

RECORD = """
SELECT id, subject_key, item_code, provider_org, source_ref, version, status
FROM records WHERE id = $1
"""
# the superseded versions, and the current one (the records row)
VERSIONS = """
SELECT version, subject_name, decided_on, data, consent_ref, catalog_year, reason, submitted_by,
       submitted_by_name, submitted_at, channel
FROM record_versions WHERE record_id = $1
UNION ALL
SELECT version, subject_name, decided_on, data, consent_ref, catalog_year, version_reason,
       coalesce(updated_by, submitted_by), version_by_name, coalesce(updated_at, submitted_at),
       coalesce(channel, 'legacy')
FROM records WHERE id = $1
ORDER BY version
"""


@dataclass(frozen=True)
class Version:
    version: int
    subject_name: str | None
    decided_on: dt.date
    data: dict[str, Any]
    consent_ref: str | None
    catalog_year: int | None
    reason: str | None
    submitted_by: str | None  # the provider's staff: shown to the provider, not to the subject
    submitted_by_name: str | None
    submitted_at: dt.datetime
    channel: str


@dataclass(frozen=True)
class RecordHistory:
    record_id: str
    subject_key: str
    item_code: str
    provider_org: str
    source_ref: str
    status: str
    versions: list[Version]


def may_read(principal: Principal, record: asyncpg.Record) -> str | None:
    """The basis on which the principal reads the history, or None."""
    if (
        principal.has("subject")
        and principal.subject_key == record["subject_key"]
        and principal.real_name_verified
    ):
        return "own_data"
    if principal.has("provider") and principal.org_code == record["provider_org"]:
        return "own_provision"
    return None


async def record_history(
    pool: asyncpg.Pool, principal: Principal, request: RequestInfo, record_id: str
) -> RecordHistory:
    try:
        rid = uuid.UUID(str(record_id))
    except ValueError:
        raise NotFound("no such record", field="id", rule="not_found") from None
    not_found = NotFound("no record with this id that you may read", field="id", rule="not_found")
    async with transaction(pool) as conn:
        now = await conn.fetchval("SELECT now()")
        record = await conn.fetchrow(RECORD, rid)
        basis = may_read(principal, record) if record is not None and record["status"] != "deleted" else None
        if basis is None:
            if record is not None:
                await record_queries(
                    conn, principal, request,
                    [LogEntry("recordHistory", record["subject_key"], None, "refused",
                              reason="FORBIDDEN: neither the subject nor the provider of the record")],
                    at=now,
                )
        else:
            versions = [Version(**dict(v)) for v in await conn.fetch(VERSIONS, rid)]
            if basis == "own_data":
                versions = [replace(v, submitted_by=None, submitted_by_name=None) for v in versions]
            fields = sorted({k for v in versions for k in v.data})
            await record_queries(
                conn, principal, request,
                [LogEntry(
                    "recordHistory", record["subject_key"], None, "disclosed",
                    disclosed=[{"record": str(rid), "item": record["item_code"], "fields": fields,
                                "versions": len(versions), "basis": basis}],
                )],
                at=now,
            )
    if basis is None:
        raise not_found
    return RecordHistory(
        record_id=str(rid),
        subject_key=record["subject_key"],
        item_code=record["item_code"],
        provider_org=record["provider_org"],
        source_ref=record["source_ref"],
        status=record["status"],
        versions=versions,
    )
