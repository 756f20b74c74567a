"""The GraphQL types of using credit information (Art. 24-32): list entries and rules, measures,
credit checks with their feedback and figures, and the inputs of the lists mutations
(schema/lists.py)."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from api.checks import service as checks
from api.lists.service import EntryView

from .pagination import DEPRECATED_ONE_RELEASE, Connection
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
