"""Subjects' rights over GraphQL (Art. 37-40): objections and their steps, credit repair,
deletion on request, cases, overdue steps, notifications. Resolvers turn arguments into
service calls (api/rights) and map the results; expected refusals of a mutation come back as
`UserError` with code and rule, and change nothing."""

from __future__ import annotations

import datetime as dt
from functools import cache

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.errors import DomainError, InvalidInput
from api.i18n import _
from api.rights import cases as rights_cases
from api.rights import deletion, notifications, objections, repair, steps
from api.rights.cases import Rights
from api.rights.offices import Offices

from .context import Context
from .errors import call, to_graphql_error
from .mutations import UserError
from .pagination import DEPRECATED_ONE_RELEASE
from .rights_types import (
    CaseKind,
    CaseStage,
    ComparisonResult,
    Notification,
    ObjectionGround,
    OverdueCount,
    OverdueReport,
    OverdueStep,
    PauseKind,
    RightsCase,
    RightsCaseResult,
    Tombstone,
    TombstoneResult,
    VerificationResult,
)
from .types import Organisation, Record

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
