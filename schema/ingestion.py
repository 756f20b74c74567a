"""Collection over GraphQL: submitRecords (bounded), a record's version history, and the
timeliness monitor. The bulk upload is plain HTTP (POST /upload/records, api/ingestion/upload)."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.ingestion.batch import Outcome
from api.ingestion.history import record_history
from api.ingestion.record import RecordInput as RecordInputData
from api.ingestion.service import submit_records
from api.ingestion.timeliness import timeliness_report

from .context import Context
from .errors import call
from .types import SubjectType


@strawberry.input
class RecordInput:
    subject_key: str
    subject_type: SubjectType
    subject_name: str
    item_code: str
    source_ref: str = strawberry.field(description="The provider's own reference; identifies the record.")
    decided_on: dt.date
    data: JSON
    document_type: str | None = strawberry.field(
        default=None,
        description="For natural persons without a resident ID: passport, hk_macao_permit, "
        "taiwan_permit or foreign_permanent_residence.",
    )
    consent_ref: str | None = strawberry.field(
        default=None,
        description="Art. 11: reference of the subject's written consent, needed for a natural "
        "person's income, deposits, securities, commercial insurance, real estate or tax amount.",
    )
    change_reason: str | None = strawberry.field(
        default=None,
        description="Art. 16: why a stored record (same sourceRef) is corrected; makes a new version.",
    )


@strawberry.enum
class SubmitStatus(Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@strawberry.type
class SubmitResult:
    index: int
    source_ref: str | None
    status: SubmitStatus
    record_id: strawberry.ID | None
    version: int | None
    field: str | None
    rule: str | None
    message: str | None
    due_on: dt.date | None = strawberry.field(description="Art. 13 deadline, for 双公示 items.")
    late: bool | None
    provisional: bool = strawberry.field(
        description="The deadline counts days of a year whose official holiday schedule is not loaded yet."
    )

    @classmethod
    def of(cls, o: Outcome) -> SubmitResult:
        r = o.rejection
        return cls(
            index=o.line,
            source_ref=o.source_ref,
            status=SubmitStatus(o.status),
            record_id=strawberry.ID(o.record_id) if o.record_id else None,
            version=o.version,
            field=r.field if r else None,
            rule=r.rule if r else None,
            message=r.message if r else None,
            due_on=o.due_on,
            late=o.late,
            provisional=o.provisional,
        )


@strawberry.type
class RecordVersion:
    version: int
    subject_name: str | None
    decided_on: dt.date
    data: JSON
    consent_ref: str | None
    catalog_year: int | None
    reason: str | None = strawberry.field(description="Why this version replaced the one before.")
    submitted_by: str | None = strawberry.field(description="The provider's user; not shown to the subject.")
    submitted_by_name: str | None
    submitted_at: dt.datetime
    channel: str


@strawberry.type
class RecordHistory:
    record_id: strawberry.ID
    subject_key: str
    item_code: str
    provider_org: str
    source_ref: str
    status: str
    versions: list[RecordVersion]


@strawberry.type
class TimelinessRow:
    provider_org: str | None
    provider_name: str | None
    county: str | None = strawberry.field(description="Division code of the provider organisation.")
    received: int
    with_deadline: int
    on_time: int
    late: int
    provisional: int
    on_time_rate: float | None


@strawberry.type
class LateRecord:
    record_id: strawberry.ID
    provider_org: str
    item_code: str
    source_ref: str
    decided_on: dt.date
    received_on: dt.date
    due_on: dt.date
    provisional: bool


@strawberry.type
class TimelinessReport:
    since: dt.date
    until: dt.date
    providers: list[TimelinessRow]
    counties: list[TimelinessRow]
    late_records: list[LateRecord]


def _row(r) -> TimelinessRow:
    return TimelinessRow(
        provider_org=r.provider_org, provider_name=r.provider_name, county=r.county,
        received=r.received, with_deadline=r.with_deadline, on_time=r.on_time, late=r.late,
        provisional=r.provisional, on_time_rate=r.on_time_rate,
    )


@strawberry.type
class IngestionQuery:
    @strawberry.field(
        description="Art. 16, 36: every version of a record with who, when and why. For the subject "
        "(real-name verified) and the provider of the record; logged."
    )
    async def record_history(self, info: Info[Context, None], id: strawberry.ID) -> RecordHistory:
        ctx = info.context
        h = await call(record_history(
            ctx.state.pool, ctx.principal, ctx.request, str(id),
            policy=ctx.state.policy, catalog=ctx.state.catalog,
        ))
        return RecordHistory(
            record_id=strawberry.ID(h.record_id), subject_key=h.subject_key, item_code=h.item_code,
            provider_org=h.provider_org, source_ref=h.source_ref, status=h.status,
            versions=[RecordVersion(**vars(v)) for v in h.versions],
        )

    @strawberry.field(
        description="Art. 13, 15: records received in the period per provider and per county, "
        "on-time rate of 双公示 records, late records. Data office, credit office, auditors; a "
        "provider sees its own."
    )
    async def collection_timeliness(
        self, info: Info[Context, None], since: dt.date, until: dt.date
    ) -> TimelinessReport:
        ctx = info.context
        rep = await call(timeliness_report(ctx.state.pool, ctx.principal, since, until))
        return TimelinessReport(
            since=rep.since, until=rep.until,
            providers=[_row(r) for r in rep.providers], counties=[_row(r) for r in rep.counties],
            late_records=[
                LateRecord(
                    record_id=strawberry.ID(r.record_id), provider_org=r.provider_org,
                    item_code=r.item_code, source_ref=r.source_ref, decided_on=r.decided_on,
                    received_on=r.received_on, due_on=r.due_on, provisional=r.provisional,
                )
                for r in rep.late_records
            ],
        )


@strawberry.type
class IngestionMutation:
    @strawberry.mutation(
        description="A provider submits records of items the catalog assigns to it; at most 500. "
        "Per record: CREATED, UPDATED (new version), UNCHANGED or REJECTED with field, rule, message."
    )
    async def submit_records(
        self, info: Info[Context, None], records: list[RecordInput]
    ) -> list[SubmitResult]:
        ctx = info.context
        results = await call(
            submit_records(
                ctx.state.pool,
                ctx.state.catalog,
                ctx.principal,
                [
                    RecordInputData(
                        subject_key=r.subject_key,
                        subject_type=r.subject_type.value,
                        subject_name=r.subject_name,
                        item_code=r.item_code,
                        source_ref=r.source_ref,
                        decided_on=r.decided_on,
                        data=r.data,
                        document_type=r.document_type,
                        consent_ref=r.consent_ref,
                        change_reason=r.change_reason,
                    )
                    for r in records
                ],
                max_records=ctx.state.settings.submit_max_records,
                calendar=getattr(ctx.state, "calendar", None),
                request=ctx.request,
                legacy_uscc=ctx.state.settings.legacy_uscc,
            )
        )
        return [SubmitResult.of(r) for r in results]
