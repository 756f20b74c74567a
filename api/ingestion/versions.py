"""A new version of one stored record outside a submission, e.g. the data office's correction
after an objection (Art. 38 ¶2). Same rules as collection: the content is checked against the
catalog in force for the decision date by the one validator, a reason is required, and the
version replaced is kept as it was (Art. 16, 36). Runs in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import asyncpg

from ..auth.principal import Principal
from ..catalog import Catalog, china_today
from ..errors import InvalidInput, NotFound
from ..i18n import _
from .record import RecordInput, Rejection
from .validation import Validator

RECORD_FOR_UPDATE = """
SELECT r.id, r.subject_key, r.subject_name, r.item_code, r.provider_org, r.source_ref,
       r.decided_on, r.data, r.consent_ref, r.version, r.status, s.subject_type, s.key_type, s.name
FROM records r JOIN subjects s ON s.key = r.subject_key
WHERE r.id = $1
FOR UPDATE OF r
"""
NEW_VERSION = """
WITH superseded AS (
    INSERT INTO record_versions (record_id, version, subject_key, subject_name, item_code,
        decided_on, data, consent_ref, catalog_year, reason, submitted_by, submitted_by_name,
        submitted_at, channel)
    SELECT id, version, subject_key, subject_name, item_code, decided_on, data, consent_ref,
        catalog_year, version_reason, coalesce(updated_by, submitted_by), version_by_name,
        coalesce(updated_at, submitted_at), coalesce(channel, 'legacy')
    FROM records WHERE id = $1 AND version = $2
)
UPDATE records
SET data = $3::text::jsonb, decided_on = $4, catalog_year = $5, version = version + 1,
    version_reason = $6, version_by_name = $7, channel = $8, updated_by = $9, updated_at = now()
WHERE id = $1 AND version = $2
RETURNING version
"""


async def store_version(
    conn: asyncpg.Connection,
    catalog: Catalog,
    principal: Principal,
    record_id: str | uuid.UUID,
    *,
    data: dict[str, Any],
    reason: str,
    decided_on: dt.date | None = None,
    channel: str = "correction",
    today: dt.date | None = None,
) -> int:
    """Make `data` (and `decided_on`, if given) the record's new version; returns its number.
    Raises InvalidInput naming the field and rule the new content breaks."""
    if not (reason or "").strip():
        raise InvalidInput(_("a new version needs its reason (Art. 16)"), field="reason", rule="required")
    row = await conn.fetchrow(RECORD_FOR_UPDATE, uuid.UUID(str(record_id)))
    if row is None or row["status"] == "deleted":
        raise NotFound(_("no such record"), field="recordId", rule="not_found")
    checked = Validator(catalog, row["provider_org"], today or china_today()).validate(
        RecordInput(
            subject_key=row["subject_key"], subject_type=row["subject_type"],
            subject_name=row["subject_name"] or row["name"], item_code=row["item_code"],
            source_ref=row["source_ref"], decided_on=decided_on or row["decided_on"], data=data,
            document_type=row["key_type"] if row["key_type"] not in ("uscc", "resident_id") else None,
            consent_ref=row["consent_ref"], change_reason=reason,
        )
    )
    if isinstance(checked, Rejection):
        raise InvalidInput(checked.message, field=checked.field, rule=checked.rule)
    dropped = severity_dropped(checked.item, row["data"], data)
    if dropped is not None:
        raise InvalidInput(dropped.message, field=dropped.field, rule=dropped.rule)
    version = await conn.fetchval(
        NEW_VERSION, row["id"], row["version"], checked.data_json, checked.decided_on,
        checked.item.year, checked.change_reason, principal.name, channel, principal.user_id,
    )
    if version is None:  # cannot happen under the row lock; refuse rather than guess
        raise InvalidInput(_("the record changed meanwhile; try again"), field="recordId", rule="conflict")
    return version


def severity_dropped(item, old_data: Any, new_data: Any) -> Rejection | None:
    """A penalty that states its severity keeps stating one: a version without it would fall
    back to the item's fixed publicity period and repair at once (api/publicity.py), so leaving
    the field out would shorten a serious penalty's wait for repair or lengthen a minor one's
    publicity. Another severity is a correction like any other."""
    policy = item.severity
    if policy is None:
        return None
    old = json.loads(old_data) if isinstance(old_data, str) else old_data
    new = json.loads(new_data) if isinstance(new_data, str) else new_data
    if policy.severity_of(old) is None or policy.severity_of(new) is not None:
        return None
    return Rejection(
        f"data.{policy.field}", "severity_kept",
        _("{name}: the record states its severity; a new version states one too (its public "
          "period and the wait for repair follow it)", name=policy.field))
