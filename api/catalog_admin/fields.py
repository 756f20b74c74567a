"""A field of an item definition and the rules it obeys: a name, a type (a code field lists
its codes), and the sensitivity tag its content calls for: Art. 11 topics (forbidden, or only with
the subject's written consent) and the identity numbers and people's names that are masked. Also
the small checks every part of a catalog file shares. Pure: each problem is added to the list, as
`path: message`."""

from __future__ import annotations

import re
from typing import Any

from ..catalog import FIELD_TYPES, SENSITIVITIES
from ..i18n import N_, _
from ..ingestion.art11 import CONSENT_ONLY, FORBIDDEN, classify

_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
FIELD_KEYS = {"name", "label", "type", "required", "sensitivity", "codes"}

# Fields that must carry a masking tag, by label (Chinese) or by name (national field names,
# English): identity numbers, and names of people (法定代表人 and the like, or the counterpart).
_ID_LABEL = re.compile(r"证件号|身份证|身份号码|护照号")
_ID_NAME = re.compile(r"(^|_)(zjhm|sfzh|sfzhm|idcard|id_?number|id_?no)$", re.IGNORECASE)
_PERSON_LABEL = re.compile(r"(法定代表人|负责人|经营者|投资人|联系人|姓名|相对人名称|当事人名称|当事人)$")
_PERSON_NAME = re.compile(r"(^|_)(frdb|fddbr|xm|xdr_mc|legal_rep|person_name|full_name)$", re.IGNORECASE)


def _identity_reading(name: str, label: str) -> str | None:
    """`id_number` or `person_name` when a field's name or label reads as one."""
    if _ID_LABEL.search(label) or _ID_NAME.search(name):
        return "id_number"
    if _PERSON_LABEL.search(label) or _PERSON_NAME.search(name):
        return "person_name"
    return None


def check_choice(problems, path, value, allowed, what) -> None:
    if value not in allowed:
        problems.append(_("{path}: {what} must be one of {allowed}, not {value}", path=path, what=_(what),
                          allowed=", ".join(allowed), value=repr(value)))


def check_text(problems, path, value, what, *, required=True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(_("{path}: {what} is required", path=path, what=_(what)))
        return None
    if not isinstance(value, str):
        problems.append(_("{path}: {what} must be text", path=path, what=_(what)))
        return None
    return value.strip()


def check_positive(problems, path, value, what) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        problems.append(_("{path}: {what} must be a positive whole number", path=path, what=_(what)))
        return None
    return value


def parse_field(f: Any, path: str, problems: list[str]) -> dict[str, Any] | None:
    if not isinstance(f, dict):
        problems.append(_("{path}: a field is a mapping with name, label, type, ...", path=path))
        return None
    for k in sorted(set(f) - FIELD_KEYS):
        problems.append(_("{path}: unknown key (allowed: {allowed})", path=f"{path}.{k}",
                          allowed=", ".join(sorted(FIELD_KEYS))))
    name = check_text(problems, path + ".name", f.get("name"), N_("field name"))
    if name and not _FIELD_NAME.match(name):
        problems.append(_("{path}: {name} is not a field name (letters, digits, _)", path=path + ".name",
                          name=repr(name)))
    label = check_text(problems, path + ".label", f.get("label"), N_("label"), required=False) or name
    type_ = f.get("type", "string")
    check_choice(problems, path + ".type", type_, FIELD_TYPES, N_("type"))
    required = f.get("required", False)
    if not isinstance(required, bool):
        problems.append(_("{path}: must be true or false", path=path + ".required"))
    sensitivity = f.get("sensitivity")
    if sensitivity is not None:
        check_choice(problems, path + ".sensitivity", sensitivity, SENSITIVITIES, N_("sensitivity"))
    codes = f.get("codes")
    if type_ == "code":
        if not isinstance(codes, list) or not codes:
            problems.append(_("{path}: a code field lists its allowed codes", path=path + ".codes"))
            codes = []
        codes = [str(c) for c in codes]
    elif codes:
        problems.append(_("{path}: only a field of type code has codes", path=path + ".codes"))
    if name:
        art11 = classify(name, label or "")
        if art11 and art11[0] == FORBIDDEN and sensitivity != "forbidden":
            problems.append(_(
                "{path}: {name} ({label}) is {topic} data, which Art. 11 forbids collecting; "
                "tag it sensitivity: forbidden (records carrying it are refused) or remove it",
                path=path, name=name, label=label, topic=_(art11[1]),
            ))
        elif art11 and art11[0] == CONSENT_ONLY and sensitivity not in ("consent_only", "forbidden"):
            problems.append(_(
                "{path}: {name} ({label}) is {topic} data, collected only with the subject's "
                "written consent (Art. 11); tag it sensitivity: consent_only",
                path=path, name=name, label=label, topic=_(art11[1]),
            ))
    if name and sensitivity not in ("forbidden", "consent_only"):
        reads_as = _identity_reading(name, label or "")
        if reads_as == "id_number" and sensitivity != "id_number":
            problems.append(_(
                "{path}: {name} ({label}) reads as an identity number; tag it "
                "sensitivity: id_number so it is masked for viewers who may not see it",
                path=path, name=name, label=label,
            ))
        elif reads_as == "person_name" and sensitivity not in ("person_name", "subject_name"):
            problems.append(_(
                "{path}: {name} ({label}) reads as a person's name; tag it sensitivity: "
                "person_name (always a natural person) or subject_name (the subject's own name, "
                "masked when the subject is a natural person)",
                path=path, name=name, label=label,
            ))
    if sensitivity == "forbidden" and required:
        problems.append(_("{path}: a forbidden field cannot be required", path=path))
    out: dict[str, Any] = {"name": name, "label": label, "type": type_, "required": required}
    if sensitivity:
        out["sensitivity"] = sensitivity
    if codes:
        out["codes"] = codes
    return out

