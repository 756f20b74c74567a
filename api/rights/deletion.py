"""Deleting a record: Art. 38 ¶4 (the provider confirms its truth cannot be verified) and Art. 40
(the subject asks to delete its own commendation, volunteer-service or charitable-donation
records). The data goes from every view at once, versions included; a tombstone remains for the
audit trail: what kind of record, when, at whose request."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from ..audit.repository import LogEntry, record_queries
from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..errors import Forbidden, InvalidInput
from ..i18n import N_, _
from ..identifiers import IdentifierError, parse_subject_key
from ..wording import wording
from . import repository as repo
from .auth import require_verified_subject
from .cases import Rights, item_of, parse_id
from .errors import CaseOpen, NotEligible
from .filing import own_record_for_update
from .notice_words import record_of
from .notifications import Notice, send

# Art. 40: 表彰奖励、志愿服务和慈善捐赠 — as catalog categories.
DELETABLE_ON_REQUEST = ("commendation", "volunteer", "donation")
TOMBSTONE_READERS = ("credit_office", "data_office", "auditor")


@dataclass(frozen=True)
class Tombstone:
    record_id: str
    subject_key: str
    item_code: str
    category: str
    provider_org: str
    basis: str  # art38_unverifiable | art40_request
    case_number: str | None
    requested_by: str
    requested_by_name: str | None
    decided_by_role: str
    decided_by_org: str | None
    deleted_at: dt.datetime
    deleted_on: dt.date
    versions_wiped: int


def _tombstone(r: Any) -> Tombstone:
    return Tombstone(
        record_id=str(r["record_id"]), subject_key=r["subject_key"], item_code=r["item_code"],
        category=r["category"], provider_org=r["provider_org"], basis=r["basis"],
        case_number=r["case_number"], requested_by=r["requested_by"],
        requested_by_name=r["requested_by_name"], decided_by_role=r["decided_by_role"],
        decided_by_org=r["decided_by_org"], deleted_at=r["deleted_at"], deleted_on=r["deleted_on"],
        versions_wiped=r["versions_wiped"],
    )


async def delete_record(
    conn: asyncpg.Connection, env: Rights, actor: Principal, request: RequestInfo | None,
    record: Any, *, basis: str, case_id: uuid.UUID | None, requested_by: tuple[str, str | None],
) -> int:
    """Wipe the record and its versions, leave its tombstone, and record the act (kind
    'deletion', long-term), in the caller's transaction. Returns the versions wiped."""
    now = env.now()
    item = await item_of(env, record, conn)
    wiped = await repo.wipe_record(conn, record["id"], now, actor.user_id)
    role = "subject" if basis == "art40_request" else "provider"
    await repo.insert_tombstone(conn, {
        "record_id": record["id"], "subject_key": record["subject_key"],
        "item_code": record["item_code"], "category": item.category,
        "provider_org": record["provider_org"], "basis": basis, "case_id": case_id,
        "requested_by": requested_by[0], "requested_by_name": requested_by[1],
        "decided_by": actor.user_id or "unknown", "decided_by_name": actor.name,
        "decided_by_org": actor.org_code, "decided_by_role": role,
        "deleted_at": now, "deleted_on": env.today(), "versions_wiped": wiped,
    })
    await record_act(
        conn, actor, kind="deletion", operation=f"record.delete.{basis}",
        subject_key=record["subject_key"],
        details={"record": str(record["id"]), "item": record["item_code"], "category": item.category,
                 "provider": record["provider_org"], "basis": basis,
                 "case_id": str(case_id) if case_id else None, "requested_by": requested_by[0],
                 "versions_wiped": wiped},
        request=request,
    )
    return wiped


async def request_deletion(
    env: Rights, principal: Principal, request: RequestInfo | None, record_id: str
) -> Tombstone:
    """Art. 40: the subject's own commendation, volunteer-service or charitable-donation record
    is deleted at once. Any other category is refused, and nothing changes."""
    subject_key = require_verified_subject(principal)
    rid = parse_id(record_id, "record")
    async with transaction(env.pool) as conn:
        record = await own_record_for_update(conn, subject_key, rid)
        item = await item_of(env, record, conn)
        if item.category not in DELETABLE_ON_REQUEST:
            raise NotEligible(
                _("Art. 40 deletes commendation, volunteer-service and charitable-donation records only; this is a {category} record ({name}). To dispute it, file an objection (Art. 37); a dishonesty record can be repaired by its provider (Art. 39).", category=item.category, name=item.name),
                field="recordId", rule="art40_categories",
            )
        number = await repo.open_case_on_record(conn, rid)
        if number is not None:
            raise CaseOpen(_("case {number} about this record is open; it must end first", number=number),
                           field="recordId", rule="one_open_case")
        await delete_record(
            conn, env, principal, request, record, basis="art40_request", case_id=None,
            requested_by=(principal.user_id or subject_key, principal.name),
        )
        await send(
            conn,
            [Notice("provider", record["provider_org"], "deletion.done", wording(
                N_("Your record {record} was deleted at the subject's request (Art. 40); it is not "
                   "collected again under the same reference."),
                record=record_of(item.name, subject_key)))],
            at=env.now(), record_id=rid,
        )
        found = await repo.tombstone(conn, rid)
    return _tombstone(found)


async def tombstones(
    env: Rights, principal: Principal, request: RequestInfo, subject_key: str | None
) -> list[Tombstone]:
    """The tombstones of a subject's deleted records: for the subject itself (verified), the
    offices and auditors. They tell what kind of record went, when and at whose request; no
    content. A read by anyone but the subject is logged like a query."""
    if principal.has("subject") and (subject_key is None or subject_key == principal.subject_key):
        key = require_verified_subject(principal)
    elif any(principal.has(r) for r in TOMBSTONE_READERS):
        if not subject_key:
            raise InvalidInput(_("name the subject"), field="subjectKey", rule="required")
        try:
            key = parse_subject_key(subject_key).value
        except IdentifierError as e:
            raise InvalidInput(_("subjectKey: {e}", e=e), field="subjectKey", rule=e.rule) from None
    else:
        raise Forbidden(
            _("tombstones are read by the subject itself, the offices and auditors"), rule="tombstone_reader"
        )
    async with transaction(env.pool) as conn:
        found = [_tombstone(r) for r in await repo.tombstones_of_subject(conn, key)]
        if key != principal.subject_key:
            await record_queries(
                conn, principal, request,
                [LogEntry("tombstones", key, None, "disclosed",
                          disclosed=[{"tombstone": t.record_id, "item": t.item_code,
                                      "basis": "tombstone"} for t in found])],
                at=await conn.fetchval("SELECT now()"),
            )
    return found
