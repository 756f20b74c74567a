"""The bulk upload (Art. 13-14), versions and their history (Art. 16, 36), subject changes
(Art. 35) and the collection log (Art. 33), over HTTP with real tokens and a real database."""

from __future__ import annotations

import csv
import io
import json

import pytest

from api import demo
from api.identifiers import build_uscc
from tests.conftest import log_rows, token

URL = "/upload/records"
NDJSON = "application/x-ndjson"


def company(n: int) -> str:
    return build_uscc("91", "130902", f"{n:08d}")


def licence_row(n: int, **over) -> dict:
    day = "2026-11-02"
    row = {
        "subjectKey": company(n), "subjectType": "LEGAL_PERSON", "subjectName": f"沧州测试{n}有限公司",
        "itemCode": "ADM_LICENSING", "sourceRef": f"XK-B-{n:06d}", "decidedOn": day,
        "data": {
            "xk_xdr_mc": f"沧州测试{n}有限公司", "xk_xdr_lb": "02", "xk_xkws": "食品经营许可决定书",
            "xk_wsh": f"沧市监许〔2026〕{n}号", "xk_xklb": "01", "xk_nr": "预包装食品销售", "xk_jdrq": day,
            "xk_yxqz": day, "xk_yxqzi": "2031-11-01", "xk_xkjg": "沧州市市场监督管理局",
            "xk_xkjgdm": demo.MARKET, "xk_zt": "1",
        },
    }
    data = over.pop("data", None)
    row.update(over)
    if data is not None:
        row["data"] = {**row["data"], **data}
    return row


def ndjson(rows) -> bytes:
    return b"".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)).encode() + b"\n" for r in rows
    )


def as_csv(rows: list[dict]) -> bytes:
    base = ["subjectKey", "subjectType", "subjectName", "itemCode", "sourceRef", "decidedOn"]
    data_cols = sorted({k for r in rows for k in r["data"]})
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(base + data_cols)
    for r in rows:
        w.writerow([r[k] for k in base] + [r["data"].get(k, "") for k in data_cols])
    return out.getvalue().encode()


async def send(client, settings, body: bytes, *, content_type=NDJSON, role="provider", batch=None, **claims):
    params = {"batch": batch} if batch else {}
    r = await client.post(URL, content=body, params=params, headers={
        "Content-Type": content_type, "Authorization": f"Bearer {token(settings, role, **claims)}"})
    assert r.status_code == 200, r.text
    lines = [json.loads(x) for x in r.text.splitlines() if x.strip()]
    assert "summary" in lines[-1], lines[-1]
    return lines[:-1], lines[-1]["summary"]


async def count(pool, sql: str, *args) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval(sql, *args)


async def test_every_row_is_acknowledged_after_its_batch_is_stored(client, settings, pool):
    rows = [licence_row(n) for n in range(25)]
    results, summary = await send(client, settings, ndjson(rows), batch=10)
    assert [(r["line"], r["sourceRef"], r["status"]) for r in results] == [
        (n + 1, f"XK-B-{n:06d}", "created") for n in range(25)]
    assert summary == {"created": 25, "updated": 0, "unchanged": 0, "rejected": 0, "batches": 3,
                       "encoding": "utf-8"}
    assert await count(pool, "SELECT count(*) FROM records WHERE source_ref LIKE 'XK-B-%'") == 25
    assert await count(pool, "SELECT count(*) FROM record_versions") == 0  # first versions only
    # batches may commit in either order (two are written at once); each logs its number
    acts = sorted((r for r in await log_rows(pool) if r["kind"] == "collection"),
                  key=lambda a: a["details"]["batch"])
    assert [(a["operation"], a["channel"], a["details"]["batch"], a["details"]["counts"]["created"])
            for a in acts] == [("bulkUpload", "bulk_upload", 1, 10), ("bulkUpload", "bulk_upload", 2, 10),
                               ("bulkUpload", "bulk_upload", 3, 5)]
    assert acts[0]["user_id"] == "user-provider" and acts[0]["org_code"] == demo.MARKET
    assert acts[0]["details"]["outcomes"]["created"][:2] == ["XK-B-000000", "XK-B-000001"]
    assert {a["retention"] for a in acts} == {"long_term"}


