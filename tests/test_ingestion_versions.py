"""store_version: a new version of a stored record outside a submission (e.g. an Art. 38
correction), checked by the one validator, with its reason, the old version kept."""

from __future__ import annotations

import pytest

from api import demo
from api.auth.principal import Principal
from api.errors import InvalidInput
from api.ingestion.versions import store_version

DATA_OFFICE = Principal(user_id="user-data_office", name="杨帆", org_code=demo.DATA_OFFICE,
                        org_name="沧州市大数据服务中心", roles=("data_office",))


async def a_record(pool, ref: str):
    async with pool.acquire() as conn:
        return await conn.fetchrow("SELECT id, version, data FROM records WHERE source_ref = $1", ref)


async def test_a_correction_is_a_new_version_and_the_old_one_is_kept(state, pool):
    rec = await a_record(pool, "CF-2020-0415")
    data = {**rec["data"], "cf_nr": "罚款人民币壹万元", "cf_nr_fk": 1}
    async with pool.acquire() as conn, conn.transaction():
        version = await store_version(conn, state.catalog, DATA_OFFICE, rec["id"], data=data,
                                      reason="异议核实：处罚金额录入错误")
    assert version == rec["version"] + 1
    async with pool.acquire() as conn:
        current = await conn.fetchrow(
            "SELECT data->>'cf_nr' AS nr, version_reason, updated_by, channel FROM records WHERE id = $1", rec["id"])
        kept = await conn.fetchrow("SELECT version, data->>'cf_nr' AS nr FROM record_versions WHERE record_id = $1",
                                   rec["id"])
    assert tuple(current) == ("罚款人民币壹万元", "异议核实：处罚金额录入错误", "user-data_office", "correction")
    assert tuple(kept) == (rec["version"], "罚款人民币贰万元")


@pytest.mark.parametrize(
    "change,reason,rule",
    [({"cf_nr_fk": "很多"}, "x", "amount"), ({"血型": "A"}, "x", "art11_forbidden"), ({}, " ", "required")],
)
async def test_a_correction_obeys_the_same_rules(state, pool, change, reason, rule):
    rec = await a_record(pool, "CF-2020-0415")
    with pytest.raises(InvalidInput) as e:
        async with pool.acquire() as conn, conn.transaction():
            await store_version(conn, state.catalog, DATA_OFFICE, rec["id"], data={**rec["data"], **change},
                                reason=reason)
    assert e.value.rule == rule
    assert (await a_record(pool, "CF-2020-0415"))["version"] == rec["version"]


async def test_a_correction_may_change_a_penalty_severity_but_not_leave_it_out(state, pool):
    """Left out, the record would fall back to the item's fixed 36 months and repair at once:
    a serious penalty's wait for repair gone, a minor one public twelve times longer."""
    rec = await a_record(pool, "CF-2026-0928")
    assert rec["data"]["cf_yzcd"] == "general"
    without = {k: v for k, v in rec["data"].items() if k != "cf_yzcd"}
    for data in (without, {**without, "cf_yzcd": ""}):
        with pytest.raises(InvalidInput) as e:
            async with pool.acquire() as conn, conn.transaction():
                await store_version(conn, state.catalog, DATA_OFFICE, rec["id"], data=data, reason="异议核实")
        assert (e.value.field, e.value.rule) == ("data.cf_yzcd", "severity_kept")
    assert (await a_record(pool, "CF-2026-0928"))["version"] == rec["version"]
    async with pool.acquire() as conn, conn.transaction():
        await store_version(conn, state.catalog, DATA_OFFICE, rec["id"], data={**without, "cf_yzcd": "严重"},
                            reason="异议核实：情节严重")
    assert (await a_record(pool, "CF-2026-0928"))["data"]["cf_yzcd"] == "严重"
