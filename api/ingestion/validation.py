"""Catalog conformance of one submitted record (Art. 9, 11-14). Pure: returns the stored form
or the first broken rule, named by field and rule, in words a clerk understands."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..catalog import CatalogItem
from ..identifiers import RESIDENT_ID, USCC, IdentifierError, parse_subject_key

SUBJECT_TYPES = ("natural_person", "legal_person", "unincorporated_org", "individual_business")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Rejection:
    field: str
    rule: str
    message: str


@dataclass(frozen=True)
class RecordInput:
    subject_key: str
    subject_type: str
    subject_name: str
    item_code: str
    source_ref: str
    decided_on: dt.date
    data: dict[str, Any]
    document_type: str | None = None


@dataclass(frozen=True)
class ValidRecord:
    subject_key: str
    key_type: str
    subject_type: str
    subject_name: str
    item: CatalogItem
    source_ref: str
    decided_on: dt.date
    data: dict[str, Any]


def _check_value(field: str, type_: str, codes: tuple[str, ...], value: Any) -> Rejection | None:
    if type_ == "date":
        if not isinstance(value, str) or not _DATE.match(value):
            return Rejection(field, "date", f"{field} must be a date written YYYY-MM-DD, not {value!r}")
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return Rejection(field, "date", f"{field}: {value} is not a real date")
    elif type_ == "amount":
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return Rejection(field, "amount", f"{field} must be a number, not {value!r}")
        if isinstance(value, bool) or not amount.is_finite() or amount < 0:
            return Rejection(field, "amount", f"{field} must be a non-negative amount")
    elif type_ == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return Rejection(field, "integer", f"{field} must be a whole number, not {value!r}")
    elif type_ == "code":
        if str(value) not in codes:
            return Rejection(
                field, "code_list", f"{field} must be one of {', '.join(codes)}, not {value!r}"
            )
    elif not isinstance(value, str):
        return Rejection(field, "text", f"{field} must be text")
    return None


def validate_record(
    rec: RecordInput,
    item: CatalogItem | None,
    provider_org: str,
    today: dt.date,
    *,
    legacy_uscc: frozenset[str] = frozenset(),
) -> ValidRecord | Rejection:
    if item is None:
        return Rejection("itemCode", "catalog", f"{rec.item_code!r} is not an item of the catalog")
    if item.provider_org != provider_org:
        return Rejection(
            "itemCode",
            "provider_assignment",
            f"the catalog assigns {item.code} ({item.name}) to {item.provider_name}, "
            "not to your organisation",
        )
    try:
        key = parse_subject_key(
            rec.subject_key, document_type=rec.document_type, legacy_uscc=legacy_uscc
        )
    except IdentifierError as e:
        return Rejection("subjectKey", e.rule, f"subject key {rec.subject_key!r}: {e}")
    if rec.subject_type not in SUBJECT_TYPES:
        return Rejection(
            "subjectType", "subject_type", f"subject type must be one of {', '.join(SUBJECT_TYPES)}"
        )
    is_person = rec.subject_type == "natural_person"
    if is_person == (key.kind == USCC):
        expected = "a resident ID or identity document" if is_person else "a unified social credit code"
        return Rejection(
            "subjectType", "subject_type_key", f"a {rec.subject_type} is identified by {expected}"
        )
    if key.kind == USCC and rec.subject_type == "individual_business" and not key.value.startswith("92"):
        return Rejection(
            "subjectType",
            "subject_type_key",
            "an individual business's code starts with 92 (registration kind 9, type 2)",
        )
    name = (rec.subject_name or "").strip()
    if not name:
        return Rejection("subjectName", "required", "the subject's name is required")
    source_ref = (rec.source_ref or "").strip()
    if not source_ref:
        return Rejection("sourceRef", "required", "the provider's own reference is required")
    if rec.decided_on > today:
        return Rejection("decidedOn", "future_date", f"decision date {rec.decided_on} is in the future")
    if key.kind == RESIDENT_ID and rec.decided_on < dt.date(
        int(key.value[6:10]), int(key.value[10:12]), int(key.value[12:14])
    ):
        return Rejection("decidedOn", "before_birth", "decision date is before the subject's birth")
    if not isinstance(rec.data, dict):
        return Rejection("data", "object", "data must be an object of catalog fields")
    for f in item.fields:
        value = rec.data.get(f.name)
        if value is None or value == "":
            if f.required:
                return Rejection(f"data.{f.name}", "required", f"{f.label} ({f.name}) is required")
            continue
        problem = _check_value(f"data.{f.name}", f.type, f.codes, value)
        if problem:
            return problem
    unknown = sorted(k for k in rec.data if item.field(k) is None)
    if unknown:
        return Rejection(
            f"data.{unknown[0]}",
            "unknown_field",
            f"{', '.join(unknown)} not in the catalog definition of {item.code}; "
            "only catalog fields are collected (Art. 9)",
        )
    data = {k: v for k, v in rec.data.items() if v is not None and v != ""}
    return ValidRecord(
        subject_key=key.value,
        key_type=key.kind,
        subject_type=rec.subject_type,
        subject_name=name,
        item=item,
        source_ref=source_ref,
        decided_on=rec.decided_on,
        data=data,
    )