async def test_resending_a_file_is_safe_and_says_unchanged(client, settings, pool):
    rows = [licence_row(n) for n in range(12)]
    await send(client, settings, ndjson(rows))
    before = await count(pool, "SELECT count(*) FROM record_versions")
    results, summary = await send(client, settings, ndjson(rows))
    assert {r["status"] for r in results} == {"unchanged"}
    assert summary["unchanged"] == 12 and summary["created"] == 0
    assert await count(pool, "SELECT count(*) FROM records WHERE source_ref LIKE 'XK-B-%'") == 12
    assert await count(pool, "SELECT count(*) FROM record_versions") == before


async def test_the_same_rows_as_csv_are_the_same_records(client, settings, pool):
    rows = [licence_row(n) for n in range(5)]
    await send(client, settings, ndjson(rows))
    results, summary = await send(client, settings, as_csv(rows), content_type="text/csv")
    assert [r["status"] for r in results] == ["unchanged"] * 5
    assert [r["line"] for r in results] == [2, 3, 4, 5, 6]  # line 1 is the header


async def test_rows_are_refused_one_by_one_with_line_field_rule_and_message(client, settings, pool):
    rows = [
        licence_row(1),
        "{not json",
        licence_row(2, data={"血型": "A"}),
        licence_row(3, colour="red"),
        licence_row(4, itemCode="TAX_ARREARS"),
        licence_row(5, subjectKey="91130902MA0DEM013X"),
        licence_row(6),
    ]
    results, summary = await send(client, settings, ndjson(rows))
    got = [(r["line"], r["status"], r.get("field"), r.get("rule")) for r in results]
    assert got == [
        (1, "created", None, None),
        (2, "rejected", "line", "syntax"),
        (3, "rejected", "data.血型", "art11_forbidden"),
        (4, "rejected", "colour", "unknown_field"),
        (5, "rejected", "itemCode", "provider_assignment"),
        (6, "rejected", "subjectKey", "check_character"),
        (7, "created", None, None),
    ]
    assert all(r["message"] for r in results if r["status"] == "rejected")
    assert summary["created"] == 2 and summary["rejected"] == 5
    # a record with forbidden data is refused whole: nothing of it is stored
    assert await count(pool, "SELECT count(*) FROM records WHERE source_ref = 'XK-B-000002'") == 0
    act = next(r for r in await log_rows(pool) if r["kind"] == "collection")
    assert {"line": 3, "ref": "XK-B-000002", "field": "data.血型", "rule": "art11_forbidden"} in act["details"]["outcomes"]["rejected"]


async def test_a_nul_in_a_row_refuses_that_row_and_the_upload_goes_on(client, settings, pool):
    """PostgreSQL cannot store NUL; it stopped the whole upload with storage_unavailable."""
    rows = [licence_row(1, sourceRef="XK-\u0000-1"), licence_row(2, subjectName="某\u0000公司"),
            licence_row(3, data={"xk_nr": "食品\u0007销售"}), licence_row(4)]
    results, summary = await send(client, settings, ndjson(rows), batch=2)
    assert [(r["line"], r["status"], r.get("field"), r.get("rule")) for r in results] == [
        (1, "rejected", "sourceRef", "control_character"), (2, "rejected", "subjectName", "control_character"),
        (3, "rejected", "data.xk_nr", "control_character"), (4, "created", None, None)]
    assert results[0]["sourceRef"] == "XK-\\x00-1"  # echoed escaped, as the log keeps it
    assert summary["created"] == 1 and summary["rejected"] == 3


async def test_a_correction_in_a_file_needs_a_reason_and_makes_a_version(client, settings, pool):
    await send(client, settings, ndjson([licence_row(1)]))
    changed = licence_row(1, data={"xk_nr": "预包装食品及散装食品销售"})
    (res,), _ = await send(client, settings, ndjson([changed]))
    assert (res["status"], res["rule"]) == ("rejected", "reason_required")
    (res,), _ = await send(client, settings, ndjson([{**changed, "changeReason": "许可范围变更"}]))
    assert (res["status"], res["version"]) == ("updated", 2)
    async with pool.acquire() as conn:
        kept = await conn.fetchrow("SELECT version, data->>'xk_nr' FROM record_versions WHERE record_id = $1",
                                   res["recordId"])
        current = await conn.fetchrow("SELECT version, data->>'xk_nr', version_reason FROM records WHERE id = $1",
                                      res["recordId"])
    assert tuple(kept) == (1, "预包装食品销售")
    assert tuple(current) == (2, "预包装食品及散装食品销售", "许可范围变更")


