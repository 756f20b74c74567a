"""Credit reports (Art. 18, 36): issue one, read it back, check it publicly.

Issuing is a lookup: `look_up` reads, decides and writes the log row, and in the same
transaction the report (its document, digest and signature) is stored, so a report exists
exactly when its disclosure is logged. The PDF is rendered from the stored document afterwards
in a worker thread, and again on a later download if that failed. Who may obtain a report: the
subject itself, real-name verified; a state organ with an Art. 29 purpose; a grantee holding an
effective authorization of the subject for the purpose (then only its scope, as the policy
decides line by line). Anyone else is refused, and the refusal is logged."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from ..audit.repository import LogEntry, record_queries
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..disclosure import repository as disclosure_repository
from ..disclosure.rules import CHINA_TIME
from ..disclosure.service import Disclosure, log_refusal, look_up, normalise_keys
from ..disclosure.views import SubjectView
from ..errors import DomainError, Forbidden, InvalidInput, NotFound
from ..i18n import _
from ..lists.service import entries_for
from ..pagination import Page, check_first, page_of, time_key_after, time_key_cursor
from . import content, pdf, repository
from .signing import ReportKeys

log = logging.getLogger("credit.reports")

NUMBER = re.compile(r"^XY\d{8}\d{8}$")
DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
OPERATION = "creditReport"
ABOUT_PAGE_MAX = 200  # reportsIssued: first is 1 to this
# PDFs are rendered in worker threads, at most this many at once per process: rendering is CPU
# work, and reports must not crowd out lookups.
RENDERING = asyncio.Semaphore(2)


@dataclass(frozen=True)
class Reports:
    """What issuing and checking need that lives as long as the app."""

    disclosure: Disclosure
    keys: ReportKeys
    public_url: str

    @property
    def pool(self) -> asyncpg.Pool:
        return self.disclosure.pool

    def check_link(self, number: str, digest: str) -> str:
        return f"{self.public_url}/reports/check?number={number}&digest={digest}"


@dataclass(frozen=True)
class IssuedReport:
    number: str
    digest: str
    document: dict[str, Any]


@dataclass(frozen=True)
class ReportCheck:
    genuine: bool
    issued_at: dt.datetime | None
    subject_data_changed: bool | None
    checked_at: dt.datetime


def report_basis(principal: Principal, key: str) -> str:
    """Who may obtain a report on `key`, and on what ground (refusals name the rule)."""
    if principal.has("subject") and principal.subject_key == key:
        if not principal.real_name_verified:
            raise Forbidden(_("complete real-name verification before obtaining your own credit report (Art. 19)"), rule="art19_verification")
        return "self"
    if principal.has("state_organ"):
        return "duty"  # the Art. 29 purpose is checked by the lookup itself
    if principal.has("credit_service") and principal.org_code:
        return "authorization"
    raise Forbidden(_("credit reports are issued only to the subject itself, state organs querying for a duty and organisations the subject authorized"),
                    rule="report_requester")


def _requester(p: Principal) -> dict[str, Any]:
    return {"user": p.user_id, "name": p.name, "org": p.org_code, "orgName": p.org_name,
            "roles": list(p.roles)}


def records_digest(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


async def issue_report(r: Reports, principal: Principal, request: RequestInfo, *, key: str,
                       purpose: str | None) -> IssuedReport:
    d = r.disclosure
    key = normalise_keys([key], 1, d.legacy_uscc)[0]
    try:
        basis = report_basis(principal, key)
        if basis == "authorization" and not (purpose or "").strip():
            raise InvalidInput(_("a credit report issued under an authorization states its purpose"), field="purpose",
                               rule="art19_purpose")
    except DomainError as refusal:
        await log_refusal(r.disclosure, principal, request, [key], purpose, OPERATION, refusal)
        raise
    issued: dict[str, IssuedReport] = {}

    async def store(conn: asyncpg.Connection, views: dict[str, SubjectView], now: dt.datetime) -> None:
        view = views.get(key)
        if view is None:
            return  # logged as not_found by the lookup
        if basis == "authorization" and not await disclosure_repository.grantee_authorizations(
            conn, [view.subject.key], principal.org_code, purpose
        ):
            raise Forbidden(_("no valid written authorization of this subject for this purpose: no credit report can be issued (Art. 19)"),
                            rule="art19_authorization")
        issued["report"] = await _store(r, conn, principal, view, purpose, basis, now)

    try:
        views = await look_up(r.disclosure, principal, request, keys=[key], purpose=purpose,
                              operation=OPERATION, within=store)
    except Forbidden as refusal:  # raised inside the transaction: nothing stored, log the refusal
        await log_refusal(r.disclosure, principal, request, [key], purpose, OPERATION, refusal)
        raise
    if views[0] is None:
        raise NotFound(_("no such subject"), field="subject", rule="not_found")
    report = issued["report"]
    await ensure_pdf(r, report.number)
    return report


async def _store(r: Reports, conn, principal, view, purpose, basis, now) -> IssuedReport:
    rows = await repository.line_meta(conn, [rec.id for rec in view.records])
    meta = {m["id"]: content.LineMeta(m["version"], tuple(m["reasons"] or ()), m["provider_name"],
                                      m["updated_at"]) for m in rows}
    seq = await repository.next_number(conn)
    number = f"XY{now.astimezone(CHINA_TIME):%Y%m%d}{seq % 10**8:08d}"
    entries = (await entries_for(conn, [view.subject.key], now.astimezone(CHINA_TIME).date(), principal))[view.subject.key]
    document = content.build(number=number, issued_at=now, view=view, meta=meta,
                             requester=_requester(principal), purpose=purpose, basis=basis,
                             check_url=f"{r.public_url}/reports/check", entries=entries)
    body = content.canonical(document)
    digest = hashlib.sha256(body).digest()
    state = await repository.records_state(conn, view.subject.key)
    await repository.insert_report(
        conn, number, view.subject.key, purpose, basis, principal.user_id, principal.name,
        principal.org_code, principal.org_name, list(principal.roles), now, body, digest,
        records_digest(state), r.keys.sign(body), r.keys.key_id, len(view.records),
    )
    return IssuedReport(number=number, digest=digest.hex(), document=document)


async def ensure_pdf(r: Reports, number: str) -> bytes | None:
    """The report's signed PDF: stored, or rendered now in a worker thread and stored."""
    async with r.pool.acquire() as conn:
        stored = await repository.pdf(conn, number)
        row = None if stored is not None else await repository.report(conn, number)
    if stored is not None:
        return stored
    if row is None:
        return None
    document = orjson.loads(row["document"])
    digest = bytes(row["document_sha256"]).hex()
    try:
        async with RENDERING:
            made = await asyncio.to_thread(_render_signed, r, document, digest, number)
    except Exception:  # the report stands; its PDF is made again on the next download
        log.exception("rendering report %s failed", number)
        return None
    async with transaction(r.pool) as conn:
        await repository.insert_pdf(conn, number, made)
        return await repository.pdf(conn, number)


