"""submitRecords: a provider submits records of items the catalog assigns to it (Art. 13-14).
One transaction per batch: each record is stored or rejected, nothing is half-written."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ..auth.principal import Principal
from ..catalog import Catalog
from ..db import transaction
from ..disclosure.rules import CHINA_TIME
from ..errors import Forbidden, TooMany
from .validation import RecordInput, Rejection, ValidRecord, validate_record

UPSERT_SUBJECT = """
INSERT INTO subjects (key, key_type, subject_type, name) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO NOTHING
"""
SUBJECT_TYPE = "SELECT subject_type FROM subjects WHERE key = $1"
EXISTING = """
SELECT id, subject_key, item_code, decided_on, data FROM records
WHERE provider_org = $1 AND source_ref = $2
"""
INSERT_RECORD = """
INSERT INTO records (subject_key, item_code, provider_org, source_ref, decided_on, data,
    submitted_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (provider_org, source_ref) DO NOTHING
RETURNING id
"""


@dataclass(frozen=True)
class SubmitResult:
    index: int
    status: str  # created | unchanged | rejected
    record_id: str | None = None
    rejection: Rejection | None = None


async def submit_records(
    pool: asyncpg.Pool,
    catalog: Catalog,
    principal: Principal,
    records: list[RecordInput],
    *,
    max_records: int,
    legacy_uscc: frozenset[str] = frozenset(),
) -> list[SubmitResult]:
    if not principal.has("provider") or not principal.org_code:
        raise Forbidden("only a provider (信息提供单位) submits records", rule="provider_role")
    if len(records) > max_records:
        raise TooMany(
            f"submitRecords takes at most {max_records} records; use the bulk upload for more",
            field="records",
            rule="batch_size",
        )
    results: list[SubmitResult] = []
    async with transaction(pool) as conn:
        today = (await conn.fetchval("SELECT now()")).astimezone(CHINA_TIME).date()
        for i, rec in enumerate(records):
            item = await catalog.get(rec.item_code, conn)
            checked = validate_record(
                rec, item, principal.org_code, today, legacy_uscc=legacy_uscc
            )
            if isinstance(checked, Rejection):
                results.append(SubmitResult(i, "rejected", rejection=checked))
                continue
            results.append(await _store(conn, principal, i, checked))
    return results


async def _store(conn: asyncpg.Connection, principal: Principal, i: int, v: ValidRecord) -> SubmitResult:
    await conn.execute(UPSERT_SUBJECT, v.subject_key, v.key_type, v.subject_type, v.subject_name)
    stored_type = await conn.fetchval(SUBJECT_TYPE, v.subject_key)
    if stored_type != v.subject_type:
        return SubmitResult(
            i,
            "rejected",
            rejection=Rejection(
                "subjectType",
                "subject_type_known",
                f"the platform knows {v.subject_key} as a {stored_type}, not a {v.subject_type}",
            ),
        )
    record_id = await conn.fetchval(
        INSERT_RECORD,
        v.subject_key,
        v.item.code,
        principal.org_code,
        v.source_ref,
        v.decided_on,
        v.data,
        principal.user_id,
    )
    if record_id is not None:
        return SubmitResult(i, "created", record_id=str(record_id))
    # (provider, source reference) identifies a record: the same content again is "unchanged"
    existing = await conn.fetchrow(EXISTING, principal.org_code, v.source_ref)
    same = (
        existing["subject_key"] == v.subject_key
        and existing["item_code"] == v.item.code
        and existing["decided_on"] == v.decided_on
        and existing["data"] == v.data
    )
    if same:
        return SubmitResult(i, "unchanged", record_id=str(existing["id"]))
    return SubmitResult(
        i,
        "rejected",
        record_id=str(existing["id"]),
        rejection=Rejection(
            "sourceRef",
            "already_submitted",
            f"a different record with reference {v.source_ref} is already stored; a stored "
            "record is never overwritten (Art. 16)",
        ),
    )