@pytest.mark.parametrize("batch", [None, 1])  # in one batch, or in two that are never in flight together
async def test_a_later_row_with_the_same_reference_follows_the_earlier_one(client, settings, pool, batch):
    first = licence_row(1)
    second = licence_row(1, data={"xk_nr": "更正后的内容"}, changeReason="更正")
    third = licence_row(1, data={"xk_nr": "再次更正"}, changeReason="再次更正")
    results, _ = await send(client, settings, ndjson([first, second, third]), batch=batch)
    assert [(r["status"], r.get("version")) for r in results] == [("created", 1), ("updated", 2), ("updated", 3)]


async def test_consent_only_data_needs_and_keeps_the_written_consent(client, settings, pool):
    row = {"subjectKey": demo.PERSON, "subjectType": "NATURAL_PERSON", "subjectName": "张伟",
           "itemCode": "PERSONAL_TAX", "sourceRef": "NS-2025-0001", "decidedOn": "2026-03-31",
           "data": {"nd": 2025, "tax_amount": 12850.5, "sz": "个人所得税"}}
    tax = {"org": demo.TAX, "org_name": "国家税务总局沧州市税务局"}
    (res,), _ = await send(client, settings, ndjson([row]), **tax)
    assert (res["status"], res["field"], res["rule"]) == ("rejected", "data.tax_amount", "art11_consent")
    (res,), _ = await send(client, settings, ndjson([{**row, "consentRef": "SQ-2026-0042"}]), **tax)
    assert res["status"] == "created"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT consent_ref FROM records WHERE id = $1", res["recordId"]) == "SQ-2026-0042"


async def test_only_providers_upload_and_only_known_formats(client, settings):
    body = ndjson([licence_row(1)])
    r = await client.post(URL, content=body, headers={"Content-Type": NDJSON})
    assert r.status_code == 403
    r = await client.post(URL, content=body, headers={
        "Content-Type": NDJSON, "Authorization": f"Bearer {token(settings, 'credit_service')}"})
    assert r.status_code == 403
    r = await client.post(URL, content=body, headers={"Content-Type": NDJSON, "Authorization": "Bearer x.y.z"})
    assert r.status_code == 401
    r = await client.post(URL, content=body, headers={
        "Content-Type": "text/plain", "Authorization": f"Bearer {token(settings, 'provider')}"})
    assert r.status_code == 415


@pytest.mark.parametrize(("language", "message"), [
    (None, "CSV 表头缺少以下列：subjectKey, subjectType, subjectName, itemCode, sourceRef"),
    ("en", "the CSV header lacks the columns subjectKey, subjectType, subjectName, itemCode, sourceRef"),
])
async def test_a_csv_without_the_key_columns_is_refused_as_a_whole(client, settings, pool, language, message):
    r = await client.post(URL, content=b"foo,bar\n1,2\n", headers={
        "Content-Type": "text/csv", "Authorization": f"Bearer {token(settings, 'provider')}",
        **({"Accept-Language": language} if language else {})})
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert lines == [{"error": "format", "message": message}]


# --- history (Art. 16, 36) -------------------------------------------------------------------

SUBMIT = """
mutation($records: [RecordInput!]!) {
  submitRecords(records: $records) { index status recordId version field rule message }
}
"""
HISTORY = """
query($id: ID!) { recordHistory(id: $id) {
  recordId subjectKey sourceRef versions { version decidedOn data reason submittedBy submittedAt channel } } }
"""


def person_penalty(**over) -> dict:
    day = "2026-11-20"
    rec = {"subjectKey": demo.PERSON, "subjectType": "NATURAL_PERSON", "subjectName": "张伟",
           "itemCode": "ADM_PENALTY", "sourceRef": "CF-H-1", "decidedOn": day,
           "data": {"cf_wsh": "沧市监罚〔2026〕1120号", "cf_xdr_mc": "张伟", "cf_xdr_lb": "01",
                    "cf_wfxw": "无证经营", "cf_cflb": "罚款", "cf_nr": "罚款三千元", "cf_nr_fk": 0.3,
                    "cf_jdrq": day, "cf_cfjg": "沧州市市场监督管理局", "cf_cfjgdm": demo.MARKET}}
    rec.update(over)
    return rec


