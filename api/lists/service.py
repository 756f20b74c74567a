"""Red and black lists (Art. 25): providers publish their identification rules and keep entries;
the lists are public (及时向社会公布), with natural persons masked for the public; every change
is an act in the trail and every read that shows a subject is a query-log row."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from ..audit.repository import LogEntry, record_queries
from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..disclosure.rules import CHINA_TIME, add_months, mask_name
from ..errors import Forbidden, InvalidInput, NotFound
from ..i18n import _
from ..identifiers import IdentifierError, mask_resident_id, parse_subject_key
from ..pagination import Page, check_first
from . import repository
from .rules import KINDS, BasisRecord, EntryFacts, standing

MAX_TEXT = 2000
PAGE_MAX = 100


@dataclass(frozen=True)
class EntryView:
    id: str
    kind: str
    subject_key: str
    subject_name: str
    rule_id: str
    rule_name: str
    doc_number: str
    provider_org: str
    provider_name: str
    case_number: str
    reason: str
    decided_on: dt.date
    listed_from: dt.date
    listed_until: dt.date | None
    standing: str
    standing_note: str | None
    basis_records: tuple[str, ...]
    disputed: bool = False  # an open objection to the entry itself (api/rights/entry_objections.py)

    @property
    def in_force(self) -> bool:
        return self.standing == "in_force"


def today_in_china(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(CHINA_TIME).date()


def sees_in_full(principal: Principal, row: asyncpg.Record) -> bool:
    """Names and identity numbers of natural persons are for the subject itself, state organs,
    the provider that listed it and the offices; the public sees them masked."""
    if row["subject_type"] != "natural_person":
        return True
    if principal.subject_key == row["subject_key"] and principal.real_name_verified:
        return True
    if principal.org_code == row["provider_org"]:
        return True
    return bool({"state_organ", "credit_office", "data_office", "auditor"} & set(principal.roles))


def view_of(row: asyncpg.Record, today: dt.date, principal: Principal) -> EntryView:
    statuses, versions = row["basis_status"] or [], row["basis_version_now"] or []
    facts = EntryFacts(
        state=row["state"], listed_from=row["listed_from"], listed_until=row["listed_until"],
        basis=tuple(BasisRecord(rid, st, v, lv) for rid, st, v, lv in
                    zip(row["basis_records"], statuses, versions, row["basis_versions"], strict=True)),
    )
    status, note = standing(facts, today)
    full = sees_in_full(principal, row)
    return EntryView(
        id=row["id"], kind=row["kind"],
        subject_key=row["subject_key"] if full else mask_resident_id(row["subject_key"]),
        subject_name=row["subject_name"] if full else mask_name(row["subject_name"]),
        rule_id=row["rule_id"], rule_name=row["rule_name"], doc_number=row["doc_number"],
        provider_org=row["provider_org"], provider_name=row["provider_name"],
        case_number=row["case_number"], reason=row["reason"], decided_on=row["decided_on"],
        listed_from=row["listed_from"], listed_until=row["listed_until"],
        standing=row["state"] if row["state"] != "listed" else status,
        standing_note=row["end_reason"] if row["state"] != "listed" else note,
        basis_records=tuple(row["basis_records"]) if full else (),
        disputed=row["disputed"],
    )


def _text(value: str | None, field: str, *, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput(_("{field} is required", field=field), field=field, rule="required")
        return None
    if len(value) > MAX_TEXT:
        raise InvalidInput(_("{field} is at most {max_text} characters", field=field, max_text=MAX_TEXT), field=field, rule="length")
    return value


def _provider(principal: Principal) -> str:
    if not principal.has("provider") or not principal.org_code:
        raise Forbidden(_("only a provider designates and maintains list entries (Art. 25)"), rule="art25_provider")
    return principal.org_code


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(_("the list kind is red (trustworthy) or black (dishonest)"), field="kind", rule="list_kind")
    return kind


async def publish_rule(pool, principal: Principal, request: RequestInfo, *, kind: str, name: str,
                       doc_number: str, criteria: str, listing_months: int | None) -> asyncpg.Record:
    """Art. 25: a provider publishes the identification rule its entries are made under."""
    org = _provider(principal)
    kind = _kind(kind)
    if listing_months is not None and not 1 <= listing_months <= 120:
        raise InvalidInput(_("listingMonths is 1 to 120 months"), field="listingMonths", rule="range")
    async with transaction(pool) as conn:
        row = await repository.insert_rule(conn, org, kind, _text(name, "name"), _text(doc_number, "docNumber"),
                                           _text(criteria, "criteria"), listing_months, principal.user_id)
        if row is None:
            raise InvalidInput(_("the rule with document number {doc_number} is already published", doc_number=doc_number), field="docNumber", rule="duplicate")
        await record_act(conn, principal, kind="list", operation="list.rule.publish", request=request,
                         details={"rule": str(row["id"]), "kind": kind, "doc_number": row["doc_number"]})
    return row


async def add_entry(pool, principal: Principal, request: RequestInfo, *, subject_key: str, kind: str,
                    rule_id: str, case_number: str, reason: str, basis_record_ids: list[str],
                    decided_on: dt.date, listed_from: dt.date | None, listed_until: dt.date | None) -> str:
    """Art. 25: list a subject under the provider's own rule, resting on its own records about
    that subject (black: dishonesty records; red: others), live when listed."""
    org = _provider(principal)
    kind = _kind(kind)
    try:
        key = parse_subject_key(subject_key).value
        rid = uuid.UUID(rule_id)
        basis_ids = [str(uuid.UUID(b)) for b in dict.fromkeys(basis_record_ids)]
    except IdentifierError as e:
        raise InvalidInput(_("subjectKey: {e}", e=e), field="subjectKey", rule=e.rule) from None
    except ValueError:
        raise InvalidInput(_("ruleId and basisRecordIds are record ids (UUID)"), field="basisRecordIds", rule="uuid") from None
    if not basis_ids or len(basis_ids) > 50:
        raise InvalidInput(_("a list entry rests on 1 to 50 records"), field="basisRecordIds", rule="basis_count")
    listed_from = listed_from or decided_on
    async with transaction(pool) as conn:
        rule = await repository.rule(conn, rid)
        if rule is None or rule["provider_org"] != org or rule["kind"] != kind:
            raise InvalidInput(_("the rule must be one your organisation published for this list kind"), field="ruleId", rule="own_rule")
        if listed_until is None and rule["listing_months"]:
            listed_until = add_months(listed_from, rule["listing_months"])
        if listed_until is not None and listed_until < listed_from:
            raise InvalidInput(_("listedUntil is before listedFrom"), field="listedUntil", rule="period")
        found = {r["id"]: r for r in await repository.basis(conn, basis_ids)}
        for b in basis_ids:
            r = found.get(b)
            if r is None or r["provider_org"] != org or r["subject_key"] != key:
                raise InvalidInput(_("basis record {b} must be a record your organisation provided about this subject", b=b), field="basisRecordIds", rule="own_record")
            if r["status"] not in ("active", "disputed"):
                raise InvalidInput(_("basis record {b} is {status} and cannot be a basis of a list entry", b=b, status=r['status']), field="basisRecordIds", rule="live_record")
            if r["dishonest"] != (kind == "black"):
                raise InvalidInput(_("basis record {b} does not fit the list kind (a blacklist rests on dishonesty records)", b=b),
                                   field="basisRecordIds", rule="basis_kind")
        entry_id = await repository.insert_entry(
            conn, key, kind, rid, org, _text(case_number, "caseNumber"), _text(reason, "reason"),
            basis_ids, [found[b]["version"] for b in basis_ids], decided_on, listed_from, listed_until,
            principal.user_id)
        if entry_id is None:
            raise InvalidInput(_("case number {case_number} already has a list entry", case_number=case_number), field="caseNumber", rule="duplicate")
        await record_act(conn, principal, kind="list", operation="list.entry.add", subject_key=key, request=request,
                         details={"entry": str(entry_id), "kind": kind, "basis": basis_ids,
                                  "listed_from": listed_from.isoformat(),
                                  "listed_until": listed_until.isoformat() if listed_until else None})
    return str(entry_id)


async def end_entry(pool, principal: Principal, request: RequestInfo, *, entry_id: str, state: str,
                    reason: str, today: dt.date) -> None:
    """The provider ends its entry: `exited` (信用修复 or period served, 移出) or `removed`
    (made in error, 撤销)."""
    org = _provider(principal)
    if state not in ("exited", "removed"):
        raise InvalidInput(_("state is exited or removed"), field="state", rule="end_state")
    try:
        eid = uuid.UUID(entry_id)
    except ValueError:
        raise InvalidInput(_("id is a list entry id (UUID)"), field="id", rule="uuid") from None
    async with transaction(pool) as conn:
        key = await repository.end_entry(conn, eid, state, today, _text(reason, "reason"), org)
        if key is None:
            raise NotFound(_("no listed entry of your organisation with this id"), field="id", rule="not_found")
        await record_act(conn, principal, kind="list", operation=f"list.entry.{state}", subject_key=key,
                         request=request, details={"entry": entry_id, "reason": reason})


def _cursor(row: EntryView) -> str:
    return base64.urlsafe_b64encode(f"{row.listed_from.isoformat()}|{row.id}".encode()).decode()


def _after(cursor: str | None) -> tuple[dt.date | None, uuid.UUID | None]:
    if not cursor:
        return None, None
    try:
        day, _sep, eid = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return dt.date.fromisoformat(day), uuid.UUID(eid)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(_("after is not a cursor this API gave out"), field="after", rule="cursor") from None


async def list_entries(pool, principal: Principal, request: RequestInfo, *, kind: str | None, search: str | None,
                       provider: str | None, first: int, after: str | None,
                       now: dt.datetime | None = None) -> Page[EntryView]:
    """The published lists (Art. 25): entries in force, newest first; a provider also sees its
    own ended ones. `search` is a subject key or part of an organisation's name. Each subject
    shown is a query-log row."""
    if kind is not None:
        _kind(kind)
    search = (search or "").strip() or None
    if search is not None and not 2 <= len(search) <= 60:
        raise InvalidInput(_("search is 2 to 60 characters"), field="search", rule="length")
    key = None
    if search:
        try:
            key = parse_subject_key(search).value
        except IdentifierError:
            key = search
    check_first(first, PAGE_MAX)
    after_from, after_id = _after(after)
    today = today_in_china(now)
    out: list[EntryView] = []
    async with transaction(pool) as conn:
        cursor_from, cursor_id = after_from, after_id
        while len(out) <= first:
            rows = await repository.page(conn, kind, key, search, provider, cursor_from, cursor_id, 200)
            for row in rows:
                v = view_of(row, today, principal)
                if v.in_force or principal.org_code == row["provider_org"]:
                    out.append(v)
            if len(rows) < 200:
                break
            cursor_from, cursor_id = rows[-1]["listed_from"], uuid.UUID(rows[-1]["id"])
        page, more = out[:first], len(out) > first
        subjects = list(dict.fromkeys(row_key for row_key in (await _keys(conn, [v.id for v in page]))))
        if subjects:
            entries = [LogEntry("listEntries", k, None, "disclosed", disclosed=[{"list": True}]) for k in subjects]
            await record_queries(conn, principal, request, entries, at=await conn.fetchval("SELECT now()"))
    return Page(page, [_cursor(v) for v in page], more, after is not None)


async def _keys(conn, entry_ids: list[str]) -> list[str]:
    if not entry_ids:
        return []
    return [r["subject_key"] for r in await conn.fetch(
        "SELECT subject_key FROM list_entries WHERE id = ANY($1::uuid[]) ORDER BY subject_key", entry_ids)]


async def entries_for(conn, keys: list[str], today: dt.date, principal: Principal) -> dict[str, list[EntryView]]:
    """Every entry of these subjects with its standing today (for the credit check)."""
    out: dict[str, list[EntryView]] = {k: [] for k in keys}
    for row in await repository.of_subjects(conn, keys):
        out[row["subject_key"]].append(view_of(row, today, principal))
    return out


def rule_dict(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row)
