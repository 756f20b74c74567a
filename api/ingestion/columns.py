"""A CSV file's column names: the record keys and catalog field names (codes), or their Chinese
names — the catalog's field labels and the names below — as `credit catalog template` writes
them, so a clerk's spreadsheet uploads as it is."""

from __future__ import annotations

from ..catalog import CatalogItem

# record key -> its Chinese column name (none is a field label of the shipped catalog)
BASE_LABELS = {
    "subjectKey": "主体标识码",
    "subjectType": "主体类型",
    "subjectName": "主体名称",
    "itemCode": "信息项编码",
    "sourceRef": "业务编号",
    "decidedOn": "决定作出日期",
    "documentType": "主体证件类型",
    "consentRef": "书面同意编号",
    "changeReason": "更正原因",
}
BASE_BY_LABEL = {label: key for key, label in BASE_LABELS.items()}
# subjectType may be written in Chinese in a CSV cell
SUBJECT_TYPE_LABELS = {
    "自然人": "natural_person",
    "法人": "legal_person",
    "非法人组织": "unincorporated_org",
    "个体工商户": "individual_business",
}


def base_key(header: str) -> str:
    """A header cell as a record key, when it names one in Chinese; else the cell itself."""
    return BASE_BY_LABEL.get(header, header)


def field_column(item: CatalogItem, name: str) -> str:
    """The column a template writes for a field: its label, unless the label is not unique in
    the item or is a record key's Chinese name (then the field's code)."""
    label = item.field(name).label
    if label in BASE_BY_LABEL or sum(f.label == label for f in item.fields) > 1:
        return name
    return label


def field_names(item: CatalogItem | None) -> dict[str, str]:
    """Column name -> field name for an item's data: each field's code, and its label where
    `field_column` would write the label."""
    if item is None:
        return {}
    names = {field_column(item, f.name): f.name for f in item.fields}
    names.update({f.name: f.name for f in item.fields})
    return names
