"""Records are tamper-evident (Art. 41): every change goes through the platform's signed path,
and a direct UPDATE or DELETE, even by a superuser, is named by `credit audit verify`."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from api import demo
from api.audit.records_check import check_records, seal_legacy_records
from api.cli import main
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET
from tests.test_rights_repair_deletion import DELETE
from tests.test_submission_api import SUBMIT, licence

KEY = TEST_AUDIT_KEY.encode()
REF = "XK-2026-1001"


async def submitted(gql, pool, **over) -> asyncpg.Record:
    out = await gql(SUBMIT, {"records": [licence(**over)]}, as_="provider")
    (res,) = out["data"]["submitRecords"]
    assert res["status"] in ("CREATED", "UPDATED"), res
    async with pool.acquire() as conn:
        return await conn.fetchrow("SELECT * FROM records WHERE id = $1", uuid.UUID(res["recordId"]))


async def findings(pool) -> list[tuple[str, str]]:
    async with pool.acquire() as conn:
        report = await check_records(conn, KEY)
    return [(f.what, f.message) for f in report.findings]


async def as_superuser_without_triggers(owner: asyncpg.Connection, sql: str, *args) -> None:
    """What a DBA can do behind the platform's back: no signing trigger, no foreign keys."""
    async with owner.transaction():
        await owner.execute("SET LOCAL session_replication_role = replica")
        await owner.execute(sql, *args)


async def test_everything_the_platform_writes_verifies(gql, pool):
    await submitted(gql, pool)
    await submitted(gql, pool, data={"xk_nr": "建材及五金销售"}, changeReason="许可范围更正")
    found = await findings(pool)
    assert found == []
    async with pool.acquire() as conn:
        report = await check_records(conn, KEY)
    assert report.rows_checked["records"] >= 11 and report.rows_checked["record_versions"] == 1


async def test_a_session_without_the_platforms_key_cannot_change_a_record(gql, pool, owner):
    rec = await submitted(gql, pool)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="only through the platform"):
        await owner.execute("UPDATE records SET data = data || '{\"xk_nr\": \"x\"}' WHERE id = $1", rec["id"])
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="never deleted"):
        await owner.execute("DELETE FROM records WHERE id = $1", rec["id"])


async def test_a_direct_update_of_a_record_is_named(gql, pool, owner):
    rec = await submitted(gql, pool)
    await as_superuser_without_triggers(
        owner, "UPDATE records SET data = jsonb_set(data, '{xk_nr}', '\"改过的内容\"') WHERE id = $1", rec["id"])
    found = await findings(pool)
    assert [w for w, _ in found] == ["altered"]
    assert str(rec["id"]) in found[0][1] and f"{demo.MARKET}/{REF}" in found[0][1]


async def test_a_direct_delete_of_a_record_is_named_by_the_trail(gql, pool, owner):
    await submitted(gql, pool)
    await as_superuser_without_triggers(owner, "DELETE FROM records WHERE source_ref = $1", REF)
    found = await findings(pool)
    assert [w for w, _ in found] == ["removed"]
    assert f"{demo.MARKET}/{REF}" in found[0][1] and "deleted outside the platform" in found[0][1]


async def test_a_removed_kept_version_and_an_old_version_put_back_are_named(gql, pool, owner):
    first = await submitted(gql, pool)
    await submitted(gql, pool, data={"xk_nr": "建材及五金销售"}, changeReason="许可范围更正")
    await as_superuser_without_triggers(owner, "DELETE FROM record_versions WHERE record_id = $1", first["id"])
    found = await findings(pool)
    assert [w for w, _ in found] == ["version_removed"]
    assert str(first["id"]) in found[0][1] and "[1]" in found[0][1]
    # a DBA puts the first version back from a backup, mac and all: it verifies by itself, but
    # the trail has recorded two versions
    cols = list(first.keys())
    await owner.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await as_superuser_without_triggers(
        owner, f"UPDATE records SET ({', '.join(cols)}) = ({', '.join(f'${i + 1}' for i in range(len(cols)))}) "
        f"WHERE id = $1", *[first[c] for c in cols])
    found = await findings(pool)
    assert [w for w, _ in found] == ["version_removed"]
    assert "at version 1, but the trail records 2 versions" in found[0][1] and REF in found[0][1]