async def test_the_subject_and_the_provider_read_a_records_history_and_nobody_else(gql, pool):
    first = (await gql(SUBMIT, {"records": [person_penalty()]}, as_="provider"))["data"]["submitRecords"][0]
    fix = person_penalty(data={**person_penalty()["data"], "cf_nr_fk": 0.2, "cf_nr": "罚款二千元"},
                         changeReason="复议决定变更罚款金额")
    second = (await gql(SUBMIT, {"records": [fix]}, as_="provider"))["data"]["submitRecords"][0]
    assert (second["status"], second["version"]) == ("UPDATED", 2)

    mine = (await gql(HISTORY, {"id": first["recordId"]}, as_="subject"))["data"]["recordHistory"]
    assert [(v["version"], v["reason"], v["data"]["cf_nr_fk"]) for v in mine["versions"]] == [
        (1, None, 0.3), (2, "复议决定变更罚款金额", 0.2)]
    assert {v["submittedBy"] for v in mine["versions"]} == {None}  # the provider's staff stay theirs
    provided = (await gql(HISTORY, {"id": first["recordId"]}, as_="provider"))["data"]["recordHistory"]
    assert [v["submittedBy"] for v in provided["versions"]] == ["user-provider", "user-provider"]
    assert {v["channel"] for v in provided["versions"]} == {"graphql"}

    for who, claims in [("provider", {"org": demo.TAX}), ("state_organ", {}), ("credit_service", {}),
                        ("subject", {"real_name_verified": False}), ("subject", {"subject_key": demo.PERSON2}),
                        (None, {})]:
        out = await gql(HISTORY, {"id": first["recordId"]}, as_=who, **claims)
        assert out["data"] is None and out["errors"][0]["extensions"]["code"] == "NOT_FOUND", (who, claims)
    out = await gql(HISTORY, {"id": "00000000-0000-4000-8000-000000000000"}, as_="provider")
    assert out["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    reads = [r for r in await log_rows(pool, demo.PERSON) if r["operation"] == "recordHistory"]
    assert [r["outcome"] for r in reads] == ["disclosed", "disclosed"] + ["refused"] * 6
    assert reads[0]["disclosed"][0]["versions"] == 2 and reads[0]["disclosed"][0]["basis"] == "own_data"


# --- subject changes (Art. 35) ----------------------------------------------------------------


def registration(ref: str, name: str, day: str, status: str) -> dict:
    return {"subjectKey": company(77), "subjectType": "LEGAL_PERSON", "subjectName": name,
            "itemCode": "REGISTRATION", "sourceRef": ref, "decidedOn": day,
            "data": {"reg_status": status, "reg_authority": "沧州市运河区市场监督管理局"}}


async def test_registration_records_rename_and_deregister_a_subject_and_keep_its_history(gql, pool):
    key = company(77)
    await gql(SUBMIT, {"records": [registration("DJ-1", "沧州老名称有限公司", "2020-05-06", "存续"),
                                   licence_row(77, sourceRef="XK-77", subjectName="沧州老名称有限公司")]},
              as_="provider")
    out = await gql(SUBMIT, {"records": [registration("DJ-2", "沧州新名称有限公司", "2025-08-01", "存续")]},
                    as_="provider")
    assert out["data"]["submitRecords"][0]["status"] == "CREATED"
    async with pool.acquire() as conn:
        assert tuple(await conn.fetchrow("SELECT name, status FROM subjects WHERE key = $1", key)) == (
            "沧州新名称有限公司", "active")
    # an older registration record arriving late does not rename the subject back
    await gql(SUBMIT, {"records": [registration("DJ-0", "沧州更老名称有限公司", "2018-01-01", "存续")]},
              as_="provider")
    await gql(SUBMIT, {"records": [registration("DJ-3", "沧州新名称有限公司", "2026-10-09", "注销")]},
              as_="provider")
    async with pool.acquire() as conn:
        subject = await conn.fetchrow("SELECT name, status FROM subjects WHERE key = $1", key)
        changes = await conn.fetch(
            "SELECT kind, old_value, new_value, effective FROM subject_changes WHERE subject_key = $1 ORDER BY id", key)
        kept = await conn.fetchval("SELECT count(*) FROM records WHERE subject_key = $1", key)
    assert tuple(subject) == ("沧州新名称有限公司", "deregistered")
    assert [(c["kind"], c["old_value"], c["new_value"]) for c in changes] == [
        ("rename", "沧州老名称有限公司", "沧州新名称有限公司"), ("deregister", "active", "deregistered")]
    assert kept == 5  # the licence and every registration record stay
    acts = [r for r in await log_rows(pool, key) if r["kind"] == "subject_change"]
    assert [a["operation"] for a in acts] == ["rename", "deregister"]
    public = await gql('query($k: ID!) { subject(key: $k) { name status records { id } } }', {"k": key})
    assert public["data"]["subject"]["status"] == "deregistered"
    assert len(public["data"]["subject"]["records"]) == 5


@pytest.mark.parametrize("batch", [1, 3])
async def test_results_come_back_in_file_order_whatever_the_batch_size(client, settings, batch):
    rows = [licence_row(n) for n in range(7)]
    results, summary = await send(client, settings, ndjson(rows), batch=batch)
    assert [r["line"] for r in results] == list(range(1, 8))
    assert summary["batches"] == -(-7 // batch)


async def test_auditors_read_the_collection_log_through_the_query_log(client, settings, gql):
    await send(client, settings, ndjson([licence_row(1), licence_row(2, itemCode="TAX_ARREARS")]))
    out = await gql("""{ queryLog(filter: {kind: COLLECTION}) { edges { node {
        kind operation userId orgCode channel retention details } } } }""", as_="auditor")
    (entry,) = [e["node"] for e in out["data"]["queryLog"]["edges"]]
    assert (entry["kind"], entry["operation"], entry["userId"], entry["orgCode"], entry["channel"]) == (
        "COLLECTION", "bulkUpload", "user-provider", demo.MARKET, "bulk_upload")
    assert entry["retention"] == "long_term"
    assert entry["details"]["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert entry["details"]["outcomes"]["created"] == ["XK-B-000001"]
    denied = await gql("{ queryLog(filter: {kind: COLLECTION}) { edges { node { id } } } }", as_="provider")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_records_history_masks_identity_numbers_as_a_lookup_does(gql, pool):
    data = {**person_penalty()["data"], "cf_xdr_zjlx": "01", "cf_xdr_zjhm": demo.PERSON}
    first = (await gql(SUBMIT, {"records": [person_penalty(data=data)]}, as_="provider"))["data"]["submitRecords"][0]
    q = 'query($id: ID!) { recordHistory(id: $id) { versions { data } } }'
    provided = (await gql(q, {"id": first["recordId"]}, as_="provider"))["data"]["recordHistory"]
    assert provided["versions"][0]["data"]["cf_xdr_zjhm"] == "130902********0213"  # policy p3
    lookup = (await gql('query($k: ID!) { subject(key: $k) { records { id data } } }',
                        {"k": demo.PERSON}, as_="provider"))["data"]["subject"]["records"]
    same = next(r for r in lookup if r["id"] == first["recordId"])
    assert same["data"]["cf_xdr_zjhm"] == provided["versions"][0]["data"]["cf_xdr_zjhm"]
    mine = (await gql(q, {"id": first["recordId"]}, as_="subject"))["data"]["recordHistory"]
    assert mine["versions"][0]["data"]["cf_xdr_zjhm"] == demo.PERSON  # the subject itself


# --- the channel and per-row limits (issue 8, 9) ----------------------------------------------


async def test_the_channel_is_the_endpoints_and_a_query_parameter_cannot_relabel_it(client, settings, pool):
    body = ndjson([licence_row(1, sourceRef="VIA-1")])
    r = await client.post(URL, content=body, params={"via": "cli", "channel": "graphql"}, headers={
        "Content-Type": NDJSON, "Authorization": f"Bearer {token(settings, 'provider')}",
        "User-Agent": "credit-ingest/9.9\x00\x1b[31m"})
    assert r.status_code == 200 and '"created"' in r.text
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT channel FROM records WHERE source_ref = 'VIA-1'")
        act = await conn.fetchrow("SELECT channel, details FROM query_log WHERE kind = 'collection'")
    assert stored == "bulk_upload"
    assert act["channel"] == "bulk_upload"
    details = json.loads(act["details"]) if isinstance(act["details"], str) else act["details"]
    assert details["channel"] == "bulk_upload"
    assert details["declaredClient"] == "credit-ingest/9.9[31m"  # as declared, control characters dropped


async def test_a_row_with_thousands_of_field_names_is_refused_cheaply_alone(client, settings, pool):
    many = licence_row(1, data={f"f{i}": 1 for i in range(80_000)})
    long_name = licence_row(2, data={"x" * 70: "1"})
    long_value = licence_row(3, data={"xk_nr": "长" * 5000})
    results, summary = await send(client, settings, ndjson([many, long_name, long_value, licence_row(4)]))
    got = [(r["line"], r["status"], r.get("field"), r.get("rule")) for r in results]
    assert got == [
        (1, "rejected", "data", "too_many_fields"),
        (2, "rejected", "data." + "x" * 64 + "…", "field_name_length"),
        (3, "rejected", "data.xk_nr", "length"),
        (4, "created", None, None),
    ]
    assert results[0]["message"].startswith("字段过多") and len(results[0]["message"]) < 200
    assert summary["created"] == 1
