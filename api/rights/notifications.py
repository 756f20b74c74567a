"""The notifications outbox: what a step must tell someone (the subject, a provider, an office)
is written in the step's transaction; portals read their own through the API and mark them
read. Nothing is e-mailed from here.

A notification is addressed to a role and a party: the subject by its key (read with its own
token, real-name verified), an organisation by its code in the role it plays (read by staff of
that organisation holding that role)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from ..audit.repository import LogEntry, record_queries
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..errors import Forbidden, InvalidInput
from ..i18n import _
from ..pagination import Page, check_first, decode_cursor, encode_cursor, not_a_cursor
from ..wording import Wording

log = logging.getLogger("credit.rights")
MAX_PAGE = 200
RECIPIENT_ROLES = ("subject", "provider", "credit_office", "data_office")

INSERT = """
INSERT INTO rights_notifications (created_at, recipient_role, recipient, topic, message, case_id,
    record_id, details, message_parts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9::text::jsonb)
"""
# The addresses a principal reads: pairs of (role, party) as two parallel arrays.
SELECT_MINE = """
SELECT n.id, n.created_at, n.recipient_role, n.recipient, n.topic, n.message,
       n.message_parts::text AS message_parts,  -- parsed in _message, where a bad one is caught
       n.case_id,
       c.number AS case_number, n.record_id, n.details, n.read_at,
       coalesce(c.subject_key, r.subject_key,
                CASE WHEN n.recipient_role = 'subject' THEN n.recipient END) AS subject_key
FROM rights_notifications n
JOIN unnest($1::text[], $2::text[]) AS a (role, party)
  ON n.recipient_role = a.role AND n.recipient = a.party
LEFT JOIN rights_cases c ON c.id = n.case_id
LEFT JOIN records r ON r.id = n.record_id
WHERE ($3::boolean IS NOT TRUE OR n.read_at IS NULL) AND ($4::bigint IS NULL OR n.id < $4)
ORDER BY n.id DESC LIMIT $5
"""
COUNT_MINE = """
SELECT count(*) FROM rights_notifications n
JOIN unnest($1::text[], $2::text[]) AS a (role, party)
  ON n.recipient_role = a.role AND n.recipient = a.party
WHERE ($3::boolean IS NOT TRUE OR n.read_at IS NULL)
"""
MARK_READ = """
UPDATE rights_notifications n SET read_at = $3, read_by = $4
FROM unnest($1::text[], $2::text[]) AS a (role, party)
WHERE n.recipient_role = a.role AND n.recipient = a.party AND n.id = ANY($5::bigint[])
  AND n.read_at IS NULL
"""


@dataclass(frozen=True)
class Notice:
    """One notification to write."""

    role: str  # subject | provider | credit_office | data_office
    recipient: str  # subject key or organisation code
    topic: str
    message: Wording  # read in the reader's language; the English text is kept beside it
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class Notification:
    id: int
    created_at: dt.datetime
    recipient_role: str
    recipient: str
    topic: str
    message: str
    case_id: str | None
    case_number: str | None
    record_id: str | None
    details: dict[str, Any]
    read_at: dt.datetime | None


async def send(
    conn: asyncpg.Connection, notices: list[Notice], *, at: dt.datetime,
    case_id: uuid.UUID | None = None, record_id: uuid.UUID | None = None,
) -> None:
    """Write notifications in the caller's transaction: they exist if and only if the step does."""
    if notices:
        await conn.executemany(
            INSERT,
            [
                (at, n.role, n.recipient, n.topic, n.message.english(), case_id, record_id,
                 json.dumps(n.details or {}, ensure_ascii=False, default=str),
                 json.dumps(n.message.dump(), ensure_ascii=False))
                for n in notices
            ],
        )


def addresses(principal: Principal) -> list[tuple[str, str]]:
    """Where the principal's notifications are addressed."""
    out: list[tuple[str, str]] = []
    if principal.has("subject") and principal.subject_key and principal.real_name_verified:
        out.append(("subject", principal.subject_key))
    if principal.org_code:
        out.extend((role, principal.org_code) for role in RECIPIENT_ROLES[1:] if principal.has(role))
    return out


