"""`credit catalog template ITEM`: a sample CSV for one catalog item — Chinese column names
(api/ingestion/columns.py) and one example row that passes the item's validation — so a
provider learns the columns without reading the catalog. Pure: item and date in, text out.

Art. 11 forbidden fields get no column; where the item has a consent-only field, the example
names a written consent (书面同意编号)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from ..catalog import CatalogItem, FieldDef
from ..identifiers import build_resident_id, build_uscc
from .columns import BASE_LABELS, field_column

EXAMPLE_USCC = build_uscc("91", "130902", "MA0DEM01")
EXAMPLE_RESIDENT_ID = build_resident_id("130902", "19850312", "041")
EXAMPLE_COMPANY = "沧州示例商贸有限公司"
EXAMPLE_PERSON = "张示例"
_PERSON_WORDS = ("自然人", "个人", "志愿", "居民")


def _is_person_item(item: CatalogItem) -> bool:
    return any(w in item.name or w in item.collection_scope for w in _PERSON_WORDS)


def _example(f: FieldDef, subject: tuple[str, str], day: dt.date) -> str:
    key, name = subject
    if f.type == "code":
        return f.codes[0] if f.codes else ""
    if f.type == "date":
        return day.isoformat()
    if f.type == "amount":
        return "1.50"
    if f.type == "integer":
        return "1"
    if f.sensitivity == "subject_name":
        return name
    if f.sensitivity == "person_name":
        return EXAMPLE_PERSON
    if f.sensitivity == "id_number" or "身份证" in f.label:
        return EXAMPLE_RESIDENT_ID
    if "统一社会信用代码" in f.label:
        return key if key == EXAMPLE_USCC else ""
    return f"示例{f.label}"


def template_rows(item: CatalogItem, day: dt.date) -> list[list[str]]:
    """The header and the example row."""
    person = _is_person_item(item)
    subject = (EXAMPLE_RESIDENT_ID, EXAMPLE_PERSON) if person else (EXAMPLE_USCC, EXAMPLE_COMPANY)
    fields = [f for f in item.fields if f.sensitivity != "forbidden"]
    base = {
        "subjectKey": subject[0],
        "subjectType": "自然人" if person else "法人",
        "subjectName": subject[1],
        "itemCode": item.code,
        "sourceRef": f"{item.code}-示例-0001",
        "decidedOn": day.isoformat(),
        "documentType": "",
        "consentRef": "书面同意-示例-0001" if any(f.sensitivity == "consent_only" for f in fields) else "",
        "changeReason": "",
    }
    header = [BASE_LABELS[k] for k in base] + [field_column(item, f.name) for f in fields]
    row = list(base.values()) + [_example(f, subject, day) for f in fields]
    return [header, row]


def template_csv(item: CatalogItem, day: dt.date) -> str:
    """The sample as CSV text, lines ending CRLF as Excel writes them."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(template_rows(item, day))
    return out.getvalue()
