"""GraphQL for using credit information (Art. 24-32): lists, the measures registry, the credit
check and its feedback, and the offices' figures. Resolvers here; their types in
schema/lists_types.py."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from api.checks import service as checks
from api.lists import service as lists
from api.measures import service as measures
from api.rights.offices import Offices

from .context import Context
from .errors import call
from .lists_types import (
    AppliedMeasure,
    CheckFeedback,
    CheckStat,
    CheckStatistics,
    CreditCheck,
    ListEntry,
    ListEntryConnection,
    ListEntryInput,
    ListKind,
    ListRule,
    ListRuleInput,
    Measure,
    MeasureInput,
    MeasureStat,
    OverdueCheck,
)
from .pagination import edges, page_info


def _rule(r) -> ListRule:
    return ListRule(id=strawberry.ID(str(r["id"])), kind=ListKind(r["kind"]), provider_code=r["provider_org"],
                    name=r["name"], doc_number=r["doc_number"], criteria=r["criteria"],
                    listing_months=r["listing_months"], published_at=r["published_at"])


@strawberry.type
class ListsQuery:
    @strawberry.field(description="Art. 25: the published red and black lists, entries in force, newest first; "
                      "search by a subject's key or part of an organisation's name. Natural persons masked for the public. Logged.")
    async def list_entries(self, info: Info[Context, None], kind: ListKind | None = None, search: str | None = None,
                           provider: str | None = None, first: int = 20, after: str | None = None) -> ListEntryConnection:
        ctx = info.context
        page = await call(lists.list_entries(
            ctx.state.pool, ctx.principal, ctx.request, kind=kind.value if kind else None, search=search,
            provider=provider, first=first, after=after))
        return ListEntryConnection(edges=edges(page, ListEntry.of), page_info=page_info(page))

    @strawberry.field(description="Art. 25: the providers' published identification rules.")
    async def list_rules(self, info: Info[Context, None], provider: str | None = None, kind: ListKind | None = None) -> list[ListRule]:
        from api.lists import repository

        async with info.context.state.pool.acquire() as conn:
            return [_rule(r) for r in await repository.rules(conn, provider, kind.value if kind else None)]

    @strawberry.field(description="Art. 26-28: the public registry of joint reward and punishment measures.")
    async def measures(self, info: Info[Context, None], scenario: str | None = None, kind: str | None = None,
                       on: dt.date | None = None) -> list[Measure]:
        rows = await measures.measures(info.context.state.pool, scenario=scenario, kind=kind, on=on)
        return [Measure.of(m) for m in rows]

    @strawberry.field(description="Art. 29: check a subject before a decision in a scenario (state organs). Logged like a lookup.")
    async def credit_check(self, info: Info[Context, None], subject: strawberry.ID, scenario: str) -> CreditCheck | None:
        ctx = info.context
        found = await call(checks.credit_check(ctx.state, ctx.principal, ctx.request, keys=[str(subject)], scenario=scenario))
        return CreditCheck.of(found[0]) if found[0] else None

    @strawberry.field(description="Art. 29: the check for many subjects at once (e.g. all bidders), within the batch limit.")
    async def credit_checks(self, info: Info[Context, None], subjects: list[strawberry.ID], scenario: str) -> list[CreditCheck | None]:
        ctx = info.context
        found = await call(checks.credit_check(ctx.state, ctx.principal, ctx.request, keys=[str(s) for s in subjects],
                                               scenario=scenario, operation="creditChecks"))
        return [CreditCheck.of(c) if c else None for c in found]

    @strawberry.field(description="Art. 8, 15: checks and feedback per department, scenario and measure (offices, auditors).")
    async def credit_check_statistics(self, info: Info[Context, None], since: dt.date, until: dt.date) -> CheckStatistics:
        ctx = info.context
        today = lists.today_in_china()
        by_org, by_measure = await call(checks.statistics(ctx.state.pool, ctx.principal, since, until, today))
        return CheckStatistics(
            by_organisation=[CheckStat(organisation_code=r["org_code"], organisation_name=r["org_name"], scenario=r["scenario"],
                                       checks=r["checks"], with_entries=r["with_entries"], with_feedback=r["with_feedback"],
                                       feedback_overdue=r["feedback_overdue"]) for r in by_org],
            by_measure=[MeasureStat(measure=r["measure"], scenario=r["scenario"], applied=r["applied"],
                                    not_applied=r["not_applied"]) for r in by_measure])

    @strawberry.field(description="Checks whose feedback is past due (offices: all; a state organ: its own).")
    async def overdue_check_feedback(self, info: Info[Context, None], as_of: dt.date | None = None) -> list[OverdueCheck]:
        ctx = info.context
        rows = await call(checks.overdue_feedback(ctx.state.pool, ctx.principal, as_of or lists.today_in_china()))
        return [OverdueCheck(check=strawberry.ID(r["id"]), at=r["at"], organisation_code=r["org_code"], scenario=r["scenario"],
                             subject_key=r["subject_key"], feedback_due=r["feedback_due"]) for r in rows]


@strawberry.type
class ListsMutation:
    @strawberry.mutation(description="Art. 25: a provider publishes an identification rule (name, document number, criteria).")
    async def publish_list_rule(self, info: Info[Context, None], input: ListRuleInput) -> ListRule:
        ctx = info.context
        row = await call(lists.publish_rule(ctx.state.pool, ctx.principal, ctx.request, kind=input.kind.value, name=input.name,
                                            doc_number=input.doc_number, criteria=input.criteria, listing_months=input.listing_months))
        return _rule(row)

    @strawberry.mutation(description="Art. 25: a provider lists a subject under its rule, resting on its own records.")
    async def add_list_entry(self, info: Info[Context, None], input: ListEntryInput) -> strawberry.ID:
        ctx = info.context
        return strawberry.ID(await call(lists.add_entry(
            ctx.state.pool, ctx.principal, ctx.request, subject_key=input.subject_key, kind=input.kind.value,
            rule_id=str(input.rule_id), case_number=input.case_number, reason=input.reason,
            basis_record_ids=[str(b) for b in input.basis_record_ids], decided_on=input.decided_on,
            listed_from=input.listed_from, listed_until=input.listed_until)))

    @strawberry.mutation(description="The provider ends its entry: exited (移出) or removed (撤销), with the reason.")
    async def end_list_entry(self, info: Info[Context, None], id: strawberry.ID, state: str, reason: str) -> bool:
        ctx = info.context
        await call(lists.end_entry(ctx.state.pool, ctx.principal, ctx.request, entry_id=str(id), state=state,
                                   reason=reason, today=lists.today_in_china()))
        return True

    @strawberry.mutation(description="Art. 26-28: the credit office adds or changes a measure (a new version; the old one kept).")
    async def put_measure(self, info: Info[Context, None], input: MeasureInput) -> Measure:
        ctx = info.context
        row = await call(measures.put_measure(ctx.state.pool, ctx.principal, ctx.request,
                                              Offices.from_env().credit_office, strawberry.asdict(input)))
        return Measure.of(row)

    @strawberry.mutation(description="奖惩结果反馈: for each measure a check returned, applied or not and why.")
    async def report_check_feedback(self, info: Info[Context, None], check_id: strawberry.ID,
                                    applied: list[AppliedMeasure]) -> CheckFeedback:
        ctx = info.context
        row = await call(checks.report_feedback(ctx.state.pool, ctx.principal, ctx.request, check_id=str(check_id),
                                                applied=[strawberry.asdict(a) for a in applied]))
        return CheckFeedback(check=strawberry.ID(str(row["id"])), at=row["feedback_at"], applied=row["applied"])