def _addresses_or_refuse(principal: Principal) -> tuple[list[str], list[str]]:
    found = addresses(principal)
    if not found:
        raise Forbidden(
            _("notifications are for the subject (real-name verified), providers and the offices"),
            rule="notification_recipient",
        )
    return [r for r, _ in found], [p for _, p in found]


async def my_notifications(
    pool: asyncpg.Pool, principal: Principal, *, unread_only: bool, first: int,
    after: str | None = None, before: int | None = None, request: RequestInfo | None = None,
) -> Page[Notification]:
    """The caller's own notifications, newest first, after the cursor `after` (or, for the
    deprecated shape, before the notification id `before`). They name subjects and their
    records, so reading them is logged like a query, per subject, in the reading transaction:
    the subject of the case, else of the record (the Art. 40 deletion notice has no case), else
    the subject the notice is addressed to. Only the notifications shown are logged."""
    check_first(first, MAX_PAGE)
    if before is not None and before < 1:
        raise InvalidInput(_("before is the id of a notification"), field="before", rule="id")
    if after is not None:
        (position,) = decode_cursor(after, "notification", 1)
        before = _notification_id(position)
    roles, parties = _addresses_or_refuse(principal)
    async with transaction(pool) as conn:
        rows = await conn.fetch(SELECT_MINE, roles, parties, unread_only, before, first + 1)
        shown = rows[:first]
        by_subject: dict[str, list[dict[str, Any]]] = {}
        for r in shown:
            key = r["subject_key"]
            if key:
                by_subject.setdefault(key, []).append(
                    {"notification": r["id"], "case": str(r["case_id"]) if r["case_id"] else None,
                     "record": str(r["record_id"]) if r["record_id"] else None,
                     "basis": "case" if r["case_id"] else "notification"})
        if by_subject:
            await record_queries(
                conn, principal, request or RequestInfo(str(uuid.uuid4()), None, "internal"),
                [LogEntry("notifications", key, None, "disclosed", disclosed=items)
                 for key, items in by_subject.items()],
                at=await conn.fetchval("SELECT now()"),
            )
    found = [
        Notification(
            id=r["id"], created_at=r["created_at"], recipient_role=r["recipient_role"],
            recipient=r["recipient"], topic=r["topic"], message=_message(r),
            case_id=str(r["case_id"]) if r["case_id"] else None, case_number=r["case_number"],
            record_id=str(r["record_id"]) if r["record_id"] else None,
            details=json.loads(r["details"]) if isinstance(r["details"], str) else r["details"],
            read_at=r["read_at"],
        )
        for r in shown
    ]

    async def count() -> int:
        async with pool.acquire() as conn:
            return await conn.fetchval(COUNT_MINE, roles, parties, unread_only)

    return Page(found, [encode_cursor("notification", n.id) for n in found], len(rows) > first,
                after is not None or before is not None, count)


def _message(row: Any) -> str:
    """The message in the reader's language; the stored English text for a notification written
    before messages were kept as parts, or one whose parts this version does not know."""
    parts = row["message_parts"]
    if parts is None:
        return row["message"]
    try:
        return Wording.load(json.loads(parts) if isinstance(parts, str) else parts).render()
    except Exception as e:
        log.warning("notification %s: stored wording not shown (%s); its English text is", row["id"], e)
        return row["message"]


def _notification_id(position: str) -> int:
    try:
        return int(position)
    except ValueError:
        raise not_a_cursor() from None


async def mark_read(pool: asyncpg.Pool, principal: Principal, ids: list[int], at: dt.datetime) -> int:
    """Mark the caller's own notifications read; others' ids are ignored. Returns how many."""
    if len(ids) > MAX_PAGE:
        raise InvalidInput(_("at most {max_page} ids at once", max_page=MAX_PAGE), field="ids", rule="range")
    roles, parties = _addresses_or_refuse(principal)
    async with transaction(pool) as conn:
        status = await conn.execute(MARK_READ, roles, parties, at, principal.user_id, ids)
    return int(status.split()[-1])
