"""A submitted record: as it comes in (`RecordInput`), in its stored form once it passed the
catalog's rules (`ValidRecord`), or the first rule it broke (`Rejection`), named by field and
rule. Plain data, shared by every submission path and by the validator (validation.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..catalog import CatalogItem


@dataclass(frozen=True, slots=True)
class Rejection:
    field: str
    rule: str
    message: str


@dataclass(slots=True)
class RecordInput:
    subject_key: str | None
    subject_type: str | None
    subject_name: str | None
    item_code: str | None
    source_ref: str | None
    decided_on: dt.date | str | None
    data: Any
    document_type: str | None = None
    consent_ref: str | None = None  # Art. 11: the subject's written consent, when needed
    change_reason: str | None = None  # Art. 16: why a stored record is corrected


@dataclass(frozen=True, slots=True)
class ValidRecord:
    subject_key: str
    key_type: str
    subject_type: str
    subject_name: str
    item: CatalogItem
    source_ref: str
    decided_on: dt.date
    data_json: str
    consent_ref: str | None
    change_reason: str | None
