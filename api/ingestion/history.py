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
from ..auth.policy import Policy, RecordFacts
from ..auth.principal import Principal, RequestInfo
from ..catalog import Catalog
from ..db import transaction
from ..disclosure.masking import MaskSpec, mask_data, mask_name
from ..disclosure.rules import CHINA_TIME, record_state
from ..errors import NotFound
from ..i18n import _

RECORD = """
SELECT r.id, r.subject_key, r.item_code, r.provider_org, r.source_ref, r.version, r.status,
       r.decided_on, r.data, s.subject_type
FROM records r JOIN subjects s ON s.key = r.subject_key WHERE r.id = $1
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


# the relation a basis stands for in the policy, and the role that holds it
_RELATION = {"own_data": ("subject", "self_verified"), "own_provision": ("provider", "own_provider")}


def _policy_allows(
    policy: Policy, catalog: Catalog, basis: str, record: asyncpg.Record, today: dt.date
) -> tuple[bool, bool, MaskSpec]:
    """The policy decides, as for a lookup: may this relation see the record now, may it see
    identity numbers unmasked, and what the catalog tags as names and identity numbers."""
    item = catalog.current(record["item_code"])
    if item is None:
        return False, False, MaskSpec()
    role, rel = _RELATION[basis]
    state = record_state(record["status"], item, record["decided_on"], today, record["data"])
    allowed = policy.decide(RecordFacts(role, rel, item.disclosure, state, "none", "no")).allowed
    collected = catalog.item_for(record["item_code"], record["decided_on"])
    masked = item.mask_spec | (collected.mask_spec if collected else MaskSpec())
    return allowed, policy.may_unmask(role, rel), masked


async def record_history(
    pool: asyncpg.Pool,
    principal: Principal,
    request: RequestInfo,
    record_id: str,
    *,
    policy: Policy,
    catalog: Catalog,
) -> RecordHistory:
    try:
        rid = uuid.UUID(str(record_id))
    except ValueError:
        raise NotFound(_("no such record"), field="id", rule="not_found") from None
    not_found = NotFound(_("no record with this id that you may read"), field="id", rule="not_found")
    async with transaction(pool) as conn:
        now = await conn.fetchval("SELECT now()")
        record = await conn.fetchrow(RECORD, rid)
        basis = may_read(principal, record) if record is not None and record["status"] != "deleted" else None
        unmask, masked = False, MaskSpec()
        if basis is not None:
            allowed, unmask, masked = _policy_allows(
                policy, catalog, basis, record, now.astimezone(CHINA_TIME).date()
            )
            basis = basis if allowed else None
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
            if not unmask:
                person = record["subject_type"] == "natural_person"
                versions = [
                    replace(
                        v,
                        data=mask_data(v.data, masked, natural_person=person,
                                       subject_name=v.subject_name,
                                       today=now.astimezone(CHINA_TIME).date()),
                        subject_name=mask_name(v.subject_name) if person and v.subject_name else v.subject_name,
                    )
                    for v in versions
                ]
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
