"""Art. 37: a subject files an objection (异议) to one of its own records, on one of three
grounds, with evidence. The record is marked disputed at once (Art. 38 ¶4: 异议信息进行标注), and
the credit office must notify the data office within 1 working day."""

from __future__ import annotations

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..i18n import N_, _
from ..wording import wording
from . import repository as repo
from .auth import require_verified_subject
from .cases import CaseView, Rights, item_of, parse_id, read_case
from .errors import CaseOpen, NotEligible
from .filing import check_ground, open_case, own_record_for_update, validate_evidence
from .notice_words import coded, due_words, record_of
from .notifications import Notice, send
from .workflow import GROUNDS, first_step


async def file_objection(
    env: Rights, principal: Principal, request: RequestInfo | None, *, record_id: str,
    ground: str, evidence_refs: list[str], statement: str | None = None,
) -> CaseView:
    """Art. 37: file; Art. 38 ¶4: mark the record disputed in the same transaction."""
    subject_key = require_verified_subject(principal)
    check_ground(ground)
    refs, statement = validate_evidence(evidence_refs, statement)
    rid = parse_id(record_id, "record")
    async with transaction(env.pool) as conn:
        record = await own_record_for_update(conn, subject_key, rid)
        number = await repo.open_case_on_record(conn, rid)
        if number is not None:
            raise CaseOpen(
                _("case {number} about this record is open; it must end before another begins", number=number),
                field="recordId", rule="one_open_case",
            )
        if record["status"] != "active":
            raise NotEligible(
                _("this record is {status} and no longer publicly disclosed or used; an objection concerns a record in use (ask the credit office in writing otherwise)", status=record['status']),
                field="recordId", rule="art37_record_in_use",
            )
        item = await item_of(env, record, conn)
        opened = first_step("objection", env.today())
        case_id = await open_case(
            conn, env, principal, kind="objection", record=record, item=item, ground=ground,
            statement=statement, evidence_refs=refs, opened=opened, first_step="file",
            details={"ground": ground, "evidence_refs": refs},
        )
        await repo.set_record_status(conn, rid, "disputed", env.now(), principal.user_id)
        case = await read_case(conn, principal, case_id)
        await send(
            conn,
            [Notice(
                "credit_office", env.offices.credit_office, "objection.filed", wording(
                    N_("Objection {n} (Art. 37, {ground}) about record {record}: notify the data "
                       "office to compare{due} (Art. 38)."), n=case.number, ground=coded(GROUNDS, ground),
                    record=record_of(item.name, subject_key), due=due_words(case)),
                {"due_on": case.due_on, "provisional": case.due_provisional},
            )],
            at=env.now(), case_id=case_id, record_id=rid,
        )
        await record_act(
            conn, principal, kind="objection", operation="objection.file", subject_key=subject_key,
            details={
                "case": case.number, "case_id": case.id, "record": str(rid), "step": "file",
                "ground": ground, "evidence_refs": refs, "record_status": "disputed",
                "next": {"step": case.stage, "role": case.stage_role,
                         "due_on": case.due_on.isoformat(), "provisional": case.due_provisional},
            },
            request=request,
        )
    return case