async def test_subjects_and_tombstones_are_covered(gql, pool, owner, clock):
    async with pool.acquire() as conn:  # the demo's commendation, deleted at the subject's request
        rec = await conn.fetchrow("SELECT id FROM records WHERE source_ref = 'BZ-2024-0008'")
    me = {"as_": "subject", "subject_key": demo.PERSON2, "sub": f"user-{demo.PERSON2}"}
    stone = (await gql(DELETE, {"id": str(rec["id"])}, **me))["data"]["requestDeletion"]
    assert stone["basis"] == "art40_request", stone
    assert await findings(pool) == []
    await as_superuser_without_triggers(owner, "UPDATE subjects SET name = '李某某' WHERE key = $1", demo.PERSON2)
    await as_superuser_without_triggers(owner, "DELETE FROM record_tombstones WHERE record_id = $1", rec["id"])
    found = await findings(pool)
    assert sorted(w for w, _ in found) == ["altered", "not_deleted", "not_deleted"]
    assert any(demo.PERSON2 in m and w == "altered" for w, m in found)
    assert all(str(rec["id"]) in m for w, m in found if w == "not_deleted")


async def test_rows_written_before_migration_0007_are_signed_once_and_it_is_an_act(gql, pool, owner):
    await as_superuser_without_triggers(owner, "UPDATE records SET mac = NULL WHERE source_ref = 'BZ-2024-0008'")
    found = await findings(pool)
    assert [w for w, _ in found] == ["unsigned"]
    assert await seal_legacy_records(pool) is None  # the start-up signing ran once already
    assert await seal_legacy_records(pool, again=True) == {
        "records": 1, "record_versions": 0, "record_tombstones": 0, "subjects": 0}
    assert await findings(pool) == []
    async with pool.acquire() as conn:
        act = await conn.fetchrow("SELECT details FROM query_log WHERE operation = 'records.seal_legacy'")
    assert act["details"]["signed"]["records"] == 1


async def test_credit_audit_verify_names_the_record_and_exits_non_zero(gql, pool, owner, dsn, tmp_path,
                                                                       monkeypatch, capsys):
    rec = await submitted(gql, pool)
    for k, v in {"DATABASE_URL": dsn, "CREDIT_AUDIT_KEY": TEST_AUDIT_KEY, "CREDIT_JWT_SECRET": TEST_SECRET,
                 "CREDIT_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(k, v)
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 0
    assert "records verified" in capsys.readouterr().out
    await as_superuser_without_triggers(
        owner, "UPDATE records SET status = 'repaired' WHERE id = $1", rec["id"])
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "RECORDS TAMPERED" in out and str(rec["id"]) in out and REF in out
    # signing what has no mac does not bless what was changed
    assert await asyncio.to_thread(main, ["audit", "seal-records", "--operator-name", "运维值班"]) == 0
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 1
    assert "[altered]" in capsys.readouterr().out


async def test_a_collection_act_that_lists_ids_lets_verify_name_a_deleted_records_id(gql, pool, owner):
    from api.audit.trail import record_act
    from api.auth.principal import Principal

    rec = await submitted(gql, pool)
    provider = Principal(user_id="user-provider", name="王强", org_code=demo.MARKET, org_name=None,
                         roles=("provider",))
    async with pool.acquire() as conn, conn.transaction():
        await record_act(conn, provider, kind="collection", operation="submitRecords",
                         details={"provider": demo.MARKET, "outcomes": {
                             "created": [], "updated": [{"ref": REF, "id": str(rec["id"])}]}})
    found = await findings(pool)
    assert [w for w, _ in found] == ["version_removed"]  # that act says a second version exists
    await as_superuser_without_triggers(owner, "DELETE FROM records WHERE id = $1", rec["id"])
    found = await findings(pool)
    assert [w for w, _ in found] == ["removed"] and str(rec["id"]) in found[0][1], found
