"""Cases as the API shows them, and what every workflow module shares: the environment (pool,
catalog, calendar, clock, offices), a record's catalog item, who did a step and which
organisation holds the next, reading cases. Filing one is filing.py."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from ..audit.repository import LogEntry, record_queries
from ..auth.principal import Principal, RequestInfo
from ..catalog import Catalog, CatalogItem
from ..db import transaction
from ..errors import Forbidden, InvalidInput, NotFound, PolicyUnavailable
from ..i18n import _
from ..pagination import Page, check_first
from ..workdays import WorkCalendar, china_date
from . import repository as repo
from .auth import may_see, require_case_reader, visibility_sql
from .deadlines import OverdueReport, overdue_report, pauses_of
from .offices import Offices
from .workflow import CLOSED, STEPS, Opened

MAX_PAGE = 100


@dataclass(frozen=True)
class Rights:
    """What the rights workflows need, taken from the app state once per request: the calendar
    in use then (a load replaces it) and the clock that says what day it is."""

    pool: asyncpg.Pool
    catalog: Catalog
    calendar: WorkCalendar
    clock: Callable[[], dt.datetime]
    offices: Offices

    def now(self) -> dt.datetime:
        return self.clock()

    def today(self) -> dt.date:
        return china_date(self.clock())


@dataclass(frozen=True)
class StepView:
    seq: int
    step: str
    actor_role: str
    actor_org: str | None
    actor_name: str | None  # staff names are not shown to the subject
    actor_id: str | None
    at: dt.datetime
    on: dt.date
    due_on: dt.date | None
    due_provisional: bool | None
    on_time: bool | None
    details: dict[str, Any]


@dataclass(frozen=True)
class CaseView:
    id: str
    number: str
    kind: str
    record_id: str | None  # None for an objection to a list entry
    subject_key: str
    item_code: str
    item_name: str | None
    category: str
    provider_org: str
    provider_name: str | None
    credit_office_org: str
    data_office_org: str
    ground: str | None
    statement: str | None
    evidence_refs: list[str]
    filed_at: dt.datetime
    received_on: dt.date
    stage: str
    stage_role: str | None
    stage_org: str | None
    stage_since: dt.date | None
    due_days: int | None
    due_on: dt.date | None
    due_provisional: bool
    due_basis: str | None
    pauses: tuple[tuple[dt.date, dt.date], ...]
    paused_since: dt.date | None
    pause_kind: str | None
    outcome: str | None
    outcome_note: str | None
    closed_at: dt.datetime | None
    closed_on: dt.date | None
    steps: list[StepView]
    entry_id: str | None = None  # the list entry an entry objection is about

    @property
    def open(self) -> bool:
        return self.stage != CLOSED


def parse_id(raw: str, what: str = "case") -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        message = _("no record with this id") if what == "record" else _("no case with this id")
        raise NotFound(message, field="id", rule="not_found") from None


def case_view(row: Any, steps: list[Any], principal: Principal) -> CaseView:
    own_subject = principal.has("subject") and principal.subject_key == row["subject_key"]
    staff = not own_subject or any(principal.has(r) for r in ("provider", "credit_office", "data_office"))
    views = [
        StepView(
            seq=s["seq"], step=s["step"], actor_role=s["actor_role"], actor_org=s["actor_org"],
            actor_name=s["actor_name"], actor_id=s["actor_id"], at=s["at"], on=s["on_date"],
            due_on=s["due_on"], due_provisional=s["due_provisional"], on_time=s["on_time"],
            details=s["details"] or {},
        )
        for s in steps
    ]
    if not staff:  # as for who queried it (Art. 36), the subject sees organisations, not staff
        views = [
            v if v.actor_role == "subject" else replace(v, actor_name=None, actor_id=None)
            for v in views
        ]
    return CaseView(
        id=str(row["id"]), number=row["number"], kind=row["kind"],
        record_id=str(row["record_id"]) if row["record_id"] else None,
        entry_id=str(row["entry_id"]) if row["entry_id"] else None,
        subject_key=row["subject_key"], item_code=row["item_code"], item_name=row["item_name"],
        category=row["category"], provider_org=row["provider_org"],
        provider_name=row["provider_name"], credit_office_org=row["credit_office_org"],
        data_office_org=row["data_office_org"], ground=row["ground"], statement=row["statement"],
        evidence_refs=list(row["evidence_refs"]), filed_at=row["filed_at"],
        received_on=row["received_on"], stage=row["stage"], stage_role=row["stage_role"],
        stage_org=row["stage_org"], stage_since=row["stage_since"], due_days=row["due_days"],
        due_on=row["due_on"], due_provisional=row["due_provisional"], due_basis=row["due_basis"],
        pauses=pauses_of(row["pauses"]), paused_since=row["paused_since"],
        pause_kind=row["pause_kind"], outcome=row["outcome"], outcome_note=row["outcome_note"],
        closed_at=row["closed_at"], closed_on=row["closed_on"], steps=views,
    )


async def item_of(env: Rights, record: Any, conn: asyncpg.Connection) -> CatalogItem:
    """The catalog item of a stored record; refuse rather than guess if it is not loaded."""
    item = await env.catalog.get(record["item_code"], conn)
    if item is None:
        raise PolicyUnavailable(_("catalog item {item_code} is not loaded", item_code=record['item_code']))
    return item


async def read_case(conn: asyncpg.Connection, principal: Principal, case_id: uuid.UUID) -> CaseView:
    row = await repo.get_case(conn, case_id)
    if row is None or not may_see(principal, row):
        raise NotFound(_("no case with this id that you may see"), field="id", rule="not_found")
    return case_view(row, await repo.steps_of(conn, [case_id]), principal)


async def get_case(
    env: Rights, principal: Principal, case_id: str, request: RequestInfo | None = None
) -> CaseView:
    cid = parse_id(case_id)
    async with transaction(env.pool) as conn:
        case = await read_case(conn, principal, cid)
        await log_case_reads(conn, principal, request, "rightsCase", [case])
        return case


async def log_case_reads(
    conn: asyncpg.Connection,
    principal: Principal,
    request: RequestInfo | None,
    operation: str,
    cases: list[CaseView],
) -> None:
    """A case holds the subject's statement, evidence and the steps on its record: reading it
    is a query of subject data, logged in the reading transaction like any other."""
    if not cases:
        return
    by_subject: dict[str, list[CaseView]] = {}
    for c in cases:
        by_subject.setdefault(c.subject_key, []).append(c)
    await record_queries(
        conn, principal, request or RequestInfo(str(uuid.uuid4()), None, "internal"),
        [
            LogEntry(operation, key, None, "disclosed", disclosed=[
                {"case": c.id, "item": c.item_code, "basis": "case",
                 **({"record": c.record_id} if c.record_id else {"entry": c.entry_id})}
                for c in group
            ])
            for key, group in by_subject.items()
        ],
        at=await conn.fetchval("SELECT now()"),
    )


def encode_cursor(case: CaseView) -> str:
    return base64.urlsafe_b64encode(f"{case.filed_at.isoformat()}|{case.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        at, cid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        filed_at = dt.datetime.fromisoformat(at)
        if filed_at.tzinfo is None:  # not ours: e.g. a list entry's day
            raise ValueError
        return filed_at, str(uuid.UUID(cid))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(_("after is not a cursor this API gave out"), field="after", rule="cursor") from None


async def list_cases(
    env: Rights, principal: Principal, *, kind: str | None = None, open_only: bool | None = None,
    first: int = 50, after: str | None = None, request: RequestInfo | None = None,
) -> Page[CaseView]:
    """The caller's visible cases, newest first; the cases shown (not the look-ahead row) are
    logged as read."""
    require_case_reader(principal)
    check_first(first, MAX_PAGE)
    where, args = visibility_sql(principal)
    async with transaction(env.pool) as conn:
        rows = await repo.visible_cases(
            conn, where, args, kind=kind, open_only=open_only, first=first + 1,
            after=_decode_cursor(after) if after else None,
        )
        shown = rows[:first]
        steps: dict[uuid.UUID, list] = {}
        for s in await repo.steps_of(conn, [r["id"] for r in shown]):
            steps.setdefault(s["case_id"], []).append(s)
        cases = [case_view(r, steps.get(r["id"], []), principal) for r in shown]
        await log_case_reads(conn, principal, request, "rightsCases", cases)
    return Page(cases, [encode_cursor(c) for c in cases], len(rows) > first, after is not None)


def actor_values(principal: Principal, role: str, env: Rights) -> dict[str, Any]:
    """Who did a step, and when (the clock's time and China day)."""
    now = env.now()
    return {
        "actor_id": principal.user_id,
        "actor_name": principal.name,
        "actor_org": principal.org_code,
        "actor_role": role,
        "at": now,
        "on_date": china_date(now),
    }


def stage_org(case: Any, opened: Opened) -> str | None:
    return {
        "provider": case["provider_org"],
        "credit_office": case["credit_office_org"],
        "data_office": case["data_office_org"],
    }.get(STEPS[opened.stage].role)


OVERDUE_READERS = ("credit_office", "data_office")


async def overdue_steps(env: Rights, principal: Principal, as_of: dt.date | None = None) -> OverdueReport:
    """Open steps past their due date (today by default), per role and organisation: the
    credit office chases them (the data office sees the objections' ones)."""
    if not any(principal.has(r) for r in OVERDUE_READERS):
        raise Forbidden(_("overdue steps are listed for the credit office and the data office"),
                        rule="overdue_reader")
    day = as_of or env.today()
    where, args = visibility_sql(principal)
    async with env.pool.acquire() as conn:
        rows = await repo.open_steps_due_before(conn, where, args, day)
    return overdue_report(env.calendar, day, rows)
