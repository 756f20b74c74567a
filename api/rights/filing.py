"""Filing a case, as the subject does it (Art. 37, 39, 40): its own record, locked; the filing
checked (Art. 37: one of the grounds, evidence named, a statement of bounded length); the case
inserted at its first open step, with the subject's filing as step 1."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from ..auth.principal import Principal
from ..errors import InvalidInput, NotFound
from ..i18n import _
from . import repository as repo
from .cases import Rights, actor_values, stage_org
from .workflow import GROUNDS, Opened


async def own_record_for_update(conn: asyncpg.Connection, subject_key: str, rid: uuid.UUID) -> Any:
    """The subject's own record, locked; any other (or a deleted one) does not exist for it."""
    record = await repo.record_for_update(conn, rid)
    if record is None or record["status"] == "deleted" or record["subject_key"] != subject_key:
        raise NotFound(_("no record of yours with this id"), field="recordId", rule="not_found")
    return record


async def open_case(
    conn: asyncpg.Connection, env: Rights, principal: Principal, *, kind: str, record: Any,
    item: Any, ground: str | None, statement: str | None, evidence_refs: list[str],
    opened: Opened, first_step: str, details: dict[str, Any],
) -> uuid.UUID:
    """Insert a case at its first open step, with the subject's filing as step 1."""
    now, today = env.now(), env.today()
    d = env.calendar.add_working_days(opened.since, opened.days)
    values = {
        "number": await repo.next_number(conn, kind, today.year),
        "kind": kind,
        "record_id": record["id"],
        "subject_key": record["subject_key"],
        "item_code": record["item_code"],
        "category": item.category,
        "provider_org": record["provider_org"],
        "credit_office_org": env.offices.credit_office,
        "data_office_org": env.offices.data_office,
        # Case handling gives the offices access to the disputed record only, while it is open.
        "handlers": [f"credit_office:{env.offices.credit_office}",
                     f"data_office:{env.offices.data_office}"] if kind == "objection" else [],
        "ground": ground,
        "statement": statement,
        "evidence_refs": evidence_refs,
        "filed_by": principal.user_id,
        "filed_by_name": principal.name,
        "filed_at": now,
        "received_on": today,
        "status_before": record["status"],
        "stage": opened.stage,
        "stage_role": opened.role,
        "stage_org": None,
        "stage_since": opened.since,
        "due_days": opened.days,
        "due_on": d.due,
        "due_provisional": d.provisional,
        "due_basis": opened.basis,
        "entry_id": record.get("entry_id"),
    }
    values["stage_org"] = stage_org(values, opened)
    case_id = await repo.insert_case(conn, values)
    await repo.insert_step(
        conn, case_id, 1,
        {"step": first_step, **actor_values(principal, "subject", env), "details": details},
    )
    return case_id


def check_ground(ground: str) -> None:
    """Art. 37: an objection names one of the grounds."""
    if ground not in GROUNDS:
        raise InvalidInput(
            _("the ground is one of {grounds} (Art. 37)", grounds=", ".join(GROUNDS)), field="ground",
            rule="art37_ground",
        )


def validate_evidence(evidence_refs: list[str], statement: str | None) -> tuple[list[str], str | None]:
    refs = [r.strip() for r in evidence_refs if r and r.strip()]
    if not refs:
        raise InvalidInput(
            _("give at least one reference to the supporting evidence (Art. 37)"),
            field="evidenceRefs", rule="evidence_required",
        )
    if len(refs) > 20 or any(len(r) > 500 for r in refs):
        raise InvalidInput(_("at most 20 evidence references of 500 characters each"),
                           field="evidenceRefs", rule="length")
    statement = (statement or "").strip() or None
    if statement is not None and len(statement) > 4000:
        raise InvalidInput(_("the statement is at most 4000 characters"), field="statement", rule="length")
    return refs, statement
