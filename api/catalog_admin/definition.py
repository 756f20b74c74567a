"""The catalog file (YAML) and the rules an item definition obeys. Pure: a document in, the
checked definitions or every problem (with its path) out. The rules of one field are in
fields.py; the file written back from stored items is export.py.

File format `credit-catalog/1`:

    format: credit-catalog/1
    year: 2027                       # optional; must match --year when given
    providers:                       # provider units (信息提供单位) the items name
      - {code: <USCC>, name: <name>, division: "130900"}
    items:
      - code: ADM_PENALTY            # the key records reference; stable across years
        name: 行政处罚信息
        category: penalty            # Art. 10 category (api.catalog.CATEGORIES)
        disclosure: public           # sharing attribute: public | shared | authorized
        provider: <USCC>             # provider unit
        collection_scope: <text>     # 数据采集范围
        collection_paths: [system_integration, provider_account]   # 归集路径, Art. 14
        update_cycle: on_decision    # 更新周期
        sharing_method: interface    # 共享方式: interface | database | file
        dishonest: true              # 失信信息
        list_meaning: none           # red | black | none
        publicity_months: 36         # optional
        deadline_working_days: 7     # optional; 7 (Art. 13) for licensing and penalty
        decision_field: cf_jdrq      # optional: the date field that repeats the decision date
        severity:                    # penalty items: public period and repair wait by severity
          field: cf_yzcd             # a code field of the item with codes minor/general/serious
          minor: {public_months: 3, repair_after_months: 0}     # (or 轻微/一般/严重); a
          general: {public_months: 12, repair_after_months: 3}  # severity left out takes
          serious: {public_months: 36, repair_after_months: 12} # the national default
        fields:
          - {name: cf_wsh, label: 行政处罚决定书文号, type: string, required: true}
          - {name: cf_xdr_lb, label: 行政相对人类别, type: code, required: true, codes: ["01", "02"]}
          - {name: cf_fr_zjhm, label: 法定代表人证件号码, sensitivity: id_number}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..catalog import (
    CATEGORIES,
    COLLECTION_PATHS,
    DISCLOSURE_CLASSES,
    DOUBLE_PUBLICITY_CATEGORIES,
    LIST_MEANINGS,
    SHARING_METHODS,
    UPDATE_CYCLES,
)
from ..i18n import N_, _
from ..identifiers import IdentifierError, validate_uscc
from ..publicity import SeverityPolicy, check_policy
from .fields import check_choice, check_positive, check_text, parse_field

FORMAT = "credit-catalog/1"
ART13_WORKING_DAYS = 7
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")
_DIVISION = re.compile(r"^\d{6}$")
ITEM_KEYS = {
    "code", "name", "category", "disclosure", "provider", "collection_scope", "collection_paths",
    "update_cycle", "sharing_method", "dishonest", "list_meaning", "publicity_months",
    "deadline_working_days", "decision_field", "fields", "severity",
}


class DefinitionError(ValueError):
    """Every problem found, each as `path: message`."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Provider:
    code: str
    name: str
    division: str | None


@dataclass(frozen=True)
class ItemDefinition:
    code: str
    name: str
    category: str
    disclosure: str
    provider_org: str
    collection_scope: str
    collection_paths: tuple[str, ...]
    update_cycle: str
    sharing_method: str
    dishonest: bool
    list_meaning: str
    publicity_months: int | None
    deadline_working_days: int | None
    decision_field: str | None
    fields: tuple[dict[str, Any], ...]
    severity: SeverityPolicy | None = None

    def row(self, year: int) -> tuple:
        """The catalog_entries row, in repository column order."""
        return (
            year, self.code, self.name, self.category, self.disclosure, self.provider_org,
            self.collection_scope, list(self.collection_paths), self.update_cycle,
            self.sharing_method, self.dishonest, self.list_meaning, self.publicity_months,
            self.deadline_working_days, self.decision_field, list(self.fields),
            self.severity.as_json() if self.severity else None,
        )


@dataclass
class CatalogDocument:
    year: int | None
    providers: list[Provider] = field(default_factory=list)
    items: list[ItemDefinition] = field(default_factory=list)



