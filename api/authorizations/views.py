"""Reading authorizations: the subject's own with every use, the grantee's own (paginated, with
why pending), and the summary of uses sent to the subject."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ..audit.repository import LogEntry, record_queries
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..disclosure.rules import CHINA_TIME
from ..errors import Forbidden, InvalidInput
from ..i18n import N_, _
from ..pagination import Page
from ..wording import wording
from . import repository
from .common import pending_reason, tell_subject

MAX_PAGE = 100
MAX_OWN = 200
USES_PER_AUTHORIZATION = 100


@dataclass(frozen=True)
class Use:
    at: dt.datetime
    org_code: str | None
    org_name: str | None
    purpose: str | None
    operation: str
    records: list[dict[str, Any]]  # [{record, item}] disclosed under this authorization


@dataclass
class AuthorizationView:
    row: asyncpg.Record
    uses: list[Use] = field(default_factory=list)
    dispute: asyncpg.Record | None = None

    @property
    def pending_reason(self) -> str | None:
        return pending_reason(self.row)


def _records_of(disclosed: Any) -> list[dict[str, Any]]:
    items = json.loads(disclosed) if isinstance(disclosed, str) else (disclosed or [])
    return [{"record": d.get("record"), "item": d.get("item")} for d in items
            if d.get("basis") == "authorization"]


async def of_subject(pool: asyncpg.Pool, principal: Principal) -> list[AuthorizationView]:
    """Every authorization naming the subject, newest first, with each use (Art. 19, 36)."""
    if not (principal.has("subject") and principal.subject_key and principal.real_name_verified):
        raise Forbidden(_("complete real-name verification before viewing authorizations (Art. 19)"), rule="self_verified")
    key = principal.subject_key
    async with transaction(pool) as conn:
        rows = await repository.of_subject(conn, key, MAX_OWN)
        views = {r["id"]: AuthorizationView(r) for r in rows}
        if views:
            for q in await repository.uses(conn, key, list(views), USES_PER_AUTHORIZATION * len(views)):
                for aid in q["authorization_ids"]:
                    v = views.get(aid)
                    if v is not None and len(v.uses) < USES_PER_AUTHORIZATION:
                        v.uses.append(Use(q["at"], q["org_code"], q["org_name"], q["purpose"],
                                          q["operation"], _records_of(q["disclosed"])))
            for d in await conn.fetch(
                "SELECT * FROM authorization_disputes WHERE authorization_id = ANY($1::uuid[]) "
                "ORDER BY opened_at", list(views)):
                views[d["authorization_id"]].dispute = d
    return list(views.values())


def _cursor(row: asyncpg.Record) -> str:
    return base64.urlsafe_b64encode(f"az:{row['granted_at'].isoformat()}|{row['id']}".encode()).decode()


def _after(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if not cursor:
        return None
    try:
        kind, _sep, rest = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        at, _sep, aid = rest.partition("|")
        if kind != "az":
            raise ValueError
        return dt.datetime.fromisoformat(at), str(uuid.UUID(aid))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(_("after is not a cursor this API gave out"), field="after",
                           rule="cursor") from None


async def of_grantee(
    pool: asyncpg.Pool, principal: Principal, request: RequestInfo, *, first: int,
    after: str | None, state: str | None,
) -> Page[AuthorizationView]:
    """The caller organisation's own authorizations, newest first. The page names subjects, so
    reading it is logged per subject like a query."""
    if not (principal.org_code and (principal.has("credit_service") or principal.has("state_organ"))):
        raise Forbidden(_("only grantee organisations list their authorizations"), rule="grantee_role")
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(_("first is 1 to {max_page}", max_page=MAX_PAGE), field="first", rule="range")
    position = _after(after)
    async with transaction(pool) as conn:
        rows = await repository.grantee_page(conn, principal.org_code, state, position, first + 1)
        page = rows[:first]
        by_subject: dict[str, list[str]] = {}
        for r in page:
            by_subject.setdefault(r["subject_key"], []).append(str(r["id"]))
        if by_subject:
            await record_queries(
                conn, principal, request,
                [LogEntry("grantedAuthorizations", key, None, "disclosed",
                          disclosed=[{"authorization": a, "basis": "own_registration"} for a in ids])
                 for key, ids in by_subject.items()],
                at=await conn.fetchval("SELECT now()"))
    return Page([AuthorizationView(r) for r in page], [_cursor(r) for r in page], len(rows) > first,
                after is not None)


async def send_use_summaries(pool: asyncpg.Pool, *, limit: int = 1000) -> int:
    """Tell each subject of the uses of its authorizations since the last summary (one
    notification per authorization used). For a daily cron: `credit authorizations
    use-summary`. Returns how many notifications were written."""
    sent = 0
    async with transaction(pool) as conn:
        rows = await conn.fetch(
            "SELECT a.*, u.n, u.last_id, u.first_at, u.last_at FROM authorizations a "
            "JOIN LATERAL (SELECT count(*) AS n, max(q.id) AS last_id, min(q.at) AS first_at, "
            "max(q.at) AS last_at FROM query_log q WHERE q.subject_key = a.subject_key "
            "AND q.kind = 'query' AND q.operation NOT LIKE 'authorization.%' "
            "AND q.id > a.uses_notified_until AND a.id = ANY (q.authorization_ids)) u ON u.n > 0 "
            "WHERE a.effective_at IS NOT NULL ORDER BY a.id LIMIT $1 FOR UPDATE OF a", limit)
        for r in rows:
            await tell_subject(
                conn, r, "authorization_used", wording(
                    N_("Organisation {org} queried your information {n} times on your authorization "
                       "(purpose {purpose}) ({first} to {last})"), org=r["grantee_org"], n=r["n"],
                    purpose=r["purpose"], first=f"{r['first_at'].astimezone(CHINA_TIME):%Y-%m-%d %H:%M}",
                    last=f"{r['last_at'].astimezone(CHINA_TIME):%Y-%m-%d %H:%M}"),  # Beijing time
                uses=r["n"], first_at=r["first_at"].isoformat(), last_at=r["last_at"].isoformat())
            await conn.execute("UPDATE authorizations SET uses_notified_until = $2 WHERE id = $1",
                               r["id"], r["last_id"])
            sent += 1
    return sent
