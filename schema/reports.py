"""GraphQL for credit reports: issue one (`creditReport`), check one publicly (`verifyReport`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.reports.service import check_report, issue_report

from .context import Context
from .errors import call


@strawberry.type
class ReportSectionCount:
    code: str
    title: str
    count: int


@strawberry.type
class ReportSummary:
    records: int
    sections: list[ReportSectionCount]
    disputed: int
    repaired: int
    archived: int
    withheld_records: int


@strawberry.type
class ReportLine:
    record: strawberry.ID
    item: str
    item_name: str
    provider: str
    decided_on: dt.date
    version: int
    change_reasons: list[str] = strawberry.field(description="why each later version replaced the one before")
    marks: list[str] = strawberry.field(description="disputed (objection open), repaired, archived")
    fields: JSON = strawberry.field(description="[{name, label, value}] as disclosed to the caller")
    fields_withheld: int


@strawberry.type
class ReportSection:
    code: str
    title: str
    lines: list[ReportLine]


@strawberry.type
class ReportWithheld:
    disclosure: str
    class_name: str
    scope: str
    count: int
    reason_code: str


@strawberry.type(description="A credit report as issued: its number and digest identify it; the "
                 "PDF and the JSON (with its detached Ed25519 signature) are downloaded by URL.")
class CreditReport:
    number: str
    issued_at: dt.datetime
    valid_until: dt.date
    digest: str = strawberry.field(description="SHA-256 (hex) of the signed JSON document")
    subject_key: strawberry.ID
    subject_name: str
    purpose: str | None
    basis: str
    summary: ReportSummary
    sections: list[ReportSection]
    withheld: list[ReportWithheld]
    statements: list[str]
    pdf_url: str
    json_url: str
    signature_url: str
    check_url: str

    @classmethod
    def of(cls, number: str, digest: str, doc: dict[str, Any], check_url: str) -> CreditReport:
        s = doc["summary"]
        return cls(
            number=number, issued_at=dt.datetime.fromisoformat(doc["issuedAt"]),
            valid_until=dt.date.fromisoformat(doc["validUntil"]), digest=digest,
            subject_key=strawberry.ID(doc["subject"]["key"]), subject_name=doc["subject"]["name"],
            purpose=doc["purpose"], basis=doc["basis"],
            summary=ReportSummary(
                records=s["records"],
                sections=[ReportSectionCount(code=sec["code"], title=sec["title"], count=len(sec["lines"]))
                          for sec in doc["sections"]],
                disputed=s["marks"]["disputed"], repaired=s["marks"]["repaired"],
                archived=s["marks"]["archived"], withheld_records=s["withheldRecords"],
            ),
            sections=[ReportSection(code=sec["code"], title=sec["title"], lines=[
                ReportLine(record=strawberry.ID(ln["record"]), item=ln["item"], item_name=ln["itemName"],
                           provider=ln["provider"], decided_on=dt.date.fromisoformat(ln["decidedOn"]),
                           version=ln["version"], change_reasons=ln["changeReasons"], marks=ln["marks"],
                           fields=ln["fields"], fields_withheld=ln["fieldsWithheld"])
                for ln in sec["lines"]]) for sec in doc["sections"]],
            withheld=[ReportWithheld(disclosure=w["class"], class_name=w["className"], scope=w["scope"],
                                     count=w["count"], reason_code=w["reasonCode"]) for w in doc["withheld"]],
            statements=doc["statements"],
            pdf_url=f"/reports/{number}.pdf", json_url=f"/reports/{number}.json",
            signature_url=f"/reports/{number}.json.sig", check_url=check_url,
        )


@strawberry.type
class ReportCheckResult:
    genuine: bool
    issued_at: dt.datetime | None
    subject_data_changed: bool | None = strawberry.field(
        description="Whether the subject's records changed (corrected, added, deleted, repaired) since issue")
    checked_at: dt.datetime


@strawberry.type
class ReportsQuery:
    @strawberry.field(description="Public check of a report by its number and digest: genuine or "
                      "not, and whether the subject's data changed since issue. Discloses no content.")
    async def verify_report(self, info: Info[Context, None], number: str, digest: str) -> ReportCheckResult:
        ctx = info.context
        c = await call(check_report(ctx.state.reports, ctx.request, number, digest))
        return ReportCheckResult(genuine=c.genuine, issued_at=c.issued_at,
                                 subject_data_changed=c.subject_data_changed, checked_at=c.checked_at)


@strawberry.type
class ReportsMutation:
    @strawberry.mutation(description="Issue a credit report (Art. 18, 36) for the subject itself "
                         "(verified), a state organ with an Art. 29 purpose, or a grantee under the "
                         "subject's effective authorization for `purpose`. Disclosure rules apply line "
                         "by line; issuing is logged like a lookup; refusals are logged.")
    async def credit_report(self, info: Info[Context, None], subject: strawberry.ID,
                            purpose: str | None = None) -> CreditReport:
        ctx = info.context
        r = ctx.state.reports
        issued = await call(issue_report(r, ctx.principal, ctx.request, key=str(subject), purpose=purpose))
        return CreditReport.of(issued.number, issued.digest, issued.document,
                               r.check_link(issued.number, issued.digest))
