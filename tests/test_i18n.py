"""Messages in Chinese by default, in English on Accept-Language: en; codes, fields and rules the
same either way (api/i18n.py, api/locale/)."""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from api import demo
from api.i18n import DEFAULT, LOCALE_DIR, _, negotiate, use_locale
from api.workdays.names import holiday_name
from tests.conftest import token

ROOT = Path(__file__).resolve().parent.parent
PO = LOCALE_DIR / DEFAULT / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"(?<!\{)\{(\w*)\}(?!\})")


def used_msgids() -> dict[str, str]:
    """Every message the code marks with _() or N_(), as Babel's extractor finds it."""
    found: dict[str, str] = {}
    for folder in ("api", "schema"):
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")],
            keywords={"_": None, "N_": None},
        ):
            assert isinstance(message, str), f"{folder}/{filename}:{lineno}: plural forms are not used"
            found.setdefault(message, f"{folder}/{filename}:{lineno}")
    return found


def catalog():
    with PO.open("rb") as f:
        return read_po(f, locale=DEFAULT)


def test_every_message_in_code_is_in_the_zh_cn_catalog_translated():
    cat = catalog()
    used = used_msgids()
    assert len(used) > 250  # the extractor did find the code's messages
    missing = {m: where for m, where in used.items() if cat.get(m) is None}
    assert not missing, f"not in {PO.relative_to(ROOT)}: {missing}"
    untranslated = [m for m in used if not cat[m].string or cat[m].fuzzy]
    assert not untranslated, f"no (or a fuzzy) zh_CN translation: {untranslated}"


def test_the_catalog_has_no_message_the_code_no_longer_uses():
    used = used_msgids()
    stale = [m.id for m in catalog() if m.id and m.id not in used]
    assert not stale, f"remove from the catalog (pybabel update drops them): {stale}"


def test_each_translation_keeps_the_placeholders_of_its_msgid():
    for m in catalog():
        if m.id:
            assert sorted(set(PLACEHOLDER.findall(m.string))) == sorted(set(PLACEHOLDER.findall(m.id))), m.id


# the errors a person reads, and which argument is their message (Rejection: field, rule, message)
SHOWN = {"FormatError": 0, "TemporalInputError": 0, "SlowReader": 0, "GraphQLError": 0, "Rejection": 2}
PROTOCOL_WORDS = {"PersistedQueryNotFound: "}  # Apollo clients match it, in every language
WORDS = re.compile(r"[^\W\d_]{2,}")


