"""Subjects' rights over GraphQL (Art. 37-40): objections and their steps, credit repair,
deletion on request, cases, overdue steps, notifications. Resolvers turn arguments into
service calls (api/rights) and map the results; expected refusals of a mutation come back as
`UserError` with code and rule, and change nothing."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from functools import cache
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.errors import DomainError, InvalidInput
from api.i18n import _
from api.rights import cases as rights_cases
from api.rights import deletion, notifications, objections, repair, steps
from api.rights.cases import CaseView, Rights
from api.rights.deadlines import is_overdue
from api.rights.offices import Offices

from .context import Context
from .errors import call, to_graphql_error
from .mutations import UserError
from .pagination import DEPRECATED_ONE_RELEASE
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
    message: str
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


@cache
def _offices() -> Offices:
    return Offices.from_env()


def _env(info: Info[Context, None]) -> Rights:
    s = info.context.state
    return Rights(pool=s.pool, catalog=s.catalog, calendar=s.calendar, clock=s.clock, offices=_offices())


def _tombstone(t: deletion.Tombstone) -> Tombstone:
    return Tombstone(
        record_id=strawberry.ID(t.record_id), subject_key=t.subject_key, item_code=t.item_code,
        category=t.category, provider_org=t.provider_org, basis=t.basis, case_number=t.case_number,
        requested_by_name=t.requested_by_name, decided_by_role=t.decided_by_role,
        deleted_at=t.deleted_at, deleted_on=t.deleted_on,
    )


def _org(code: str | None, name: str | None) -> Organisation | None:
    return Organisation(code=code, name=name or "") if code else None


async def _step(info: Info[Context, None], case_id: strawberry.ID, action: str, **kw) -> RightsCaseResult:
    ctx, env = info.context, _env(info)
    try:
        case = await steps.take_step(env, ctx.principal, ctx.request, str(case_id), action, **kw)
    except DomainError as e:
        return UserError.of(e)
    return RightsCase.of(case, env.today())


# --- inputs, queries, mutations -----------------------------------------------------------------


@strawberry.input
class ObjectionInput:
    record_id: strawberry.ID
    ground: ObjectionGround
    evidence_refs: list[str] = strawberry.field(description="References of the supporting evidence.")
    statement: str | None = None


@strawberry.input
class RepairInput:
    record_id: strawberry.ID
    evidence_refs: list[str] = strawberry.field(description="Evidence that the behaviour was corrected.")
    statement: str | None = None


@strawberry.type
class RightsQuery:
    @strawberry.field(description="One case the caller may see: the subject its own (verified), "
                      "the offices those they handle, a provider those about its records.")
    async def rights_case(self, info: Info[Context, None], id: strawberry.ID) -> RightsCase:
        env = _env(info)
        case = await call(rights_cases.get_case(
            env, info.context.principal, str(id), info.context.request))
        return RightsCase.of(case, env.today())

    @strawberry.field(description="The cases the caller may see, newest first (at most 100).",
                      deprecation_reason="Use rightsCasesConnection; " + DEPRECATED_ONE_RELEASE)
    async def rights_cases(
        self, info: Info[Context, None], kind: CaseKind | None = None, open: bool | None = None,
        first: int = 50, after: str | None = None,
    ) -> list[RightsCase]:
        env = _env(info)
        page = await call(rights_cases.list_cases(
            env, info.context.principal, kind=kind.value if kind else None, open_only=open,
            first=first, after=after, request=info.context.request,
        ))
        return [RightsCase.of(c, env.today()) for c in page.items]

    @strawberry.field(description="Open steps past due (today unless asOf), per role and per "
                      "organisation: for the credit office (the data office sees objections').")
    async def overdue_steps(self, info: Info[Context, None], as_of: dt.date | None = None) -> OverdueReport:
        r = await call(rights_cases.overdue_steps(_env(info), info.context.principal, as_of))
        return OverdueReport(
            as_of=r.as_of,
            steps=[
                OverdueStep(case_id=strawberry.ID(s.case_id), number=s.number, kind=CaseKind(s.kind),
                            stage=CaseStage(s.stage), role=s.role, organisation=_org(s.org_code, s.org_name),
                            since=s.since, due_on=s.due_on, provisional=s.provisional,
                            working_days_late=s.working_days_late)
                for s in r.steps
            ],
            by_role=[OverdueCount(role=c.role, organisation=None, count=c.count) for c in r.by_role],
            by_organisation=[
                OverdueCount(role=c.role, organisation=_org(c.org_code, c.org_name), count=c.count)
                for c in r.by_organisation
            ],
        )

    @strawberry.field(description="The caller's notifications, newest first: the subject's "
                      "(verified), or its organisation's in the roles it holds.",
                      deprecation_reason="Use notificationsConnection (first/after); " + DEPRECATED_ONE_RELEASE)
    async def notifications(
        self, info: Info[Context, None], unread_only: bool = False, first: int = 50,
        before: strawberry.ID | None = None,
    ) -> list[Notification]:
        try:
            before_id = int(before) if before is not None else None
        except ValueError:
            before_id = 0  # refused below as not a notification id
        page = await call(notifications.my_notifications(
            info.context.state.pool, info.context.principal, unread_only=unread_only, first=first,
            before=before_id, request=info.context.request,
        ))
        return [Notification.of(n) for n in page.items]

    @strawberry.field(description="Tombstones of a subject's deleted records (kind, when, at whose "
                      "request; never content): the subject's own, or any subject's for the offices "
                      "and auditors (logged).")
    async def tombstones(self, info: Info[Context, None], subject_key: str | None = None) -> list[Tombstone]:
        ctx = info.context
        found = await call(deletion.tombstones(_env(info), ctx.principal, ctx.request, subject_key))
        return [_tombstone(t) for t in found]

    @strawberry.field(description="Art. 28: the records on which joint punishment of a subject rests: those "
                      "of its black-list entries in force, among the records disclosed to you (repaired, "
                      "archived and deleted records never). A lookup, logged like `subject`.")
    async def joint_punishment_basis(
        self, info: Info[Context, None], key: strawberry.ID, purpose: str
    ) -> list[Record]:
        from api.checks.service import joint_punishment_basis

        ctx = info.context
        found = await call(joint_punishment_basis(ctx.state, ctx.principal, ctx.request, key=str(key), purpose=purpose))
        return [Record.of(r) for r in found if repair.usable_for_joint_punishment(r)]


@strawberry.type
class RightsMutation:
    @strawberry.mutation(description="Art. 37: the subject (real-name verified) objects to one of "
                         "its records; the record is marked disputed at once.")
    async def file_objection(self, info: Info[Context, None], input: ObjectionInput) -> RightsCaseResult:
        ctx, env = info.context, _env(info)
        try:
            case = await objections.file_objection(
                env, ctx.principal, ctx.request, record_id=str(input.record_id),
                ground=input.ground.value, evidence_refs=list(input.evidence_refs),
                statement=input.statement,
            )
        except DomainError as e:
            return UserError.of(e)
        return RightsCase.of(case, env.today())

    @strawberry.mutation(description="Art. 38 ¶1, credit office: notify the data office to compare "
                         "(1 working day from receipt).")
    async def notify_data_office(
        self, info: Info[Context, None], case_id: strawberry.ID, note: str | None = None
    ) -> RightsCaseResult:
        return await _step(info, case_id, "notify_data_office", note=note)

    @strawberry.mutation(description="Art. 38 ¶1, data office: the comparison result (1 working day "
                         "from the notice).")
    async def record_comparison(
        self, info: Info[Context, None], case_id: strawberry.ID, result: ComparisonResult,
        note: str | None = None,
    ) -> RightsCaseResult:
        return await _step(info, case_id, "compare", result=result.value, note=note)

    @strawberry.mutation(description="Art. 38 ¶2, data office: correct the record (3 working days "
                         "from the notice): a new version with its reason.")
    async def correct_record(
        self, info: Info[Context, None], case_id: strawberry.ID, data: JSON, reason: str,
        note: str | None = None,
    ) -> RightsCaseResult:
        return await _step(info, case_id, "correct", data=data, reason=reason, note=note)

    @strawberry.mutation(description="Art. 38 ¶3, credit office: ask the provider to verify.")
    async def request_verification(
        self, info: Info[Context, None], case_id: strawberry.ID, note: str | None = None
    ) -> RightsCaseResult:
        return await _step(info, case_id, "request_verification", note=note)

    @strawberry.mutation(description="Art. 38 ¶3, provider: testing, inspection, quarantine, "
                         "appraisal or expert review begins; the 15 days stop.")
    async def pause_verification(
        self, info: Info[Context, None], case_id: strawberry.ID, kind: PauseKind, note: str | None = None
    ) -> RightsCaseResult:
        return await _step(info, case_id, "pause_verification", result=kind.value, note=note)

    @strawberry.mutation(description="Art. 38 ¶3, provider: the pause ends; the 15 days run again.")
    async def resume_verification(
        self, info: Info[Context, None], case_id: strawberry.ID, note: str | None = None
    ) -> RightsCaseResult:
        return await _step(info, case_id, "resume_verification", note=note)

    @strawberry.mutation(description="Art. 38 ¶3-4, provider: the verification answer (15 working "
                         "days from the request, pauses not counted). UNVERIFIABLE deletes the record.")
    async def answer_verification(
        self, info: Info[Context, None], case_id: strawberry.ID, result: VerificationResult,
        note: str | None = None,
    ) -> RightsCaseResult:
        return await _step(info, case_id, "answer_verification", result=result.value, note=note)

    @strawberry.mutation(description="Art. 38, credit office: tell the subject the result (3 working "
                         "days from the correction, 7 from the provider's answer); closes the case.")
    async def inform_subject(
        self, info: Info[Context, None], case_id: strawberry.ID, message: str
    ) -> RightsCaseResult:
        return await _step(info, case_id, "inform_subject", note=message)

    @strawberry.mutation(description="Art. 39: the subject (verified) applies to the provider for "
                         "repair of a dishonesty record.")
    async def apply_for_repair(self, info: Info[Context, None], input: RepairInput) -> RightsCaseResult:
        ctx, env = info.context, _env(info)
        try:
            case = await repair.apply_for_repair(
                env, ctx.principal, ctx.request, record_id=str(input.record_id),
                evidence_refs=list(input.evidence_refs), statement=input.statement,
            )
        except DomainError as e:
            return UserError.of(e)
        return RightsCase.of(case, env.today())

    @strawberry.mutation(description="Art. 39, provider: decide within 3 working days; reported to "
                         "the credit office. A reason is required to refuse.")
    async def decide_repair(
        self, info: Info[Context, None], case_id: strawberry.ID, approved: bool,
        reason: str | None = None,
    ) -> RightsCaseResult:
        return await _step(info, case_id, "decide_repair",
                           result="approved" if approved else "rejected", reason=reason)

    @strawberry.mutation(description="Art. 40: the subject (verified) deletes its own commendation, "
                         "volunteer-service or charitable-donation record; anything else is refused.")
    async def request_deletion(self, info: Info[Context, None], record_id: strawberry.ID) -> TombstoneResult:
        ctx = info.context
        try:
            t = await deletion.request_deletion(_env(info), ctx.principal, ctx.request, str(record_id))
        except DomainError as e:
            return UserError.of(e)
        return _tombstone(t)

    @strawberry.mutation(description="Mark the caller's own notifications read; returns how many changed.")
    async def mark_notifications_read(self, info: Info[Context, None], ids: list[strawberry.ID]) -> int:
        ctx = info.context
        try:
            numbers = [int(i) for i in ids]
        except ValueError:
            raise to_graphql_error(InvalidInput(
                _("ids are notification ids as notifications gave them"), field="ids", rule="id")) from None
        return await call(notifications.mark_read(ctx.state.pool, ctx.principal, numbers, ctx.state.clock()))
