"""GraphQL for using credit information (Art. 24-32): lists, the measures registry, the credit
check and its feedback, and the offices' figures."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry
from strawberry.types import Info

from api.checks import service as checks
from api.lists import service as lists
from api.lists.service import EntryView
from api.measures import service as measures
from api.rights.offices import Offices

from .context import Context
from .errors import call
from .pagination import DEPRECATED_ONE_RELEASE, Connection, edges, page_info
from .types import Record, Subject


@strawberry.enum
class ListKind(Enum):
    RED = "red"
    BLACK = "black"


@strawberry.type
class ListEntry:
    id: strawberry.ID
    kind: ListKind
    subject_key: str = strawberry.field(description="masked for the public when a natural person")
    subject_name: str = strawberry.field(description="masked for the public when a natural person")
    rule_name: str
    rule_doc_number: str
    provider_code: str
    provider_name: str
    case_number: str
    reason: str
    decided_on: dt.date
    listed_from: dt.date
    listed_until: dt.date | None
    standing: str = strawberry.field(description="in_force, pending, expired, exited, removed, basis_repaired, basis_deleted, basis_corrected")
    standing_note: str | None
    in_force: bool
    disputed: bool = strawberry.field(description="Under the subject's objection to the entry itself "
                                      "(Art. 37-38, fileEntryObjection) while the case is open; an "
                                      "objection does not suspend the entry.")
    basis_records: list[strawberry.ID]

    @classmethod
    def of(cls, e: EntryView) -> ListEntry:
        return cls(id=strawberry.ID(e.id), kind=ListKind(e.kind), subject_key=e.subject_key, subject_name=e.subject_name,
                   rule_name=e.rule_name, rule_doc_number=e.doc_number, provider_code=e.provider_org,
                   provider_name=e.provider_name, case_number=e.case_number, reason=e.reason,
                   decided_on=e.decided_on, listed_from=e.listed_from, listed_until=e.listed_until,
                   standing=e.standing, standing_note=e.standing_note, in_force=e.in_force,
                   disputed=e.disputed, basis_records=[strawberry.ID(b) for b in e.basis_records])


@strawberry.type(description="The published lists, newest first; no totalCount (entries in force are "
                 "decided row by row, so a count would read the whole list).")
class ListEntryConnection(Connection[ListEntry]):
    @strawberry.field(deprecation_reason="Use edges { node }; " + DEPRECATED_ONE_RELEASE)
    def nodes(self) -> list[ListEntry]:
        return [e.node for e in self.edges]


@strawberry.type
class ListRule:
    id: strawberry.ID
    kind: ListKind
    provider_code: str
    name: str
    doc_number: str
    criteria: str
    listing_months: int | None
    published_at: dt.datetime


@strawberry.type
class Measure:
    code: str
    version: int
    name: str
    kind: str = strawberry.field(description="reward (Art. 27) or punishment (Art. 28)")
    clause: str
    legal_basis: str
    originating_org: str
    originating_name: str
    implementing_bodies: list[str]
    target_lists: list[str]
    target_providers: list[str]
    scenarios: list[str]
    valid_from: dt.date
    valid_until: dt.date | None

    @classmethod
    def of(cls, m) -> Measure:
        return cls(**{f: m[f] for f in ("code", "version", "name", "kind", "clause", "legal_basis", "originating_org",
                                         "originating_name", "implementing_bodies", "target_lists", "target_providers",
                                         "scenarios", "valid_from", "valid_until")})


@strawberry.type
class MeasureHit:
    entry: strawberry.ID
    measure: Measure


@strawberry.type
class CreditCheck:
    id: strawberry.ID
    scenario: str
    subject: Subject
    entries: list[ListEntry]
    listed: bool = strawberry.field(description="on a black or red list in force now")
    measures: list[MeasureHit]
    basis_records: list[Record]
    basis_withheld: int = strawberry.field(description="basis records not disclosed to you (counted, not shown)")
    feedback_due: dt.date | None

    @classmethod
    def of(cls, c: checks.CheckResult) -> CreditCheck:
        return cls(id=strawberry.ID(c.id), scenario=c.scenario, subject=Subject.of(c.subject),
                   entries=[ListEntry.of(e) for e in c.entries], listed=any(e.in_force for e in c.entries),
                   measures=[MeasureHit(entry=strawberry.ID(e), measure=Measure.of(m)) for e, m in c.measures],
                   basis_records=[Record.of(r) for r in c.basis], basis_withheld=c.basis_withheld,
                   feedback_due=c.feedback_due)


@strawberry.input
class ListRuleInput:
    kind: ListKind
    name: str
    doc_number: str
    criteria: str
    listing_months: int | None = None


@strawberry.input
class ListEntryInput:
    subject_key: str
    kind: ListKind
    rule_id: strawberry.ID
    case_number: str
    reason: str
    basis_record_ids: list[strawberry.ID]
    decided_on: dt.date
    listed_from: dt.date | None = None
    listed_until: dt.date | None = None


@strawberry.input
class MeasureInput:
    code: str
    name: str
    kind: str
    clause: str
    legal_basis: str
    originating_org: str
    originating_name: str
    implementing_bodies: list[str]
    target_lists: list[str]
    scenarios: list[str]
    valid_from: dt.date
    target_providers: list[str] | None = None
    valid_until: dt.date | None = None


@strawberry.input
class AppliedMeasure:
    measure: str
    applied: bool
    note: str | None = None


@strawberry.type
class CheckFeedback:
    check: strawberry.ID
    at: dt.datetime
    applied: strawberry.scalars.JSON


@strawberry.type
class CheckStat:
    organisation_code: str
    organisation_name: str | None
    scenario: str
    checks: int
    with_entries: int
    with_feedback: int
    feedback_overdue: int


@strawberry.type
class MeasureStat:
    measure: str
    scenario: str
    applied: int
    not_applied: int


@strawberry.type
class CheckStatistics:
    by_organisation: list[CheckStat]
    by_measure: list[MeasureStat]


@strawberry.type
class OverdueCheck:
    check: strawberry.ID
    at: dt.datetime
    organisation_code: str
    scenario: str
    subject_key: str
    feedback_due: dt.date


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
