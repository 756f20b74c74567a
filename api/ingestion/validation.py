"""Catalog conformance of one submitted record (Art. 9, 11-14). Pure: the stored form of the
record, or the first broken rule, named by field and rule, in words a clerk understands.

Every submission path (submitRecords, the bulk upload, `credit ingest`) runs this same check."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..catalog import Catalog
from ..i18n import N_, _
from ..identifiers import RESIDENT_ID, USCC, IdentifierError, SubjectKey, parse_subject_key
from .art11 import FORBIDDEN, classify
from .limits import MAX_KEY, MAX_NAME, MAX_REASON, MAX_REF, size_limits, unstorable
from .record import RecordInput, Rejection, ValidRecord
from .values import MAX_TEXT, ValueProblem, canonical_json, normalise, parse_date

SUBJECT_TYPES = ("natural_person", "legal_person", "unincorporated_org", "individual_business")


def _forbidden(name: Any, topic: str) -> Rejection:
    return Rejection(
        f"data.{name}",
        "art11_forbidden",
        _("{name} carries {topic} information, which may never be collected (Art. 11); "
          "the whole record is refused — send it again without this field",
          name=name, topic=_(topic)),
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _short(value: Any) -> str:
    """A submitted value as a message shows it: cut short, so a message never grows with the input."""
    text = value if isinstance(value, str) else repr(value) if isinstance(value, int | float | None) else type(value).__name__
    return text if len(text) <= 40 else text[:40] + "…"


class Validator:
    """Checks records of one provider against the catalog in force for each decision date."""

    def __init__(
        self,
        catalog: Catalog,
        provider_org: str,
        today: dt.date,
        *,
        legacy_uscc: frozenset[str] = frozenset(),
    ):
        self.catalog = catalog
        self.provider_org = provider_org
        self.today = today
        self.legacy_uscc = legacy_uscc
        self._keys: dict[tuple[str, str | None], tuple[bool, str, str]] = {}

    def _subject_key(self, raw: str, document_type: str | None) -> SubjectKey:
        # cached as plain tuples of strings: the garbage collector does not track them
        cached = self._keys.get((raw, document_type))
        if cached is None:
            try:
                key = parse_subject_key(raw, document_type=document_type, legacy_uscc=self.legacy_uscc)
                if key.kind == RESIDENT_ID and key.value[6:14] > self.today.strftime("%Y%m%d"):
                    raise IdentifierError("birth_date", _("the date of birth in it is in the future"))
                cached = (True, key.value, key.kind)
            except IdentifierError as e:
                cached = (False, e.rule, str(e))
            if len(self._keys) > 200_000:
                self._keys.clear()
            self._keys[(raw, document_type)] = cached
        ok, a, b = cached
        if not ok:
            raise IdentifierError(a, b)
        return SubjectKey(a, b)

    def validate(self, rec: RecordInput) -> ValidRecord | Rejection:
        if (bad := unstorable(rec)) is not None:
            return bad
        source_ref = _text(rec.source_ref)
        if not source_ref:
            return Rejection("sourceRef", "required", _("the provider's own reference (sourceRef) is required"))
        if len(source_ref) > MAX_REF:
            return Rejection("sourceRef", "length", _("the reference is longer than {max} characters", max=MAX_REF))
        code = _text(rec.item_code)
        if not code:
            return Rejection("itemCode", "required", _("the catalog item (itemCode) is required"))
        data = rec.data
        if not isinstance(data, dict):
            return Rejection("data", "object", _("data must be an object of catalog fields"))

        decided = rec.decided_on
        if decided is None or decided == "":
            known = self.catalog.current(code)  # to learn which field repeats the decision date
            if known is None or not known.decision_field or not data.get(known.decision_field):
                return Rejection("decidedOn", "required", _("the decision date (decidedOn) is required"))
            decided = data[known.decision_field]
        try:
            decided_on = parse_date(decided, _("the decision date"))
        except ValueProblem as e:
            return Rejection("decidedOn", e.rule, str(e))
        if decided_on > self.today:
            return Rejection("decidedOn", "future_date", _("the decision date {date} is in the future", date=decided_on))

        item = self.catalog.item_for(code, decided_on)
        if item is None:
            year = self.catalog.year_in_force(decided_on)
            if self.catalog.years_with(code):
                return Rejection(
                    "itemCode",
                    "catalog_in_force",
                    _("{item} is not in the {year} catalog, which governs decisions of {date}",
                      item=code, year=year, date=decided_on),
                )
            return Rejection("itemCode", "catalog", _("{item} is not an item of the catalog (Art. 9)",
                                                   item=repr(_short(code))))
        if item.provider_org != self.provider_org:
            return Rejection(
                "itemCode",
                "provider_assignment",
                _("the catalog assigns {item} ({name}) to {provider}, not to your organisation",
                  item=item.code, name=item.name, provider=item.provider_name),
            )

        if (limit := size_limits(data, item)) is not None:
            return limit

        # One pass over the data: Art. 11 forbidden data refuses the whole record, whatever else
        # is wrong with it, so it is looked for first; the first value problem is kept for later.
        plan = item.fields_by_name
        stored: dict[str, Any] = {}
        consent_fields: list[str] = []
        unknown: list[str] = []
        problem: Rejection | None = None
        for fname, value in data.items():
            if value is None or value == "":
                continue
            spec = plan.get(fname)
            if spec is None:
                found = classify(str(fname))
                if found is not None and found[0] == FORBIDDEN:
                    return _forbidden(fname, found[1])
                unknown.append(str(fname))
                continue
            sensitivity = spec.sensitivity
            if sensitivity is not None:
                if sensitivity == "forbidden":
                    return _forbidden(fname, (classify(spec.name, spec.label) or ("", N_("forbidden data")))[1])
                if sensitivity == "consent_only":
                    consent_fields.append(fname)
            if spec.type == "string" and value.__class__ is str and len(value) <= MAX_TEXT:
                stored[fname] = value  # the common case, without a call
            elif problem is None:
                try:
                    stored[fname] = normalise(spec.type, spec.codes, value, f"{spec.label} ({fname})")
                except ValueProblem as e:
                    problem = Rejection(f"data.{fname}", e.rule, str(e))

        subject_type = _text(rec.subject_type).lower()
        raw_key, document_type = _text(rec.subject_key), rec.document_type or None
        if len(raw_key) > MAX_KEY or (document_type is not None and len(document_type) > MAX_KEY):
            return Rejection("subjectKey", "length", _("the subject key or document type is longer "
                                                       "than {max} characters", max=MAX_KEY))
        try:
            key = self._subject_key(raw_key, document_type)
        except IdentifierError as e:
            return Rejection("subjectKey", e.rule, _("subject key {key}: {problem}",
                                                   key=repr(_short(rec.subject_key)), problem=e))
        if subject_type not in SUBJECT_TYPES:
            return Rejection(
                "subjectType", "subject_type", _("the subject type is one of {types}",
                                               types=", ".join(SUBJECT_TYPES))
            )
        is_person = subject_type == "natural_person"
        if is_person == (key.kind == USCC):
            return Rejection("subjectType", "subject_type_key", _(
                "a natural_person is identified by a resident ID or identity document") if is_person
                else _("a {type} is identified by a unified social credit code", type=subject_type))
        if subject_type == "individual_business" and not key.value.startswith("92"):
            return Rejection(
                "subjectType",
                "subject_type_key",
                _("an individual business's code starts with 92 (registration kind 9, type 2)"),
            )
        name = _text(rec.subject_name)
        if not name:
            return Rejection("subjectName", "required", _("the subject's name (subjectName) is required"))
        if len(name) > MAX_NAME:
            return Rejection("subjectName", "length", _("the name is longer than {max} characters", max=MAX_NAME))
        if key.kind == RESIDENT_ID and decided_on.strftime("%Y%m%d") < key.value[6:14]:
            return Rejection("decidedOn", "before_birth", _("the decision date is before the subject's birth"))

        if problem is not None:
            return problem
        for f in item.required_fields:
            if f.name not in stored:
                return Rejection(f"data.{f.name}", "required", _("{label} ({name}) is required",
                                                                         label=f.label, name=f.name))
        if unknown:
            unknown.sort()
            return Rejection(
                f"data.{unknown[0]}",
                "unknown_field",
                _("{fields} not in the catalog definition of {item}; only catalog fields are "
                  "collected (Art. 9)", fields=", ".join(unknown), item=item.code),
            )
        decision_field = item.decision_field
        # a valid decision date given as text is already YYYY-MM-DD
        iso = decided if decided.__class__ is str else decided_on.isoformat()
        if decision_field and decision_field in stored and stored[decision_field] != iso:
            return Rejection(
                f"data.{item.decision_field}",
                "decision_date_mismatch",
                _("{field} ({value}) differs from the decision date {date}",
                  field=item.decision_field, value=stored[item.decision_field], date=decided_on),
            )
        consent_ref = _text(rec.consent_ref) or None
        if consent_fields and is_person and consent_ref is None:
            return Rejection(
                f"data.{consent_fields[0]}",
                "art11_consent",
                _("{fields} may be collected only with the subject's written consent, which states "
                  "the possible adverse consequences (Art. 11); give its reference in consentRef",
                  fields=", ".join(consent_fields)),
            )
        if consent_ref is not None and len(consent_ref) > MAX_REF:
            return Rejection("consentRef", "length", _("the consent reference is longer than {max} characters",
                                                                max=MAX_REF))
        reason = _text(rec.change_reason) or None
        if reason is not None and len(reason) > MAX_REASON:
            return Rejection("changeReason", "length", _("the reason is longer than {max} characters",
                                                                  max=MAX_REASON))
        return ValidRecord(
            subject_key=key.value,
            key_type=key.kind,
            subject_type=subject_type,
            subject_name=name,
            item=item,
            source_ref=source_ref,
            decided_on=decided_on,
            data_json=canonical_json(stored),
            consent_ref=consent_ref,
            change_reason=reason,
        )
