"""The bounds of one submitted record, which keep a hostile upload cheap to refuse: the lengths
of its references, names and keys (checked with their fields in validation.py), and the checks
run before any rule reads a field — the number of data fields, the size of each, and characters
PostgreSQL cannot store. Pure."""

from __future__ import annotations

from ..catalog import CatalogItem
from ..i18n import _
from ..text import bad_character, first_unstorable
from .record import RecordInput, Rejection
from .values import MAX_TEXT

MAX_REF = 200
MAX_REASON = 1000
MAX_NAME = 200
MAX_KEY = 64  # a subject key or a document type, far above any real one
FIELD_ALLOWANCE = 8  # data fields a record may carry beyond its item's, before it is refused unread
MAX_FIELD_NAME = 64  # a catalog field name is at most 64 characters (catalog_admin.fields)


def size_limits(data: dict, item: CatalogItem) -> Rejection | None:
    """Per-record bounds, checked before any field is looked at: a row with thousands of field
    names or megabytes of text is refused at the cost of counting them."""
    allowed = len(item.fields) + FIELD_ALLOWANCE
    if len(data) > allowed:
        return Rejection(
            "data", "too_many_fields",
            _("too many fields: {count}, at most {allowed} for {item} ({fields} catalog fields + "
              "{extra})", count=len(data), allowed=allowed, item=item.code,
              fields=len(item.fields), extra=FIELD_ALLOWANCE),
        )
    for name, value in data.items():
        if len(name) > MAX_FIELD_NAME:
            return Rejection(
                f"data.{name[:MAX_FIELD_NAME]}…", "field_name_length",
                _("a field name is longer than {max} characters", max=MAX_FIELD_NAME),
            )
        if value.__class__ is str and len(value) > MAX_TEXT:
            return Rejection(
                f"data.{name}", "length",
                _("{name} is longer than {max} characters", name=name, max=MAX_TEXT),
            )
    return None


_TEXT_FIELDS = (("subjectKey", "subject_key"), ("subjectType", "subject_type"), ("subjectName", "subject_name"),
                ("itemCode", "item_code"), ("sourceRef", "source_ref"), ("decidedOn", "decided_on"),
                ("documentType", "document_type"), ("consentRef", "consent_ref"),
                ("changeReason", "change_reason"))


def unstorable(rec: RecordInput) -> Rejection | None:
    """A control character (NUL above all, which PostgreSQL cannot store) anywhere in the
    record refuses that record alone, naming the field: left to the database it would stop
    the whole upload (api/text.py)."""
    for name, attr in _TEXT_FIELDS:
        value = getattr(rec, attr)
        if value.__class__ is str and (found := bad_character(value)) is not None:
            return _control(name, *found)
    if (found_in := first_unstorable(rec.data, "data")) is not None:
        return _control(*found_in)
    return None


def _control(field: str, position: int, char: str) -> Rejection:
    return Rejection(field, "control_character", _(
        "{field} contains a control character (U+{ch}) and cannot be stored", field=field, ch=f"{ord(char):04X}"))
