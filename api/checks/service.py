"""The credit check (Art. 29): a state organ, before it grants a licence, awards a contract or
pays a subsidy, asks "this subject, in this scenario?" and gets the subject's list entries with
their standing, the joint measures that apply in that scenario (clause, legal basis,
originating department, implementing bodies) and the basis records it may see (the disclosure
rules apply; the rest is counted). A check is a lookup: read, decided and logged in one
transaction, the check row written there too. The organ then reports back which measures it
applied, or why not (奖惩结果反馈); the subject sees each use (Art. 36); the offices see the
figures and the checks whose feedback is overdue."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..disclosure.service import log_refusal, look_up, normalise_keys
from ..disclosure.views import RecordView, SubjectView
from ..errors import Forbidden, InvalidInput, NotFound
from ..i18n import _
from ..lists.service import EntryView, entries_for, today_in_china
from ..measures import repository as measures_repository
from ..measures.service import applicable
from ..pagination import Page, check_first, page_of, time_key_after, time_key_cursor
from . import repository

FEEDBACK_WORKING_DAYS = 10
USES_PAGE_MAX = 200  # creditUses: first is 1 to this
OFFICES = ("credit_office", "data_office", "auditor")


@dataclass
class CheckResult:
    id: str
    subject: SubjectView
    scenario: str
    entries: list[EntryView]
    measures: list[tuple[str, asyncpg.Record]]  # (entry id, measure) for entries in force
    basis: list[RecordView] = field(default_factory=list)
    basis_withheld: int = 0
    feedback_due: dt.date | None = None


async def credit_check(state, principal: Principal, request: RequestInfo, *, keys: list[str],
                       scenario: str, operation: str = "creditCheck") -> list[CheckResult | None]:
    d = state.disclosure
    keys = normalise_keys(keys, d.batch_max, d.legacy_uscc)
    if not principal.has("state_organ") or not principal.org_code:
        refusal = Forbidden(_("credit checks are for state organs in the duties of Art. 29"), rule="art29_state_organ")
        await log_refusal(d, principal, request, list(dict.fromkeys(keys)), scenario, operation, refusal)
        raise refusal
    results: dict[str, CheckResult] = {}

    async def within(conn: asyncpg.Connection, views: dict[str, SubjectView], now: dt.datetime) -> None:
        today = today_in_china(now)
        entries = await entries_for(conn, list(views), today, principal)
        measures = await measures_repository.listing(conn, scenario, None, today)
        due = state.calendar.add_working_days(today, FEEDBACK_WORKING_DAYS).due
        for key, view in views.items():
            in_force = [e for e in entries[key] if e.in_force]
            hits = [(e.id, m) for e in in_force for m in applicable(measures, e.kind, e.provider_org)]
            check_id = await repository.insert(
                conn, now, principal.org_code, principal.org_name, principal.user_id, scenario, key,
                [e.id for e in in_force], sorted({m["code"] for _, m in hits}), due)
            shown = {r.id: r for r in view.records}
            wanted = list(dict.fromkeys(b for e in in_force for b in e.basis_records))
            results[key] = CheckResult(
                id=check_id, subject=view, scenario=scenario, entries=entries[key], measures=hits,
                basis=[shown[b] for b in wanted if b in shown],
                basis_withheld=sum(1 for b in wanted if b not in shown), feedback_due=due)

    views = await look_up(d, principal, request, keys=keys, purpose=scenario, operation=operation, within=within)
    return [results.get(v.subject.key) if v is not None else None for v in views]


def _check_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(_("checkId is a check id (UUID)"), field="checkId", rule="uuid") from None


async def report_feedback(pool, principal: Principal, request: RequestInfo, *, check_id: str,
                          applied: list[dict[str, Any]]) -> asyncpg.Record:
    """奖惩结果反馈: for each measure the check returned, applied or not and why not."""
    cid = _check_id(check_id)
    async with transaction(pool) as conn:
        check = await repository.for_feedback(conn, cid)
        if check is None or check["org_code"] != principal.org_code or not principal.has("state_organ"):
            raise NotFound(_("no credit check of your organisation with this id"), field="checkId", rule="not_found")
        if check["feedback_at"] is not None:
            raise InvalidInput(_("this check already has its feedback"), field="checkId", rule="feedback_given")
        given: dict[str, dict[str, Any]] = {}
        for i, a in enumerate(applied):
            code, note = a.get("measure"), (a.get("note") or "").strip()
            if code not in check["measures"]:
                raise InvalidInput(_("applied[{i}]: measure {code} is not among this check's results", i=i, code=code), field=f"applied[{i}].measure", rule="unknown_measure")
            if code in given:
                raise InvalidInput(_("measure {code} is reported twice", code=code), field=f"applied[{i}].measure", rule="duplicate")
            if not a.get("applied") and not note:
                raise InvalidInput(_("measure {code} was not applied: give the reason", code=code), field=f"applied[{i}].note", rule="reason_required")
            if len(note) > 1000:
                raise InvalidInput(_("note is at most 1000 characters"), field=f"applied[{i}].note", rule="length")
            given[code] = {"measure": code, "applied": bool(a.get("applied")), "note": note or None}
        missing = [m for m in check["measures"] if m not in given]
        if missing:
            raise InvalidInput(_("measures still to report: {missing}", missing=', '.join(missing)), field="applied", rule="feedback_complete")
        now = await conn.fetchval("SELECT now()")
        await repository.feedback(conn, cid, now, principal.user_id, list(given.values()))
        await record_act(conn, principal, kind="credit_check", operation="check.feedback",
                         subject_key=check["subject_key"], request=request,
                         details={"check": check_id, "scenario": check["scenario"], "applied": list(given.values())})
        return await repository.for_feedback(conn, cid)


async def uses_of_me(
    pool, principal: Principal, *, first: int, after: str | None
) -> Page[asyncpg.Record]:
    """Art. 36: each check of the subject in a decision, with what the organ reported applying."""
    if not (principal.has("subject") and principal.real_name_verified and principal.subject_key):
        raise Forbidden(_("only the real-name verified subject itself may see this"), rule="self_verified")
    check_first(first, USES_PAGE_MAX)
    key, position = principal.subject_key, time_key_after(after, "check", uuid.UUID)
    async with pool.acquire() as conn:
        rows = await repository.of_subject(conn, key, position, first + 1)

    async def count() -> int:
        async with pool.acquire() as conn:
            return await repository.count_of_subject(conn, key)

    return page_of(rows, first, lambda r: time_key_cursor("check", r["at"], r["id"]),
                   after=after, count=count)


def _office(principal: Principal) -> None:
    if not set(OFFICES) & set(principal.roles):
        raise Forbidden(_("usage statistics of credit information are for the credit office, the data office and auditors"), rule="offices")


async def statistics(pool, principal: Principal, since: dt.date, until: dt.date, today: dt.date):
    _office(principal)
    if until < since or (until - since).days > 366:
        raise InvalidInput(_("the period is at most one year, with until not before since"), field="until", rule="period")
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=start.tzinfo)
    async with pool.acquire() as conn:
        return await repository.stats(conn, start, end, today)


async def overdue_feedback(pool, principal: Principal, today: dt.date) -> list[asyncpg.Record]:
    """Checks whose feedback is past due: the offices see all, a state organ its own."""
    org = None
    if not set(OFFICES) & set(principal.roles):
        if not principal.has("state_organ"):
            raise Forbidden(_("overdue checks are for the organisations and the offices"), rule="offices")
        org = principal.org_code
    async with pool.acquire() as conn:
        return await repository.overdue(conn, today, org)


async def joint_punishment_basis(state, principal: Principal, request: RequestInfo, *, key: str,
                                 purpose: str) -> list[RecordView]:
    """Art. 28: joint punishment rests on black-list entries in force, and on the records they
    rest on, among those disclosed to the caller: not on every dishonesty record."""
    basis: list[RecordView] = []

    async def within(conn, views, now):
        view = views.get(normalise_keys([key], 1, state.disclosure.legacy_uscc)[0])
        if view is None:
            return
        entries = (await entries_for(conn, [view.subject.key], today_in_china(now), principal))[view.subject.key]
        wanted = {b for e in entries if e.in_force and e.kind == "black" for b in e.basis_records}
        basis.extend(r for r in view.records if r.id in wanted)

    await look_up(state.disclosure, principal, request, keys=[key], purpose=purpose,
                  operation="jointPunishmentBasis", within=within)
    return basis
