"""submitRecords: providers submit records of the items the catalog assigns to them."""

from __future__ import annotations

import pytest

from api import demo

SUBMIT = """
mutation($records: [RecordInput!]!) {
  submitRecords(records: $records) { index sourceRef status recordId version field rule message dueOn late provisional }
}
"""


def licence(**over) -> dict:
    rec = {
        "subjectKey": "91130903MA0DEM021E",
        "subjectType": "LEGAL_PERSON",
        "subjectName": "沧州渤海建材有限公司",
        "itemCode": "ADM_LICENSING",
        "sourceRef": "XK-2026-1001",
        "decidedOn": "2026-11-02",
        "data": {
            "xk_xdr_mc": "沧州渤海建材有限公司", "xk_xdr_lb": "02", "xk_xkws": "建筑材料经营许可决定书",
            "xk_wsh": "沧市监许〔2026〕1001号", "xk_xklb": "01", "xk_nr": "建材销售",
            "xk_jdrq": "2026-11-02", "xk_yxqz": "2026-11-02", "xk_yxqzi": "2031-11-01",
            "xk_xkjg": "沧州市市场监督管理局", "xk_xkjgdm": demo.MARKET, "xk_zt": "1",
        },
    }
    data = over.pop("data", None)
    rec.update(over)
    if data is not None:
        rec["data"] = {**rec["data"], **data}
    return rec


async def count_records(pool) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM records")


async def test_provider_submits_a_record_and_the_public_sees_it(gql, pool):
    out = await gql(SUBMIT, {"records": [licence()]}, as_="provider")
    (res,) = out["data"]["submitRecords"]
    assert res["status"] == "CREATED" and res["recordId"]
    s = (await gql('{ subject(key: "91130903MA0DEM021E") { records { id item { code } } } }'))
    assert [r["id"] for r in s["data"]["subject"]["records"]] == [res["recordId"]]


async def test_resending_the_same_record_is_unchanged_and_not_duplicated(gql, pool):
    first = (await gql(SUBMIT, {"records": [licence()]}, as_="provider"))["data"]["submitRecords"]
    before = await count_records(pool)
    again = (await gql(SUBMIT, {"records": [licence()]}, as_="provider"))["data"]["submitRecords"]
    assert again[0]["status"] == "UNCHANGED" and again[0]["recordId"] == first[0]["recordId"]
    assert await count_records(pool) == before


async def test_changed_content_without_a_reason_is_refused_not_overwritten(gql, pool):
    await gql(SUBMIT, {"records": [licence()]}, as_="provider")
    (res,) = (await gql(SUBMIT, {"records": [licence(data={"xk_nr": "改了"})]}, as_="provider"))[
        "data"]["submitRecords"]
    assert (res["status"], res["field"], res["rule"]) == ("REJECTED", "changeReason", "reason_required")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT data->>'xk_nr' FROM records WHERE source_ref = 'XK-2026-1001'") == "建材销售"


async def test_changed_content_with_a_reason_is_a_new_version(gql, pool):
    first = (await gql(SUBMIT, {"records": [licence()]}, as_="provider"))["data"]["submitRecords"][0]
    fix = licence(data={"xk_nr": "建材及五金销售"}, changeReason="许可内容录入有误，按决定书更正")
    (res,) = (await gql(SUBMIT, {"records": [fix]}, as_="provider"))["data"]["submitRecords"]
    assert (res["status"], res["recordId"], res["version"]) == ("UPDATED", first["recordId"], 2)
    async with pool.acquire() as conn:
        kept = await conn.fetch(
            "SELECT version, data->>'xk_nr' AS nr, reason FROM record_versions WHERE record_id = $1",
            first["recordId"])
        current = await conn.fetchrow(
            "SELECT version, data->>'xk_nr' AS nr, version_reason FROM records WHERE id = $1", first["recordId"])
    assert [tuple(r) for r in kept] == [(1, "建材销售", None)]  # the superseded version, as it was
    assert tuple(current) == (2, "建材及五金销售", "许可内容录入有误，按决定书更正")


@pytest.mark.parametrize(
    "over,field,rule",
    [
        ({"subjectKey": "91130903MA0DEM021F"}, "subjectKey", "check_character"),
        ({"subjectKey": "130902198503120213"}, "subjectType", "subject_type_key"),
        ({"subjectType": "INDIVIDUAL_BUSINESS"}, "subjectType", "subject_type_key"),
        ({"itemCode": "NO_SUCH_ITEM"}, "itemCode", "catalog"),
        ({"itemCode": "TAX_ARREARS"}, "itemCode", "provider_assignment"),
        ({"decidedOn": "2099-01-01"}, "decidedOn", "future_date"),
        ({"sourceRef": "  "}, "sourceRef", "required"),
        ({"subjectName": ""}, "subjectName", "required"),
        ({"data": {"xk_wsh": ""}}, "data.xk_wsh", "required"),
        ({"data": {"xk_jdrq": "2026-02-30"}}, "data.xk_jdrq", "date"),
        ({"data": {"xk_xklb": "09"}}, "data.xk_xklb", "code_list"),
        ({"data": {"colour": "x"}}, "data.colour", "unknown_field"),
        ({"data": {"religion": "x"}}, "data.religion", "art11_forbidden"),
        ({"data": {"xk_jdrq": "2026-11-01"}}, "data.xk_jdrq", "decision_date_mismatch"),
    ],
)
async def test_bad_records_are_rejected_with_field_rule_and_message(gql, pool, over, field, rule):
    before = await count_records(pool)
    (res,) = (await gql(SUBMIT, {"records": [licence(**over)]}, as_="provider"))["data"]["submitRecords"]
    assert (res["status"], res["field"], res["rule"]) == ("REJECTED", field, rule)
    assert res["message"]
    assert await count_records(pool) == before


async def test_a_batch_stores_the_good_records_and_rejects_the_bad_ones(gql, pool):
    batch = [licence(), licence(sourceRef="XK-2026-1002", decidedOn="2099-01-01"),
             licence(sourceRef="XK-2026-1003")]
    res = (await gql(SUBMIT, {"records": batch}, as_="provider"))["data"]["submitRecords"]
    assert [(r["index"], r["status"]) for r in res] == [(0, "CREATED"), (1, "REJECTED"), (2, "CREATED")]


async def test_only_providers_submit(gql, pool):
    out = await gql(SUBMIT, {"records": [licence()]}, as_="credit_service")
    assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    out = await gql(SUBMIT, {"records": [licence()]})
    assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_submission_batch_has_a_maximum_size(gql, pool):
    batch = [licence(sourceRef=f"XK-{i}") for i in range(501)]
    out = await gql(SUBMIT, {"records": batch}, as_="provider")
    assert out["errors"][0]["extensions"]["code"] == "TOO_MANY"