def _render_signed(r: Reports, document: dict[str, Any], digest: str, number: str) -> bytes:
    unsigned = pdf.render(document, digest, r.check_link(number, digest))
    return pdf.sign(unsigned, r.keys.pdf_key_file, r.keys.pdf_cert_file, number)


def may_read(principal: Principal, row: asyncpg.Record) -> bool:
    """The requester that obtained it, and the subject itself (verified)."""
    if principal.user_id and principal.user_id == row["requester_user"] and principal.org_code == row["requester_org"]:
        return True
    return (principal.has("subject") and principal.real_name_verified
            and principal.subject_key == row["subject_key"])


async def read_report(r: Reports, principal: Principal, request: RequestInfo, number: str,
                      form: str) -> tuple[asyncpg.Record, bytes]:
    """A stored report's document (form 'json') or PDF ('pdf') for whoever may read it; the
    read is logged like a lookup. Anyone else gets NOT_FOUND, as if no such report existed."""
    if not NUMBER.match(number):
        raise NotFound(_("no such credit report"), field="number", rule="not_found")
    async with transaction(r.pool) as conn:
        row = await repository.report(conn, number)
        if row is None or not may_read(principal, row):
            raise NotFound(_("no such credit report"), field="number", rule="not_found")
        entry = LogEntry("report.read", row["subject_key"], row["purpose"], "disclosed",
                         disclosed=[{"report": number, "form": form, "records": row["record_count"]}])
        await record_queries(conn, principal, request, [entry], at=await conn.fetchval("SELECT now()"))
    if form == "json":
        return row, bytes(row["document"])
    made = await ensure_pdf(r, number)
    if made is None:
        raise NotFound(_("the report's PDF cannot be made just now; try again later or download the JSON"), field="number", rule="pdf_unavailable")
    return row, made


async def check_report(r: Reports, request: RequestInfo, number: str, digest: str) -> ReportCheck:
    """The public check: genuine or not, and whether the subject's data changed since issue.
    No content is disclosed; a wrong digest and an unknown number answer alike."""
    number, digest = number.strip(), digest.strip().lower()
    if not NUMBER.match(number):
        raise InvalidInput(_("a report number is XY and 16 digits"), field="number", rule="report_number")
    if not DIGEST.match(digest):
        raise InvalidInput(_("the report digest is a 64-digit hexadecimal SHA-256"), field="digest", rule="sha256_hex")
    async with transaction(r.pool) as conn:
        now = await conn.fetchval("SELECT now()")
        row = await repository.report(conn, number)
        genuine = bool(
            row is not None
            and bytes(row["document_sha256"]).hex() == digest
            and hashlib.sha256(bytes(row["document"])).hexdigest() == digest
            and r.keys.verify(bytes(row["document"]), bytes(row["signature"]))
        )
        if not genuine:
            return ReportCheck(False, None, None, now)
        changed = records_digest(await repository.records_state(conn, row["subject_key"])) != bytes(row["records_sha256"])
        from ..auth.principal import ANONYMOUS

        entry = LogEntry("report.check", row["subject_key"], None, "disclosed",
                         disclosed=[{"report": number, "changed": changed}])
        await record_queries(conn, ANONYMOUS, request, [entry], at=now)
    return ReportCheck(True, row["issued_at"], changed, now)


async def reports_about(
    r: Reports, principal: Principal, *, first: int, after: str | None
) -> Page[asyncpg.Record]:
    """Art. 36: who obtained a report on the subject, and when (the subject itself, verified)."""
    if not (principal.has("subject") and principal.real_name_verified and principal.subject_key):
        raise Forbidden(_("only the real-name verified subject itself may see this"), rule="self_verified")
    check_first(first, ABOUT_PAGE_MAX)
    key, position = principal.subject_key, time_key_after(after, "report")
    async with r.pool.acquire() as conn:
        rows = await repository.about_subject(conn, key, position, first + 1)

    async def count() -> int:
        async with r.pool.acquire() as conn:
            return await repository.count_about_subject(conn, key)

    return page_of(rows, first, lambda row: time_key_cursor("report", row["issued_at"], row["number"]),
                   after=after, count=count)
