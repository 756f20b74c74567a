"""Taking a step of a case (Art. 38, 39): the role the article names does it, in order; the step
is recorded with who, when and what, the next step opens with its due date in working days,
the record changes as the step says (corrected, deleted, repaired, no longer disputed), those
who must be told are notified, and the act goes into the audit trail: all in one transaction.
A step refused (wrong role, out of order, bad input) changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..errors import InvalidInput, NotFound
from ..i18n import N_, _
from ..lists import repository as lists_repository
from ..wording import wording
from ..workdays import china_date
from . import repository as repo
from .auth import may_see
from .cases import CaseView, Rights, actor_values, parse_id, read_case, stage_org
from .correction import store_correction
from .deadlines import due, pauses_json, pauses_of
from .deletion import delete_record
from .notice_words import RESULT_WORDS, coded, due_words, record_of
from .notifications import Notice, send
from .workflow import (
    COURT_NOTICE,
    PAUSE_KINDS,
    Advance,
    CaseFacts,
    advance,
    check_actor,
)

MAX_NOTE = 4000


def facts_of(row: Any) -> CaseFacts:
    return CaseFacts(
        number=row["number"], kind=row["kind"], stage=row["stage"], stage_since=row["stage_since"],
        subject_key=row["subject_key"], provider_org=row["provider_org"],
        credit_office_org=row["credit_office_org"], data_office_org=row["data_office_org"],
        paused_since=row["paused_since"], pauses=pauses_of(row["pauses"]), outcome=row["outcome"],
        due_on=row["due_on"],
    )


def _text(value: str | None, field: str, *, required: bool, what: str) -> str | None:
    value = (value or "").strip() or None
    if value is None and required:
        raise InvalidInput(_("{what} is required", what=_(what)), field=field, rule="required")
    if value is not None and len(value) > MAX_NOTE:
        raise InvalidInput(_("{what} is at most {max} characters", what=_(what), max=MAX_NOTE), field=field, rule="length")
    return value


def _check_input(action: str, result: str | None, note: str | None, data: Any, reason: str | None):
    """What each step must carry. Checked before anything is written."""
    if action == "correct":
        if not isinstance(data, dict) or not data:
            raise InvalidInput(_("the corrected record's data is a non-empty object"), field="data", rule="required")
        return _text(note, "note", required=False, what=N_("the note")), _text(
            reason, "reason", required=True, what=N_("the reason for the correction (Art. 16, 36)")
        )
    if action == "inform_subject":
        return _text(note, "message", required=True, what=N_("the result told to the subject")), None
    if action == "answer_entry":
        return _text(note, "note", required=False, what=N_("the note")), _text(
            reason, "reason", required=True, what=N_("the reason for the answer (why the entry goes or stands)")
        )
    if action == "decide_repair" and result == "rejected":
        return None, _text(reason, "reason", required=True, what=N_("the reason for refusing the repair"))
    return _text(note, "note", required=False, what=N_("the note")), _text(
        reason, "reason", required=False, what=N_("the reason")
    )


async def take_step(
    env: Rights, principal: Principal, request: RequestInfo | None, case_id: str, action: str, *,
    result: str | None = None, note: str | None = None, data: dict | None = None,
    reason: str | None = None,
) -> CaseView:
    cid = parse_id(case_id)
    async with transaction(env.pool) as conn:
        if not await repo.lock_case(conn, cid):
            raise NotFound(_("no case with this id that you may see"), field="id", rule="not_found")
        row = await repo.get_case(conn, cid)
        if not may_see(principal, row):
            raise NotFound(_("no case with this id that you may see"), field="id", rule="not_found")
        facts = facts_of(row)
        role = check_actor(principal, facts, action)
        note, reason = _check_input(action, result, note, data, reason)
        today = env.today()
        adv = advance(facts, action, today, result)
        step = {"step": action, **actor_values(principal, role, env)}
        details: dict[str, Any] = {**adv.details}
        if note:
            details["note"] = note
        if reason:
            details["reason"] = reason
        if action not in ("pause_verification", "resume_verification"):
            step.update(due_on=row["due_on"], due_provisional=row["due_provisional"],
                        on_time=today <= row["due_on"])
        record = await repo.record_for_update(conn, row["record_id"]) if row["record_id"] else None
        notices = await _apply_effect(conn, env, principal, request, row, record, adv, details, data, reason)
        await _move(conn, env, row, adv, today, note)
        step["details"] = details
        await repo.insert_step(conn, cid, row["steps"] + 1, step)
        case = await read_case(conn, principal, cid)
        notices += _notices(action, adv, case, row, details, note)
        await send(conn, notices, at=env.now(), case_id=cid, record_id=row["record_id"])
        await record_act(
            conn, principal, kind="objection" if row["kind"] == "entry_objection" else row["kind"],
            operation=f"{row['kind']}.{action}",
            subject_key=row["subject_key"],
            details={
                "case": row["number"], "case_id": str(cid),
                **({"record": str(row["record_id"])} if row["record_id"] else {"entry": str(row["entry_id"])}),
                "step": action, "role": role, "on": today.isoformat(),
                "due_on": row["due_on"].isoformat() if row["due_on"] else None,
                **details,
                "next": {"step": case.stage, "role": case.stage_role,
                         "due_on": case.due_on.isoformat() if case.due_on else None,
                         "provisional": case.due_provisional},
                **({"outcome": case.outcome, "closed_on": today.isoformat(),
                    "may_go_to_court": case.kind != "repair"} if not case.open else {}),
            },
            request=request,
        )
    return case


async def _apply_effect(
    conn: asyncpg.Connection, env: Rights, principal: Principal, request: RequestInfo | None,
    row: Any, record: Any, adv: Advance, details: dict[str, Any], data: dict | None,
    reason: str | None,
) -> list[Notice]:
    """What the step does to the record. Returns notices the effect itself calls for."""
    now = env.now()
    if adv.effect == "correct":
        assert data is not None and reason is not None
        details["version"] = await store_correction(
            conn, env, principal, request, record, data=data, reason=reason, case_number=row["number"]
        )
    elif adv.effect == "delete":
        versions = await delete_record(
            conn, env, principal, request, record, basis="art38_unverifiable", case_id=row["id"],
            requested_by=(row["filed_by"], row["filed_by_name"]),
        )
        details["deleted"] = {"versions_wiped": versions}
        what = record_of(row["item_name"] or row["item_code"], row["subject_key"])
        return [
            Notice("data_office", row["data_office_org"], "objection.record_deleted", wording(
                N_("Record {record} (case {case}) was deleted: its provider confirmed its truth "
                   "cannot be verified (Art. 38 ¶4). A tombstone remains."),
                record=what, case=row["number"])),
            Notice("provider", row["provider_org"], "objection.record_deleted", wording(
                N_("Your record {record} was deleted from the platform after your answer in case "
                   "{case} (Art. 38 ¶4); it is not collected again under the same reference."),
                record=what, case=row["number"])),
        ]
    elif adv.effect == "remove_entry":
        assert reason is not None
        removed = await lists_repository.remove_entry(conn, row["entry_id"], china_date(now), reason)
        details["entry_state"] = "removed" if removed else "already_ended"
    elif adv.effect == "repair":
        await repo.set_record_status(conn, record["id"], "repaired", now, principal.user_id)
        details["record_status"] = "repaired"
    elif adv.effect == "restore" and record is not None and record["status"] == "disputed":
        await repo.set_record_status(conn, record["id"], row["status_before"], now, principal.user_id)
        details["record_status"] = row["status_before"]
    return []


async def _move(conn: asyncpg.Connection, env: Rights, row: Any, adv: Advance, today: dt.date, note: str | None) -> None:
    """Open the next step with its due date, stop or restart the clock, or close the case."""
    if adv.pause is not None:
        kind, since = adv.pause
        await repo.set_pause(conn, row["id"], since, kind)
    elif adv.resume is not None:
        pauses = (*pauses_of(row["pauses"]), adv.resume)
        d = due(env.calendar, row["stage_since"], row["due_days"], pauses)
        await repo.set_resumed(conn, row["id"], pauses_json(pauses), d.due, d.provisional)
    elif adv.next is not None:
        d = env.calendar.add_working_days(adv.next.since, adv.next.days)
        await repo.set_stage(
            conn, row["id"], stage=adv.next.stage, role=adv.next.role, org=stage_org(row, adv.next),
            since=adv.next.since, days=adv.next.days, due_on=d.due, provisional=d.provisional,
            basis=adv.next.basis, outcome=adv.outcome,
        )
    else:
        await repo.close_case(conn, row["id"], outcome=adv.outcome, note=note, at=env.now(), on=today)


def _notices(action: str, adv: Advance, case: CaseView, row: Any, details: dict, note: str | None) -> list[Notice]:
    """Who the step must tell (Art. 38, 39), in words each reader reads in its own language."""
    what = record_of(case.item_name or case.item_code, case.subject_key)
    co, do, prov = case.credit_office_org, case.data_office_org, case.provider_org
    n, due_by = case.number, due_words(case)
    if action == "notify_data_office":
        return [Notice("data_office", do, "objection.compare_requested", wording(
            N_("Objection {n} about record {record}: compare the platform's data with the "
               "provider's{due} and report the result (Art. 38 ¶1)."), n=n, record=what, due=due_by))]
    if action == "compare":
        if details["result"] == "differs":
            text = N_("Objection {n} about record {record}: the data differ; the data office "
                      "corrects the record{due} (Art. 38 ¶2).")
        else:
            text = N_("Objection {n} about record {record}: the data match; ask the provider to "
                      "verify{due} (Art. 38 ¶3).")
        return [Notice("credit_office", co, "objection.compared",
                       wording(text, n=n, record=what, due=due_by), {"result": details["result"]})]
    if action == "correct":
        return [Notice("credit_office", co, "objection.corrected", wording(
            N_("Objection {n}: record {record} was corrected (version {version}, reason: {reason}); "
               "inform the subject{due} (Art. 38 ¶2)."), n=n, record=what,
            version=details["version"], reason=details["reason"], due=due_by),
            {"version": details["version"]})]
    if action == "request_verification":
        return [Notice("provider", prov, "objection.verification_requested", wording(
            N_("Objection {n}: verify your record {record} and answer{due} (Art. 38 ¶3). Time for "
               "testing, inspection, quarantine, appraisal or expert review does not count: record "
               "its start and end with the case."), n=n, record=what, due=due_by))]
    if action == "pause_verification":
        kind = adv.pause[0] if adv.pause else ""
        return [Notice("credit_office", co, "objection.verification_paused", wording(
            N_("Objection {n}: the provider's verification is paused for {kind} since {since}."),
            n=n, kind=coded(PAUSE_KINDS, kind), since=case.paused_since), {"kind": kind})]
    if action == "resume_verification":
        return [Notice("credit_office", co, "objection.verification_resumed", wording(
            N_("Objection {n}: the provider's verification resumed; it answers{due}."), n=n, due=due_by))]
    if action == "answer_verification":
        text = (N_("Objection {n}: the provider answered: {result}; the record was deleted (Art. 38 "
                   "¶4). Inform the subject{due} (Art. 38 ¶3).")
                if details["result"] == "unverifiable" else
                N_("Objection {n}: the provider answered: {result}. Inform the subject{due} (Art. 38 ¶3)."))
        return [Notice("credit_office", co, "objection.verification_answered",
                       wording(text, n=n, result=coded(RESULT_WORDS, details["result"]), due=due_by),
                       {"result": details["result"]})]
    if action == "answer_entry":
        return [Notice("credit_office", co, "entry_objection.answered", wording(
            N_("Objection {n} about list entry {entry} of {subject}: the provider answered: "
               "{result} ({reason}). Inform the subject{due} (Art. 38 ¶3)."), n=n,
            entry=case.item_code, subject=case.subject_key, result=coded(RESULT_WORDS, details["result"]),
            reason=details.get("reason"), due=due_by), {"result": details["result"]})]
    if action == "inform_subject":
        text = (N_("Your objection {n} about list entry {item} is decided: {outcome}.") if case.entry_id
                else N_("Your objection {n} about record {item} is decided: {outcome}."))
        outcome = _OUTCOMES.get(case.outcome or "")
        told = wording(text, n=n, item=case.item_name or case.item_code,
                       outcome=wording(outcome) if outcome else case.outcome)
        if note:
            told += wording(N_(" {note}"), note=note)
        return [Notice("subject", case.subject_key, "objection.result", told + COURT_NOTICE,
                       {"outcome": case.outcome, "may_go_to_court": True})]
    if action == "decide_repair":
        text = (wording(N_("record {record} is repaired: no longer publicly disclosed nor a basis "
                           "for joint punishment (Art. 39)"), record=what)
                if case.outcome == "repaired" else
                wording(N_("the repair of record {record} is refused: {reason}"), record=what,
                        reason=details.get("reason")))
        return [
            Notice("credit_office", co, "repair.reported",
                   wording(N_("Repair {n} decided by the provider: {text}."), n=n, text=text),
                   {"outcome": case.outcome}),
            Notice("subject", case.subject_key, "repair.decided",
                   wording(N_("Your repair application {n}: {text}."), n=n, text=text),
                   {"outcome": case.outcome}),
        ]
    return []


_OUTCOMES = {
    "corrected": N_("the record was corrected"),
    "upheld": N_("the provider verified the record; it stands"),
    "deleted": N_("the provider confirmed the record's truth cannot be verified; it was deleted"),
    "entry_removed": N_("the provider found the list entry wrong; it was removed (名单已撤销)"),
    "entry_stands": N_("the provider answered that the list entry stands (名单维持)"),
}
