"""Art. 39 credit repair (信用修复): a subject that has corrected its dishonest behaviour applies
to the provider of the dishonesty record, with evidence; the provider decides within 3 working
days and reports to the credit office (a step of the case, api/rights/steps.py). A repaired
record is no longer publicly disclosed (the policy's `repaired` state) and no longer a basis for
joint punishment; the subject still sees it, and others only under its authorization."""

from __future__ import annotations

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..disclosure.rules import record_periods
from ..disclosure.views import RecordView
from ..i18n import N_, _
from ..wording import wording
from . import repository as repo
from .auth import require_verified_subject
from .cases import CaseView, Rights, item_of, parse_id, read_case
from .errors import CaseOpen, NotEligible, RepairTooEarly
from .filing import open_case, own_record_for_update, validate_evidence
from .notice_words import due_words, record_of
from .notifications import Notice, send
from .workflow import first_step


def usable_for_joint_punishment(record: RecordView) -> bool:
    """Art. 28, 39, 20: a dishonesty record counts for joint punishment while it is live: not
    repaired, not past its disclosure period (archived), not deleted. A disputed record still
    counts, shown with its mark (Art. 38 does not suspend it)."""
    return record.item.dishonest and record.state == "live"


async def apply_for_repair(
    env: Rights, principal: Principal, request: RequestInfo | None, *, record_id: str,
    evidence_refs: list[str], statement: str | None = None,
) -> CaseView:
    subject_key = require_verified_subject(principal)
    refs, statement = validate_evidence(evidence_refs, statement)
    rid = parse_id(record_id, "record")
    async with transaction(env.pool) as conn:
        record = await own_record_for_update(conn, subject_key, rid)
        item = await item_of(env, record, conn)
        if not item.dishonest:
            raise NotEligible(
                _("credit repair (Art. 39) is for dishonesty records; {name} is not one", name=item.name),
                field="recordId", rule="art39_dishonesty_only",
            )
        number = await repo.open_case_on_record(conn, rid)
        if number is not None:
            raise CaseOpen(_("case {number} about this record is open; it must end first", number=number),
                           field="recordId", rule="one_open_case")
        if record["status"] != "active":
            raise NotEligible(_("this record is {status}; only a record in use is repaired", status=record['status']),
                              field="recordId", rule="art39_record_in_use")
        earliest = record_periods(item, record["decided_on"], record["data"]).repairable_from
        if earliest is not None and env.today() < earliest:
            raise RepairTooEarly(
                _("credit repair of this record may be applied for from {date}, after the minimum "
                  "publicity period of its severity (Art. 39)", date=earliest),
                field="recordId", rule="art39_minimum_period",
            )
        opened = first_step("repair", env.today())
        case_id = await open_case(
            conn, env, principal, kind="repair", record=record, item=item, ground=None,
            statement=statement, evidence_refs=refs, opened=opened, first_step="apply",
            details={"evidence_refs": refs},
        )
        case = await read_case(conn, principal, case_id)
        await send(
            conn,
            [Notice("provider", record["provider_org"], "repair.applied", wording(
                N_("Repair application {n} (Art. 39) for your record {record}: review the evidence "
                   "and decide{due}."), n=case.number, record=record_of(item.name, subject_key),
                due=due_words(case)), {"due_on": case.due_on, "provisional": case.due_provisional})],
            at=env.now(), case_id=case_id, record_id=rid,
        )
        await record_act(
            conn, principal, kind="repair", operation="repair.apply", subject_key=subject_key,
            details={"case": case.number, "case_id": case.id, "record": str(rid), "step": "apply",
                     "evidence_refs": refs,
                     "next": {"step": case.stage, "role": case.stage_role,
                              "due_on": case.due_on.isoformat(), "provisional": case.due_provisional}},
            request=request,
        )
    return case