def _literal_words(node: ast.AST) -> bool:
    """Whether the expression writes words itself (a literal or f-string) instead of _()."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value not in PROTOCOL_WORDS and WORDS.search(node.value) is not None
    if isinstance(node, ast.JoinedStr):
        return any(_literal_words(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):
        return _literal_words(node.left) or _literal_words(node.right)
    return False


def test_no_user_facing_error_is_built_from_a_literal():
    """A DomainError (any subclass), upload row or format error, date input error or export abort
    takes its message from _(): a literal would reach the user in one language only."""
    trees = {p: ast.parse(p.read_text()) for folder in ("api", "schema") for p in sorted((ROOT / folder).rglob("*.py"))}
    domain, grew = {"DomainError"}, True
    while grew:  # the DomainError subclasses, by name, through every level
        grew = False
        for tree in trees.values():
            for n in ast.walk(tree):
                if isinstance(n, ast.ClassDef) and n.name not in domain and any(
                        getattr(b, "id", getattr(b, "attr", None)) in domain for b in n.bases):
                    domain.add(n.name)
                    grew = True
    assert {"InvalidInput", "RepairTooEarly", "OperationNotListed"} <= domain
    message_at = {**dict.fromkeys(domain, 0), **SHOWN}
    literal = []
    for path, tree in trees.items():
        for n in ast.walk(tree):
            if isinstance(n, ast.Call):
                at = message_at.get(getattr(n.func, "id", getattr(n.func, "attr", None)))
                if at is not None and len(n.args) > at and _literal_words(n.args[at]):
                    literal.append(f"{path.relative_to(ROOT)}:{n.lineno}")
    assert not literal, f"wrap these messages in _(): {literal}"


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "zh_CN"),
        ("", "zh_CN"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("EN-gb", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
        ("en;q=0.5, zh;q=0.9", "zh_CN"),  # q-values, not order
        ("zh;q=0.4, en;q=0.6", "en"),
        ("fr, en;q=0.3", "en"),  # French is not offered; English is next
        ("fr, de", "zh_CN"),  # nothing offered: the default
        ("zh-TW", "zh_CN"),
        ("en;q=0", "zh_CN"),  # q=0 is "not acceptable"
        ("*", "zh_CN"),
        ("en;q=abc", "zh_CN"),
    ],
)
def test_the_locale_follows_accept_language(header, locale):
    assert negotiate(header) == locale


def test_parameters_are_filled_in_and_dates_written_per_locale():
    day = dt.date(2026, 10, 1)
    assert _("the decision date {date} is in the future", date=day) == "决定日期 2026年10月1日 在未来"
    with use_locale("en"):
        assert _("the decision date {date} is in the future", date=day) == (
            "the decision date October 1, 2026 is in the future")
    assert _("{label} ({name}) is required", label="行政处罚决定书文号", name="cf_wsh") == (
        "行政处罚决定书文号（cf_wsh）必填")


def test_holiday_names_in_both_languages():
    assert holiday_name("Mid-autumn Festival / National Day") == "中秋节 / 国庆节"
    assert holiday_name("Spring Festival (in lieu)") == "春节补假"
    assert holiday_name("元旦") == "元旦"  # a name a loaded notice wrote is shown as written
    assert holiday_name(None) is None
    with use_locale("en"):
        assert holiday_name("Spring Festival (in lieu)") == "Spring Festival (in lieu)"


# over HTTP

async def test_a_graphql_error_is_chinese_by_default_and_english_on_request(gql):
    q = '{ subject(key: "91130903MA0DEM021X") { key } }'  # a mistyped check character
    zh = (await gql(q))["errors"][0]
    en = (await gql(q, language="en"))["errors"][0]
    assert zh["extensions"] == en["extensions"]
    assert zh["extensions"]["code"] == "INVALID_INPUT" and zh["extensions"]["rule"] == "check_character"
    assert "校验码" in zh["message"] and "check character" not in zh["message"]
    assert "check character" in en["message"] and "校验码" not in en["message"]


async def test_a_forbidden_error_in_both_languages(gql):
    q = "{ queryLog(first: 1) { edges { node { id } } } }"
    zh = (await gql(q, as_="provider"))["errors"][0]
    en = (await gql(q, as_="provider", language="en-GB,en;q=0.8,zh;q=0.5"))["errors"][0]
    assert zh["extensions"]["code"] == en["extensions"]["code"] == "FORBIDDEN"
    assert zh["message"] == "只有审计人员可以查看查询日志"
    assert en["message"] == "only auditors read the query log"


SUBMIT = """
mutation($records: [RecordInput!]!) {
  submitRecords(records: $records) { status field rule message }
}
"""


def penalty_without_its_document_number() -> dict:
    day = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    data = {
        "cf_xdr_mc": "沧州运河示范商贸有限公司", "cf_wfxw": "违反食品安全法", "cf_sy": "销售超过保质期的食品",
        "cf_yj": "《中华人民共和国食品安全法》第一百二十四条", "cf_cflb": "罚款", "cf_nr": "罚款人民币贰万元",
        "cf_nr_fk": 2.0, "cf_jdrq": day, "cf_cfjg": "沧州市市场监督管理局", "cf_cfjgdm": demo.MARKET,
        "cf_xdr_lb": "02", "cf_xdr_shxym": demo.COMPANY, "cf_frdb": "王建国",
    }
    return {"subjectKey": demo.COMPANY, "subjectType": "LEGAL_PERSON", "subjectName": "沧州运河示范商贸有限公司",
            "itemCode": "ADM_PENALTY", "sourceRef": "CF-I18N-0001", "decidedOn": day, "data": data}


async def test_a_bad_row_of_submit_records_in_both_languages(gql):
    rows = {"records": [penalty_without_its_document_number()]}
    (zh,) = (await gql(SUBMIT, rows, as_="provider"))["data"]["submitRecords"]
    (en,) = (await gql(SUBMIT, rows, as_="provider", language="en"))["data"]["submitRecords"]
    assert (zh["status"], zh["field"], zh["rule"]) == (en["status"], en["field"], en["rule"]) == (
        "REJECTED", "data.cf_wsh", "required")
    assert zh["message"] == "行政处罚决定书文号（cf_wsh）必填"
    assert en["message"] == "行政处罚决定书文号 (cf_wsh) is required"


async def test_a_bad_row_of_the_bulk_upload_in_both_languages(client, settings):
    body = json.dumps(penalty_without_its_document_number(), ensure_ascii=False).encode() + b"\n"
    results = {}
    for language in (None, "en"):
        headers = {"Content-Type": "application/x-ndjson",
                   "Authorization": f"Bearer {token(settings, 'provider')}"}
        if language:
            headers["Accept-Language"] = language
        r = await client.post("/upload/records", content=body, headers=headers)
        assert r.status_code == 200, r.text
        results[language] = json.loads(r.text.splitlines()[0])
    zh, en = results[None], results["en"]
    assert (zh["field"], zh["rule"]) == (en["field"], en["rule"]) == ("data.cf_wsh", "required")
    assert zh["message"] == "行政处罚决定书文号（cf_wsh）必填"
    assert en["message"] == "行政处罚决定书文号 (cf_wsh) is required"


async def test_withheld_reasons_in_both_languages(gql):
    q, key = "query($k: ID!) { subject(key: $k) { withheld { code reason } } }", {"k": demo.COMPANY}
    zh = {w["code"]: w["reason"] for w in (await gql(q, key))["data"]["subject"]["withheld"]}
    en = {w["code"]: w["reason"] for w in (await gql(q, key, language="en"))["data"]["subject"]["withheld"]}
    assert zh.keys() == en.keys() >= {"STATE_ORGANS_ONLY", "NEEDS_AUTHORIZATION"}
    assert zh["STATE_ORGANS_ONLY"].startswith("政务共享信息：仅向履行第二十九条所列职责的国家机关提供")
    assert en["STATE_ORGANS_ONLY"].startswith("Government-shared information: disclosed only to state organs")


async def test_holiday_names_over_graphql_in_both_languages(gql):
    q = '{ calendarDays(from: "2026-10-01", to: "2026-10-01") { name } }'
    assert (await gql(q))["data"]["calendarDays"] == [{"name": "国庆节"}]
    assert (await gql(q, language="en"))["data"]["calendarDays"] == [{"name": "National Day"}]


async def test_a_guard_refusal_in_both_languages(client):
    big = b"x" * (3 << 20)  # over the GraphQL body limit, declared up front
    zh = await client.post("/graphql", content=big, headers={"Content-Type": "application/json"})
    en = await client.post("/graphql", content=big, headers={"Content-Type": "application/json",
                                                              "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 413
    assert zh.json()["errors"][0]["extensions"] == en.json()["errors"][0]["extensions"] == {
        "code": "PAYLOAD_TOO_LARGE"}
    assert zh.json()["message"].startswith("请求过大：/graphql 请求体上限")
    assert en.json()["message"].startswith("request too large: the body of /graphql is at most")


async def test_the_language_is_per_request_under_concurrency(gql):
    q = "{ queryLog(first: 1) { edges { node { id } } } }"
    languages = [None, "en"] * 5
    answers = await asyncio.gather(*(gql(q, as_="provider", language=lang) for lang in languages))
    assert [a["errors"][0]["message"] for a in answers] == [
        "只有审计人员可以查看查询日志" if lang is None else "only auditors read the query log"
        for lang in languages]
