"""The catalog file written back from stored items: the inverse of definition.py's parsing, in
the same `credit-catalog/1` format, each field on one line."""

from __future__ import annotations

from typing import Any

import yaml

from ..catalog import CatalogItem, field_to_dict
from .definition import FORMAT, Provider


def item_document(item: CatalogItem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": item.code,
        "name": item.name,
        "category": item.category,
        "disclosure": item.disclosure,
        "provider": item.provider_org,
        "collection_scope": item.collection_scope,
        "collection_paths": list(item.collection_paths),
        "update_cycle": item.update_cycle,
        "sharing_method": item.sharing_method,
        "dishonest": item.dishonest,
        "list_meaning": item.list_meaning,
    }
    if item.publicity_months:
        out["publicity_months"] = item.publicity_months
    if item.deadline_working_days:
        out["deadline_working_days"] = item.deadline_working_days
    if item.decision_field:
        out["decision_field"] = item.decision_field
    if item.severity:
        out["severity"] = item.severity.as_json()
    out["fields"] = [field_to_dict(f) for f in item.fields]
    return out


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _field_style(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    # fields read best one to a line
    flow = "label" in data and "type" in data and "name" in data
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow or None)


_Dumper.add_representer(dict, _field_style)


def dump_yaml(year: int, items: list[CatalogItem], providers: list[Provider]) -> str:
    doc = {
        "format": FORMAT,
        "year": year,
        "providers": [
            {"code": p.code, "name": p.name, **({"division": p.division} if p.division else {})}
            for p in providers
        ],
        "items": [item_document(i) for i in items],
    }
    return yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120)
