"""The credit report's content (Art. 18, 36), modelled on the national public credit information
report: pure, from what the disclosure decided for the requester and the records' metadata.

The content is one JSON document. Its canonical bytes (sorted keys, no spaces, UTF-8) are what
the platform signs and what the digest printed on the report is taken of; the PDF renders the
same document. Lines are what the requester was disclosed, line by line; what was withheld is
stated by class and count, never by content."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from ..disclosure.rules import CHINA_TIME, PURPOSES
from ..disclosure.views import SubjectView

FORMAT = "credit-report/1"
# The sections of the national report, in its order; each catalog category goes to one.
SECTIONS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("registration", "登记注册基本信息", frozenset({"registration"})),
    ("licensing", "行政许可信息", frozenset({"licensing"})),
    ("penalty", "行政处罚信息", frozenset({"penalty"})),
    ("commendation", "表彰奖励、志愿服务、慈善捐赠信息", frozenset({"commendation", "volunteer", "donation", "reward"})),
    ("lists", "信用红黑名单信息", frozenset()),  # list entries (api/lists), not records
    ("other", "司法判决及其他信息", frozenset()),  # every other category
)
MARKS = {"disputed": "异议处理中", "repaired": "已信用修复", "archived": "已转档案保存"}
CLASS_NAMES = {"public": "公开", "shared": "政务共享", "authorized": "授权查询"}
BASIS_TEXT = {
    "self": "信用主体本人查询（已实名认证）",
    "authorization": "经信用主体书面授权查询（第十九条）",
    "duty": "国家机关依法履行职责查询（第二十九条）",
}
STATEMENTS = (
    "本报告依据《沧州市公共信用信息管理暂行办法》出具，反映出具时平台归集的公共信用信息；"
    "信息由各信息提供单位提供，内容以提供单位的决定文书为准。",
    "本报告仅限于报告所载用途使用，不得用于其他目的，不得向第三方提供（第十九条、第三十六条）。",
    "信用主体认为本报告所载信息存在错误、遗漏的，可以通过信用平台自助服务渠道或向市信用主管部门"
    "提出异议申请（第三十七条、第三十八条）；符合条件的失信信息可以申请信用修复（第三十九条）。",
    "本报告由平台电子签名。报告真伪及出具后信用主体信息是否变更，可凭报告编号和摘要在线核验。",
)
VALID_DAYS = 30  # a snapshot: recipients are told to rely on it for a month and to check online


@dataclass(frozen=True)
class LineMeta:
    """What the report shows of a record besides its data: never content the view withheld."""

    version: int
    reasons: tuple[str, ...]  # why each later version replaced the one before, oldest first
    provider_name: str
    updated_at: dt.datetime | None


def section_of(category: str) -> str:
    for code, _, categories in SECTIONS:
        if category in categories:
            return code
    return "other"


def canonical(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def digest(document_bytes: bytes) -> str:
    return hashlib.sha256(document_bytes).hexdigest()


def _line(r, meta: LineMeta) -> dict[str, Any]:
    labels = r.item.fields_by_name
    return {
        "record": r.id,
        "item": r.item.code,
        "itemName": r.item.name,
        "class": r.item.disclosure,
        "provider": meta.provider_name,
        "decidedOn": r.decided_on.isoformat(),
        "version": meta.version,
        "changeReasons": list(meta.reasons),
        "marks": (["disputed"] if r.status == "disputed" else [])
        + ([r.state] if r.state in ("repaired", "archived") else []),
        "fields": [
            {"name": k, "label": labels[k].label if k in labels else k, "value": v}
            for k, v in r.data.items()
        ],
        "fieldsWithheld": r.fields_withheld,
    }


LIST_NAMES = {"red": "守信红名单", "black": "失信黑名单"}
STANDING = {"in_force": "在列", "pending": "尚未生效", "expired": "期满", "exited": "已移出",
            "removed": "已撤销", "basis_repaired": "依据已信用修复", "basis_deleted": "依据已删除",
            "basis_corrected": "依据已更正，待重新认定"}


def _entry_line(e) -> dict[str, Any]:
    period = f"{e.listed_from.isoformat()} 至 {e.listed_until.isoformat() if e.listed_until else '长期'}"
    fields = [("rule", "认定依据", f"{e.rule_name}（{e.doc_number}）"), ("case", "认定文书号", e.case_number),
              ("reason", "列入原因", e.reason), ("period", "列入期限", period),
              ("standing", "状态", STANDING.get(e.standing, e.standing))]
    return {
        "record": e.id, "item": f"LIST_{e.kind.upper()}", "itemName": LIST_NAMES.get(e.kind, e.kind),
        "class": "public", "provider": e.provider_name, "decidedOn": e.decided_on.isoformat(),
        "version": 1, "changeReasons": [], "marks": [],
        "fields": [{"name": n, "label": label, "value": v} for n, label, v in fields],
        "fieldsWithheld": 0,
    }


def build(
    *,
    number: str,
    issued_at: dt.datetime,
    view: SubjectView,
    meta: dict[str, LineMeta],
    requester: dict[str, Any],
    purpose: str | None,
    basis: str,
    check_url: str,
    entries: list[Any] = (),
) -> dict[str, Any]:
    """The report as a JSON document (its canonical bytes are signed). `entries` are the
    subject's red and black list entries (public, Art. 25) in force or ended, with standing."""
    sections: dict[str, list[dict[str, Any]]] = {code: [] for code, _, _ in SECTIONS}
    sections["lists"] = [_entry_line(e) for e in entries]
    for r in view.records:
        line = _line(r, meta[r.id])
        sections[section_of(r.item.category)].append(line)
    marks = {m: sum(1 for s in sections.values() for line in s if m in line["marks"]) for m in MARKS}
    local = issued_at.astimezone(CHINA_TIME)
    withheld = [
        {"class": w.disclosure, "className": CLASS_NAMES.get(w.disclosure, w.disclosure),
         "scope": w.scope, "count": w.count, "reasonCode": w.reason_code}
        for w in view.withheld
    ]
    return {
        "format": FORMAT,
        "number": number,
        "issuedAt": local.isoformat(timespec="seconds"),
        "validUntil": (local.date() + dt.timedelta(days=VALID_DAYS)).isoformat(),
        "subject": {
            "key": view.subject.key,
            "name": view.name,
            "type": view.subject.subject_type,
            "status": view.subject.status,
        },
        "requester": requester,
        "purpose": purpose,
        "purposeName": PURPOSES.get(purpose or "", purpose),
        "basis": basis,
        "basisText": BASIS_TEXT[basis],
        "summary": {
            "sections": {code: len(sections[code]) for code, _, _ in SECTIONS},
            "records": len(view.records),
            "marks": marks,
            "withheldRecords": sum(w["count"] for w in withheld if w["scope"] == "records"),
        },
        "sections": [
            {"code": code, "title": title, "lines": sections[code]} for code, title, _ in SECTIONS
        ],
        "withheld": withheld,
        "statements": list(STATEMENTS),
        "check": {"url": check_url},
    }
