"""An objection (异议) to a red or black list entry itself (Art. 25, 37-38): the subject says the
entry is wrong (not only a record under it). It follows the objection workflow: filed with the
credit office, the entry is shown disputed at once while the case is open (Art. 38 ¶4), the
provider that listed it answers within 15 working days (Art. 38 ¶3), and the credit office tells
the subject within 7 working days of the answer. An entry found wrong is removed with the
answer (state `removed`, with the provider's reason); each step is an act in the trail
(api/rights/steps.py takes the later steps, as for record objections)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..errors import NotFound
from ..i18n import N_, _
from ..lists import repository as lists_repository
from ..wording import wording
from . import repository as repo
from .auth import require_verified_subject
from .cases import CaseView, Rights, parse_id, read_case
from .errors import CaseOpen, NotEligible
from .filing import check_ground, open_case, validate_evidence
from .notice_words import coded, due_words
from .notifications import Notice, send
from .workflow import GROUNDS, first_step

ENTRY_CATEGORY = "list_entry"
# what open_case reads of a catalog item (its category), for a case about a list entry
_ENTRY_ITEM = SimpleNamespace(category=ENTRY_CATEGORY)


def entry_item_code(kind: str) -> str:
    """What a case about an entry names in place of a catalog item: list:black or list:red."""
    return f"list:{kind}"


async def file_entry_objection(
    env: Rights, principal: Principal, request: RequestInfo | None, *, entry_id: str,
    ground: str, evidence_refs: list[str], statement: str | None = None,
) -> CaseView:
    """Art. 37 for a list entry: file; the entry is disputed while the case is open."""
    subject_key = require_verified_subject(principal)
    check_ground(ground)
    refs, statement = validate_evidence(evidence_refs, statement)
    eid = parse_id(entry_id, "list entry")
    today = env.today()
    async with transaction(env.pool) as conn:
        entry = await lists_repository.entry_for_update(conn, eid)
        if entry is None or entry["subject_key"] != subject_key:
            raise NotFound(_("no list entry of yours with this id"), field="entryId", rule="not_found")
        number = await repo.open_case_on_entry(conn, eid)
        if number is not None:
            raise CaseOpen(_("case {number} about this entry is open; it must end before another begins", number=number),
                           field="entryId", rule="one_open_case")
        if not _listed(entry, today):
            raise NotEligible(
                _("this entry is no longer listed (removed, revoked or expired); an objection "
                  "concerns an entry in force"),
                field="entryId", rule="art37_entry_listed",
            )
        about = {"id": None, "entry_id": eid, "subject_key": subject_key, "status": "listed",
                 "item_code": entry_item_code(entry["kind"]), "provider_org": entry["provider_org"]}
        case_id = await open_case(
            conn, env, principal, kind="entry_objection", record=about,
            item=_ENTRY_ITEM, ground=ground, statement=statement, evidence_refs=refs,
            opened=first_step("entry_objection", today), first_step="file",
            details={"ground": ground, "evidence_refs": refs, "entry": str(eid)},
        )
        case = await read_case(conn, principal, case_id)
        await send(
            conn,
            [Notice("provider", entry["provider_org"], "entry_objection.filed", wording(
                N_("Objection {n} (Art. 37, {ground}) to your list entry {entry} of {subject}: "
                   "answer whether it stands{due}."), n=case.number, ground=coded(GROUNDS, ground),
                entry=entry["case_number"], subject=subject_key, due=due_words(case)),
                {"due_on": case.due_on, "provisional": case.due_provisional}),
             Notice("credit_office", env.offices.credit_office, "entry_objection.filed", wording(
                 N_("Objection {n} to list entry {entry} of {subject} filed; the provider "
                    "answers{due}."), n=case.number, entry=entry["case_number"], subject=subject_key,
                 due=due_words(case)), {"due_on": case.due_on})],
            at=env.now(), case_id=case_id, record_id=None,
        )
        await record_act(
            conn, principal, kind="objection", operation="entry_objection.file", subject_key=subject_key,
            details={
                "case": case.number, "case_id": case.id, "entry": str(eid), "step": "file",
                "ground": ground, "evidence_refs": refs, "entry_disputed": True,
                "next": {"step": case.stage, "role": case.stage_role,
                         "due_on": case.due_on.isoformat(), "provisional": case.due_provisional},
            },
            request=request,
        )
    return case


def _listed(entry, today: dt.date) -> bool:
    return entry["state"] == "listed" and (entry["listed_until"] is None or today <= entry["listed_until"])

