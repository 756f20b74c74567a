"""The GraphQL types of subjects' rights (Art. 37-40): cases and their steps, notifications,
tombstones, overdue steps, and the result unions of the rights mutations (schema/rights.py)."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.rights import notifications
from api.rights.cases import CaseView
from api.rights.deadlines import is_overdue

from .context import Context
from .errors import call
from .mutations import UserError
from .types import Organisation, Record

# --- enums ------------------------------------------------------------------------------------


@strawberry.enum
class CaseKind(Enum):
    OBJECTION = "objection"
    REPAIR = "repair"
    ENTRY_OBJECTION = "entry_objection"


@strawberry.enum(description="Art. 37: the grounds of an objection.")
class ObjectionGround(Enum):
    ERROR_OR_OMISSION = "error_or_omission"
    TRADE_SECRET_OR_PRIVACY = "trade_secret_or_privacy"
    DISHONESTY_EXPIRED = "dishonesty_expired"


@strawberry.enum(description="The step a case waits for (Art. 38, 39), or CLOSED.")
class CaseStage(Enum):
    NOTIFY_DATA_OFFICE = "notify_data_office"
    COMPARE = "compare"
    CORRECT = "correct"
    REQUEST_VERIFICATION = "request_verification"
    VERIFY = "verify"
    INFORM_SUBJECT = "inform_subject"
    DECIDE_REPAIR = "decide_repair"
    ANSWER_ENTRY = "answer_entry"
    CLOSED = "closed"


@strawberry.enum
class ComparisonResult(Enum):
    DIFFERS = "differs"
    MATCHES = "matches"


@strawberry.enum
class VerificationResult(Enum):
    VERIFIED = "verified"
    UNVERIFIABLE = "unverifiable"


@strawberry.enum(description="Art. 38 ¶3: time that does not count against the provider's 15 days.")
class PauseKind(Enum):
    TESTING = "testing"
    INSPECTION = "inspection"
    QUARANTINE = "quarantine"
    APPRAISAL = "appraisal"
    EXPERT_REVIEW = "expert_review"


@strawberry.enum
class CaseOutcome(Enum):
    CORRECTED = "corrected"
    UPHELD = "upheld"
    DELETED = "deleted"
    REPAIRED = "repaired"
    REJECTED = "rejected"
    ENTRY_REMOVED = "entry_removed"
    ENTRY_STANDS = "entry_stands"


# --- types ------------------------------------------------------------------------------------


@strawberry.type(description="The open step's deadline, in working days from `since`.")
class StepDeadline:
    since: dt.date
    working_days: int
    due_on: dt.date | None = strawberry.field(description="Null while the clock is paused.")
    provisional: bool = strawberry.field(
        description="Counts a day of a year whose holiday notice is not loaded yet; recomputed "
        "when it is."
    )
    basis: str
    paused_since: dt.date | None
    pause_kind: PauseKind | None
    pauses: list[list[dt.date]] = strawberry.field(description="Closed pauses [first, last].")
    overdue: bool


@strawberry.type
class CaseStep:
    seq: int
    step: str
    role: str
    organisation: str | None
    actor_name: str | None = strawberry.field(description="Staff names are not shown to the subject.")
    at: dt.datetime
    on: dt.date
    due_on: dt.date | None
    due_provisional: bool | None
    on_time: bool | None
    details: JSON


@strawberry.type(description="An objection (Art. 37-38) to a record or to a list entry, or a credit "
                  "repair (Art. 39) case.")
class RightsCase:
    id: strawberry.ID
    number: str
    kind: CaseKind
    record_id: strawberry.ID | None = strawberry.field(description="Null for an objection to a list entry.")
    entry_id: strawberry.ID | None = strawberry.field(description="The list entry an ENTRY_OBJECTION is about.")
    subject_key: str
    item_code: str
    item_name: str | None
    category: str
    provider: Organisation
    ground: ObjectionGround | None
    statement: str | None
    evidence_refs: list[str]
    filed_at: dt.datetime
    received_on: dt.date
    stage: CaseStage
    next_role: str | None
    next_organisation: str | None
    deadline: StepDeadline | None
    outcome: CaseOutcome | None
    outcome_note: str | None
    closed_on: dt.date | None
    may_go_to_court: bool = strawberry.field(
        description="Art. 38: a closed objection's subject may bring an administrative lawsuit."
    )
    steps: list[CaseStep]

    @strawberry.field(
        description="The record the case is about, as the caller may see it (the subject, its "
        "provider, and while an objection is open the offices handling it). Looked up and logged "
        "like any query; null when not disclosed to you or deleted."
    )
    async def record(self, info: Info[Context, None]) -> Record | None:
        if self.record_id is None:
            return None
        ctx = info.context
        views = await call(ctx.subjects([self.subject_key], f"rights_case:{self.number}", "rightsCase.record"))
        view = views[0]
        if view is None:
            return None
        found = next((r for r in view.records if r.id == str(self.record_id)), None)
        return Record.of(found) if found else None

    @classmethod
    def of(cls, c: CaseView, today: dt.date) -> RightsCase:
        deadline = None
        if c.open and c.stage_since is not None and c.due_days is not None:
            paused = c.paused_since is not None
            deadline = StepDeadline(
                since=c.stage_since, working_days=c.due_days,
                due_on=None if paused and c.due_on and c.paused_since <= c.due_on else c.due_on,
                provisional=c.due_provisional, basis=c.due_basis or "",
                paused_since=c.paused_since,
                pause_kind=PauseKind(c.pause_kind) if c.pause_kind else None,
                pauses=[[a, b] for a, b in c.pauses],
                overdue=c.due_on is not None and is_overdue(today, c.due_on, c.paused_since),
            )
        return cls(
            id=strawberry.ID(c.id), number=c.number, kind=CaseKind(c.kind),
            record_id=strawberry.ID(c.record_id) if c.record_id else None,
            entry_id=strawberry.ID(c.entry_id) if c.entry_id else None, subject_key=c.subject_key, item_code=c.item_code,
            item_name=c.item_name, category=c.category,
            provider=Organisation(code=c.provider_org, name=c.provider_name or ""),
            ground=ObjectionGround(c.ground) if c.ground else None, statement=c.statement,
            evidence_refs=c.evidence_refs, filed_at=c.filed_at, received_on=c.received_on,
            stage=CaseStage(c.stage), next_role=c.stage_role, next_organisation=c.stage_org,
            deadline=deadline, outcome=CaseOutcome(c.outcome) if c.outcome and not c.open else None,
            outcome_note=c.outcome_note, closed_on=c.closed_on,
            may_go_to_court=c.kind != "repair" and not c.open,
            steps=[
                CaseStep(seq=s.seq, step=s.step, role=s.actor_role, organisation=s.actor_org,
                         actor_name=s.actor_name, at=s.at, on=s.on, due_on=s.due_on,
                         due_provisional=s.due_provisional, on_time=s.on_time, details=s.details)
                for s in c.steps
            ],
        )


@strawberry.type
class Notification:
    id: strawberry.ID
    created_at: dt.datetime
    recipient_role: str
    recipient: str
    topic: str
    message: str = strawberry.field(description="In the reader's language (Accept-Language; "
                                    "Chinese by default); text someone typed is quoted as typed.")
    case_id: strawberry.ID | None
    case_number: str | None
    record_id: strawberry.ID | None
    details: JSON
    read: bool

    @classmethod
    def of(cls, n: notifications.Notification) -> Notification:
        return cls(
            id=strawberry.ID(str(n.id)), created_at=n.created_at, recipient_role=n.recipient_role,
            recipient=n.recipient, topic=n.topic, message=n.message,
            case_id=strawberry.ID(n.case_id) if n.case_id else None, case_number=n.case_number,
            record_id=strawberry.ID(n.record_id) if n.record_id else None, details=n.details,
            read=n.read_at is not None,
        )


@strawberry.type(description="What remains of a deleted record: its kind, when, at whose request.")
class Tombstone:
    record_id: strawberry.ID
    subject_key: str
    item_code: str
    category: str
    provider_org: str
    basis: str = strawberry.field(description="art38_unverifiable or art40_request")
    case_number: str | None
    requested_by_name: str | None
    decided_by_role: str
    deleted_at: dt.datetime
    deleted_on: dt.date


@strawberry.type
class OverdueStep:
    case_id: strawberry.ID
    number: str
    kind: CaseKind
    stage: CaseStage
    role: str
    organisation: Organisation | None
    since: dt.date
    due_on: dt.date
    provisional: bool
    working_days_late: int


@strawberry.type
class OverdueCount:
    role: str
    organisation: Organisation | None
    count: int


@strawberry.type(description="Open steps past due on `asOf`, per role and per organisation.")
class OverdueReport:
    as_of: dt.date
    steps: list[OverdueStep]
    by_role: list[OverdueCount]
    by_organisation: list[OverdueCount]


RightsCaseResult = Annotated[RightsCase | UserError, strawberry.union("RightsCaseResult")]
TombstoneResult = Annotated[Tombstone | UserError, strawberry.union("TombstoneResult")]


# --- helpers ----------------------------------------------------------------------------------