def parse_item(d: Any, path: str = "item") -> ItemDefinition:
    problems: list[str] = []
    if not isinstance(d, dict):
        raise DefinitionError([_("{path}: an item is a mapping", path=path)])
    for k in sorted(set(d) - ITEM_KEYS):
        problems.append(_("{path}: unknown key (allowed: {allowed})", path=f"{path}.{k}",
                          allowed=", ".join(sorted(ITEM_KEYS))))
    code = check_text(problems, path + ".code", d.get("code"), N_("code")) or ""
    if code and not _CODE.match(code):
        problems.append(_("{path}: {code} must be upper-case letters, digits and _", path=path + ".code",
                          code=repr(code)))
    path = f"{path}[{code}]" if code else path
    name = check_text(problems, path + ".name", d.get("name"), N_("name")) or ""
    category = d.get("category")
    check_choice(problems, path + ".category", category, CATEGORIES, N_("category"))
    disclosure = d.get("disclosure")
    check_choice(problems, path + ".disclosure", disclosure, DISCLOSURE_CLASSES, N_("disclosure"))
    provider = check_text(problems, path + ".provider", d.get("provider"), N_("provider unit")) or ""
    if provider:
        try:
            provider = validate_uscc(str(provider))
        except IdentifierError as e:
            problems.append(_("{path}: {provider}: {error}", path=path + ".provider", provider=provider, error=e))
    scope = check_text(problems, path + ".collection_scope", d.get("collection_scope"), N_("collection scope"))
    paths = d.get("collection_paths") or []
    if not isinstance(paths, list) or not paths:
        problems.append(_("{path}: name at least one of {allowed}", path=path + ".collection_paths",
                          allowed=", ".join(COLLECTION_PATHS)))
        paths = []
    for p in paths:
        check_choice(problems, path + ".collection_paths", p, COLLECTION_PATHS, N_("collection path"))
    cycle = d.get("update_cycle")
    check_choice(problems, path + ".update_cycle", cycle, UPDATE_CYCLES, N_("update cycle"))
    method = d.get("sharing_method")
    check_choice(problems, path + ".sharing_method", method, SHARING_METHODS, N_("sharing method"))
    dishonest = d.get("dishonest", False)
    if not isinstance(dishonest, bool):
        problems.append(_("{path}: must be true or false", path=path + ".dishonest"))
    meaning = d.get("list_meaning", "none")
    check_choice(problems, path + ".list_meaning", meaning, LIST_MEANINGS, N_("list meaning"))
    months = check_positive(problems, path + ".publicity_months", d.get("publicity_months"), N_("publicity period"))
    deadline = check_positive(
        problems, path + ".deadline_working_days", d.get("deadline_working_days"), N_("deadline")
    )
    if category in DOUBLE_PUBLICITY_CATEGORIES:
        if deadline is None:
            deadline = ART13_WORKING_DAYS
        elif deadline > ART13_WORKING_DAYS:
            problems.append(_(
                "{path}: licensing and penalty decisions reach the platform within {days} working "
                "days (Art. 13); {deadline} is longer",
                path=path + ".deadline_working_days", days=ART13_WORKING_DAYS, deadline=deadline,
            ))
    raw_fields = d.get("fields")
    fields: list[dict[str, Any]] = []
    if not isinstance(raw_fields, list) or not raw_fields:
        problems.append(_("{path}: an item defines at least one field", path=path + ".fields"))
        raw_fields = []
    seen: set[str] = set()
    for i, f in enumerate(raw_fields):
        parsed = parse_field(f, f"{path}.fields[{i}]", problems)
        if parsed is None:
            continue
        if parsed["name"] in seen:
            problems.append(_("{path}: {name} is defined twice", path=f"{path}.fields[{i}].name",
                              name=parsed["name"]))
        seen.add(parsed["name"])
        fields.append(parsed)
    decision_field = d.get("decision_field")
    if decision_field is not None:
        df = next((f for f in fields if f["name"] == decision_field), None)
        if df is None or df["type"] != "date":
            problems.append(_("{path}: {name} must name a date field of the item", path=path + ".decision_field",
                              name=repr(decision_field)))
    severity = None
    if d.get("severity") is not None:
        if category != "penalty":
            problems.append(_("{path}: publicity by severity is for administrative penalty items",
                              path=path + ".severity"))
        severity, more = check_policy(
            d["severity"], path + ".severity", {f["name"]: tuple(f.get("codes", ())) for f in fields
                                                if f["type"] == "code"})
        problems.extend(more)
    if problems:
        raise DefinitionError(problems)
    return ItemDefinition(
        code=code, name=name, category=category, disclosure=disclosure, provider_org=provider,
        collection_scope=scope or "", collection_paths=tuple(dict.fromkeys(paths)),
        update_cycle=cycle, sharing_method=method, dishonest=dishonest, list_meaning=meaning,
        publicity_months=months, deadline_working_days=deadline, decision_field=decision_field,
        fields=tuple(fields), severity=severity,
    )


def parse_document(doc: Any, *, year: int | None = None) -> CatalogDocument:
    """A whole catalog file, already loaded from YAML."""
    if not isinstance(doc, dict):
        raise DefinitionError([_("the file is a mapping with format, providers and items")])
    problems: list[str] = []
    for k in sorted(set(doc) - {"format", "year", "providers", "items"}):
        problems.append(_("{path}: unknown key (allowed: {allowed})", path=k,
                          allowed="format, year, providers, items"))
    if doc.get("format") != FORMAT:
        problems.append(_("format: must be {format}", format=FORMAT))
    file_year = doc.get("year")
    if file_year is not None and year is not None and file_year != year:
        problems.append(_("year: the file is the {file_year} catalog, not {year}", file_year=file_year, year=year))
    providers: list[Provider] = []
    for i, p in enumerate(doc.get("providers") or []):
        path = f"providers[{i}]"
        if not isinstance(p, dict) or set(p) - {"code", "name", "division"}:
            problems.append(_("{path}: a provider is {{code, name, division}}", path=path))
            continue
        try:
            code = validate_uscc(str(p.get("code", "")))
        except IdentifierError as e:
            problems.append(_("{path}: {error}", path=path + ".code", error=e))
            continue
        name = check_text(problems, path + ".name", p.get("name"), N_("name"))
        division = p.get("division")
        if division is not None and not _DIVISION.match(str(division)):
            problems.append(_("{path}: a six-digit administrative division code", path=path + ".division"))
        if name:
            providers.append(Provider(code, name, str(division) if division else None))
    items: list[ItemDefinition] = []
    codes: set[str] = set()
    raw_items = doc.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        problems.append(_("items: a catalog has at least one item"))
        raw_items = []
    for i, d in enumerate(raw_items):
        try:
            item = parse_item(d, f"items[{i}]")
        except DefinitionError as e:
            problems.extend(e.problems)
            continue
        if item.code in codes:
            problems.append(_("{path}: {code} appears twice", path=f"items[{i}].code", code=item.code))
        codes.add(item.code)
        items.append(item)
    if problems:
        raise DefinitionError(problems)
    return CatalogDocument(year=file_year or year, providers=providers, items=items)


def load_yaml(text: str, *, year: int | None = None) -> CatalogDocument:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DefinitionError([_("not valid YAML: {error}", error=e)]) from None
    return parse_document(doc, year=year)
