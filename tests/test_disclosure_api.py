"""The disclosure contract over HTTP with real tokens: who sees which records (Art. 17-20)."""

from __future__ import annotations

import datetime as dt

import pytest

from api import demo
from tests.conftest import log_rows

SUBJECT_Q = """
query($key: ID!, $purpose: String) {
  subject(key: $key, purpose: $purpose) {
    key name type status
    records { id item { code category disclosure } disclosure dishonest decidedOn
              provider { code name } data status disputed basis fieldsWithheld }
    withheld { disclosure count reason code scope itemCode }
  }
}
"""


def items(subject: dict) -> list[str]:
    return sorted(r["item"]["code"] for r in subject["records"])


def withheld(subject: dict) -> dict[tuple[str, str], int]:
    return {(w["disclosure"], w["code"]): w["count"] for w in subject["withheld"] if w["scope"] == "RECORDS"}


async def test_anonymous_sees_public_records_only_and_withheld_counts_the_rest(gql, pool):
    out = await gql(SUBJECT_Q, {"key": demo.COMPANY})
    s = out["data"]["subject"]
    assert {r["disclosure"] for r in s["records"]} == {"PUBLIC"}
    # live public: registration, two licences, the recent penalty; the 2020 penalty (past its
    # 36-month publicity) and the 2019 default judgment (Art. 20, five years) are archived
    assert items(s) == ["ADM_LICENSING", "ADM_LICENSING", "ADM_PENALTY", "REGISTRATION"]
    assert withheld(s) == {("SHARED", "STATE_ORGANS_ONLY"): 2, ("AUTHORIZED", "NEEDS_AUTHORIZATION"): 2}
    rows = await log_rows(pool, demo.COMPANY)
    assert len(rows) == 1
    assert rows[0]["outcome"] == "partial" and rows[0]["user_id"] is None
    assert rows[0]["client_addr"] == "203.0.113.7"


async def test_anonymous_sees_natural_persons_name_masked_and_id_numbers_masked(gql):
    s = (await gql(SUBJECT_Q, {"key": demo.PERSON}))["data"]["subject"]
    assert s["name"] == "张*"
    penalty = next(r for r in s["records"] if r["item"]["code"] == "ADM_PENALTY")
    assert penalty["data"]["cf_xdr_zjhm"] == "130902********0213"
    assert demo.PERSON not in str(s["records"])


async def test_state_organ_with_art29_purpose_sees_shared_records(gql, pool):
    out = await gql(SUBJECT_Q, {"key": demo.COMPANY, "purpose": "government_procurement"}, as_="state_organ")
    s = out["data"]["subject"]
    assert {"TAX_ARREARS", "SOCIAL_INSURANCE"} <= set(items(s))
    shared = [r for r in s["records"] if r["disclosure"] == "SHARED"]
    assert {r["basis"] for r in shared} == {"government_sharing"}
    # authorized records and archived dishonesty need the subject's authorization
    assert withheld(s) == {("AUTHORIZED", "NEEDS_AUTHORIZATION"): 2, ("PUBLIC", "NEEDS_AUTHORIZATION"): 2}
    # state organs see identity numbers unmasked
    penalty = next(r for r in s["records"] if r["item"]["code"] == "ADM_PENALTY")
    assert penalty["data"]["cf_fr_zjhm"] == "130903199207080465"
    (row,) = await log_rows(pool, demo.COMPANY)
    assert row["purpose"] == "government_procurement"
    assert row["retention"] == "long_term"
    assert row["user_name"] == "王芳" and row["org_code"] == demo.HOUSING


async def test_state_organ_without_purpose_is_refused_and_the_refusal_logged(gql, pool):
    out = await gql(SUBJECT_Q, {"key": demo.COMPANY}, as_="state_organ")
    assert out["data"]["subject"] is None
    (err,) = out["errors"]
    assert err["extensions"]["code"] == "PURPOSE_REQUIRED"
    assert err["extensions"]["field"] == "purpose"
    assert "government_procurement" in err["message"]
    (row,) = await log_rows(pool, demo.COMPANY)
    assert row["outcome"] == "refused"
    assert "PURPOSE_REQUIRED" in row["reason"]
    assert row["disclosed"] == []


async def test_state_organ_with_a_purpose_outside_art29_is_refused(gql, pool):
    out = await gql(SUBJECT_Q, {"key": demo.COMPANY, "purpose": "curiosity"}, as_="state_organ")
    assert out["data"]["subject"] is None
    assert out["errors"][0]["extensions"]["code"] == "INVALID_PURPOSE"
    assert [r["outcome"] for r in await log_rows(pool, demo.COMPANY)] == ["refused"]


async def _authorize(pool, *, grantee=demo.AGENCY2, purpose="loan_review", items=(), classes=(),
                     start="-1 day", end="+30 days", revoked=False, subject=demo.COMPANY):
    """An authorization the subject granted itself (effective, or revoked)."""
    async with pool.acquire() as conn:
        return await conn.fetchval(
            """INSERT INTO authorizations (subject_key, grantee_org, purpose, scope_items,
                   scope_classes, valid_from, valid_until, evidence_kind, granted_by,
                   granted_by_name, revoked_at, state, effective_basis, effective_at)
               VALUES ($1, $2, $3, $4, $5, now() + $6::text::interval, now() + $7::text::interval,
                   'self_service', 'test', 'test', CASE WHEN $8 THEN now() END,
                   CASE WHEN $8 THEN 'revoked' ELSE 'effective' END, 'self_service', now())
               RETURNING id""",
            subject, grantee, purpose, list(items), list(classes), start, end, revoked,
        )


async def test_credit_service_sees_authorized_records_under_a_matching_authorization(gql, pool):
    auth_id = await _authorize(pool, classes=["authorized"])
    s = (await gql(SUBJECT_Q, {"key": demo.COMPANY, "purpose": "loan_review"},
                   as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    authorized = [r for r in s["records"] if r["disclosure"] == "AUTHORIZED"]
    assert len(authorized) == 2 and {r["basis"] for r in authorized} == {"authorization"}
    assert ("SHARED", "STATE_ORGANS_ONLY") in withheld(s)
    (row,) = await log_rows(pool, demo.COMPANY)
    assert [str(a) for a in row["authorization_ids"]] == [str(auth_id)]
    assert row["retention"] == "three_years"


@pytest.mark.parametrize(
    "case",
    [
        dict(start="-30 days", end="-1 day"),  # expired
        dict(revoked=True),  # revoked
        dict(grantee=demo.AGENCY),  # another organisation
        dict(purpose="insurance_underwriting"),  # another purpose
        dict(items=["ADM_LICENSING"]),  # scope does not include the authorized items
        dict(start="+1 day", end="+30 days"),  # not valid yet
    ],
    ids=["expired", "revoked", "other-organisation", "other-purpose", "out-of-scope", "not-yet-valid"],
)
async def test_non_matching_authorization_discloses_nothing(gql, pool, case):
    args = {"classes": ["authorized"], **case}
    if "items" in case:
        args["classes"] = []
    await _authorize(pool, **args)
    s = (await gql(SUBJECT_Q, {"key": demo.COMPANY, "purpose": "loan_review"},
                   as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    assert [r for r in s["records"] if r["disclosure"] == "AUTHORIZED"] == []
    assert withheld(s)[("AUTHORIZED", "NEEDS_AUTHORIZATION")] == 2
    (row,) = await log_rows(pool, demo.COMPANY)
    assert row["authorization_ids"] == []


async def test_credit_service_without_purpose_gets_public_records_only(gql):
    s = (await gql(SUBJECT_Q, {"key": demo.COMPANY}, as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    assert {r["disclosure"] for r in s["records"]} == {"PUBLIC"}
    assert withheld(s)[("AUTHORIZED", "NEEDS_AUTHORIZATION")] == 2


async def test_verified_subject_sees_all_its_own_records(gql, pool):
    s = (await gql("{ myCredit { key name records { item { code } status } withheld { count } } }",
                   as_="subject", subject_key=demo.COMPANY))["data"]["myCredit"]
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM records WHERE subject_key = $1 AND status <> 'deleted'", demo.COMPANY
        )
    assert len(s["records"]) == stored == 10
    assert s["withheld"] == []
    (row,) = await log_rows(pool, demo.COMPANY)
    assert row["operation"] == "myCredit" and row["outcome"] == "disclosed"


async def test_unverified_subject_sees_public_records_only(gql):
    s = (await gql("{ myCredit { records { disclosure } withheld { disclosure count code } } }",
                   as_="subject", subject_key=demo.COMPANY, real_name_verified=False))["data"]["myCredit"]
    assert {r["disclosure"] for r in s["records"]} == {"PUBLIC"}
    assert len(s["records"]) == 4
    codes = {w["code"] for w in s["withheld"]}
    assert codes == {"NEEDS_VERIFICATION"}
    assert sum(w["count"] for w in s["withheld"]) == 6


async def test_subject_token_cannot_read_another_subjects_private_records(gql):
    s = (await gql(SUBJECT_Q, {"key": demo.COMPANY}, as_="subject", subject_key=demo.PERSON))["data"]["subject"]
    assert {r["disclosure"] for r in s["records"]} == {"PUBLIC"}


async def test_field_entitlement_gives_exactly_the_entitled_fields(gql, pool):
    """The demo agency may use ADM_PENALTY without amounts and facts (policy.csv p2 lines)."""
    s = (await gql(SUBJECT_Q, {"key": demo.COMPANY, "purpose": "loan_review"},
                   as_="credit_service"))["data"]["subject"]
    penalties = [r for r in s["records"] if r["item"]["code"] == "ADM_PENALTY"]
    assert len(penalties) == 2  # the recent one, and the archived one under the authorization
    penalty = penalties[0]
    entitled = {"cf_wsh", "cf_xdr_mc", "cf_xdr_lb", "cf_xdr_shxym", "cf_xdr_zjlx", "cf_xdr_zjhm",
                "cf_wfxw", "cf_cflb", "cf_jdrq", "cf_cfjg", "cf_cfjgdm"}
    assert set(penalty["data"]) == entitled & set(penalty["data"])
    assert "cf_nr_fk" not in penalty["data"] and "cf_sy" not in penalty["data"]
    async with pool.acquire() as conn:
        full = await conn.fetchval("SELECT data FROM records WHERE id = $1::uuid", penalty["id"])
    hidden = len(set(full) - entitled)
    assert penalty["fieldsWithheld"] == hidden > 0
    field_entries = [w for w in s["withheld"] if w["scope"] == "FIELDS"]
    assert [(w["itemCode"], w["count"], w["code"]) for w in field_entries] == [
        ("ADM_PENALTY", sum(p["fieldsWithheld"] for p in penalties), "FIELDS_NOT_ENTITLED")
    ]
    # an item outside its entitlement is withheld whole
    assert "REGISTRATION" not in items(s)
    assert withheld(s)[("PUBLIC", "NOT_ENTITLED")] == 1
    # the authorized items it is entitled to come in full, under the demo authorization
    utility = [r for r in s["records"] if r["item"]["code"] == "UTILITY_PAYMENT"]
    assert len(utility) == 2 and all(r["fieldsWithheld"] == 0 for r in utility)
    (row,) = await log_rows(pool, demo.COMPANY)
    logged = {d["record"]: d for d in row["disclosed"]}
    assert sorted(logged[penalty["id"]]["fields"]) == sorted(penalty["data"])


async def test_public_penalty_shows_the_counterparts_id_number_masked(gql):
    s = (await gql(SUBJECT_Q, {"key": demo.COMPANY}))["data"]["subject"]
    penalty = next(r for r in s["records"] if r["item"]["code"] == "ADM_PENALTY")
    assert penalty["data"]["cf_fr_zjhm"] == "130903********0465"


async def test_dishonesty_older_than_five_years_is_not_public_but_disclosed_under_authorization(gql, pool):
    anon = (await gql(SUBJECT_Q, {"key": demo.COMPANY}))["data"]["subject"]
    assert "DEFAULT_JUDGMENT" not in items(anon)
    # archived information is not even counted for someone who can never obtain it
    assert all(w["disclosure"] != "PUBLIC" for w in anon["withheld"])
    await _authorize(pool, items=["DEFAULT_JUDGMENT"])
    s = (await gql(SUBJECT_Q, {"key": demo.COMPANY, "purpose": "loan_review"},
                   as_="credit_service", org=demo.AGENCY2))["data"]["subject"]
    judgment = [r for r in s["records"] if r["item"]["code"] == "DEFAULT_JUDGMENT"]
    assert len(judgment) == 1
    assert judgment[0]["basis"] == "authorization" and judgment[0]["dishonest"] is True
    assert dt.date.fromisoformat(judgment[0]["decidedOn"]) < dt.date.today().replace(
        year=dt.date.today().year - 5)


async def test_dishonesty_within_five_years_is_public(gql, pool):
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE records SET decided_on = current_date - 365 * 4 WHERE item_code = 'DEFAULT_JUDGMENT'"
        )
    s = (await gql(SUBJECT_Q, {"key": demo.COMPANY}))["data"]["subject"]
    assert "DEFAULT_JUDGMENT" in items(s)


async def test_deleted_record_is_in_no_view_and_not_counted(gql, pool):
    async with pool.acquire() as conn:
        await conn.execute("UPDATE records SET status = 'deleted' WHERE item_code = 'UTILITY_PAYMENT'")
    mine = (await gql("{ myCredit { records { item { code } } withheld { count } } }",
                      as_="subject", subject_key=demo.COMPANY))["data"]["myCredit"]
    assert "UTILITY_PAYMENT" not in items(mine) and len(mine["records"]) == 8
    anon = (await gql(SUBJECT_Q, {"key": demo.COMPANY}))["data"]["subject"]
    assert ("AUTHORIZED", "NEEDS_AUTHORIZATION") not in withheld(anon)


async def test_disputed_record_carries_the_mark_for_every_viewer(gql, pool):
    async with pool.acquire() as conn:
        await conn.execute("UPDATE records SET status = 'disputed' WHERE source_ref = 'XK-2024-0311'")
    for kwargs in ({}, {"as_": "state_organ"}):
        s = (await gql(SUBJECT_Q, {"key": demo.COMPANY, "purpose": "bidding"}, **kwargs))["data"]["subject"]
        marked = [r for r in s["records"] if r["disputed"]]
        assert len(marked) == 1 and marked[0]["status"] == "DISPUTED"


async def test_repaired_record_leaves_public_view_but_stays_in_own_view(gql, pool):
    async with pool.acquire() as conn:
        await conn.execute("UPDATE records SET status = 'repaired' WHERE source_ref = 'CF-2026-0928'")
    anon = (await gql(SUBJECT_Q, {"key": demo.COMPANY}))["data"]["subject"]
    assert "ADM_PENALTY" not in items(anon)
    mine = (await gql("{ myCredit { records { item { code } status } } }",
                      as_="subject", subject_key=demo.COMPANY))["data"]["myCredit"]
    assert {"item": {"code": "ADM_PENALTY"}, "status": "REPAIRED"} in mine["records"]


async def test_provider_sees_its_own_records_in_every_class_and_others_public_only(gql):
    s = (await gql(SUBJECT_Q, {"key": demo.COMPANY}, as_="provider", org=demo.UTILITY,
                   org_name="沧州市供水排水集团有限公司"))["data"]["subject"]
    own = [r for r in s["records"] if r["provider"]["code"] == demo.UTILITY]
    assert len(own) == 2 and {r["basis"] for r in own} == {"own_provision"}
    assert {r["disclosure"] for r in s["records"] if r["provider"]["code"] != demo.UTILITY} == {"PUBLIC"}


@pytest.mark.parametrize("role", ["credit_office", "data_office", "auditor"])
async def test_offices_and_auditors_see_no_record_content_without_a_case(gql, pool, role):
    s = (await gql(SUBJECT_Q, {"key": demo.COMPANY}, as_=role))["data"]["subject"]
    assert s["records"] == []
    (row,) = await log_rows(pool, demo.COMPANY)
    assert row["outcome"] == "refused" and row["retention"] == "long_term"


async def test_unknown_subject_is_not_found_and_logged(gql, pool):
    out = await gql(SUBJECT_Q, {"key": "91110000600037341L"})
    assert out["data"]["subject"] is None and "errors" not in out
    (row,) = await log_rows(pool, "91110000600037341L")
    assert row["outcome"] == "not_found"


async def test_invalid_subject_key_is_a_clear_error(gql):
    out = await gql(SUBJECT_Q, {"key": "91110000600037341N"})
    (err,) = out["errors"]
    assert err["extensions"] == {"code": "INVALID_INPUT", "field": "key", "rule": "check_character"}
    assert "校验码为 N，但按前 17 位应为 L" in err["message"]


async def test_aliases_fragments_and_repeats_make_one_decision_and_one_log_row(gql, pool):
    q = """
    fragment F on Subject { name records { id data } withheld { count } }
    query {
      a: subject(key: "91130902MA0DEM0135") { ...F }
      b: subject(key: "91130902ma0dem0135") { key ...F records { item { code } } }
      c: subject(key: "91130902MA0DEM0135") { ... on Subject { records { id } } }
    }"""
    out = await gql(q)
    d = out["data"]
    assert d["a"]["records"] == [{"id": r["id"], "data": r["data"]} for r in d["b"]["records"]]
    assert [r["id"] for r in d["c"]["records"]] == [r["id"] for r in d["a"]["records"]]
    assert len(await log_rows(pool, demo.COMPANY)) == 1


async def test_batch_query_logs_one_row_per_distinct_subject(gql, pool):
    q = "query($k: [ID!]!) { subjects(keys: $k, purpose: \"bidding\") { key records { id } } }"
    keys = [demo.COMPANY, demo.PERSON, demo.COMPANY, "91110000600037341L"]
    out = await gql(q, {"k": keys}, as_="state_organ")
    result = out["data"]["subjects"]
    assert [s and s["key"] for s in result] == [demo.COMPANY, demo.PERSON, demo.COMPANY, None]
    rows = await log_rows(pool)
    assert sorted(r["subject_key"] for r in rows) == sorted({*keys})
    assert {r["request_id"] for r in rows} == {rows[0]["request_id"]}


async def test_batch_query_has_a_maximum_size(gql, pool):
    q = "query($k: [ID!]!) { subjects(keys: $k, purpose: \"bidding\") { key } }"
    out = await gql(q, {"k": [demo.COMPANY] * 101}, as_="state_organ")
    assert out["errors"][0]["extensions"]["code"] == "TOO_MANY"
    (row,) = await log_rows(pool)  # the refusal names a subject: logged (issue 9)
    assert row["subject_key"] == demo.COMPANY and row["outcome"] == "refused"
    assert row["reason"].startswith("TOO_MANY")


async def test_batch_query_is_refused_to_the_public(gql):
    q = "{ subjects(keys: [\"91130902MA0DEM0135\"], purpose: \"x\") { key } }"
    out = await gql(q)
    assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_when_the_log_cannot_be_written_the_query_returns_an_error_and_no_data(gql, pool, owner):
    await owner.execute(
        """CREATE FUNCTION refuse_log() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'query log unavailable (test)'; END $$;
           CREATE TRIGGER refuse_log BEFORE INSERT ON query_log
           FOR EACH ROW EXECUTE FUNCTION refuse_log();"""
    )
    try:
        out = await gql(SUBJECT_Q, {"key": demo.COMPANY})
        assert out["data"]["subject"] is None
        (err,) = out["errors"]
        assert err["extensions"]["code"] == "AUDIT_UNAVAILABLE"
        assert "沧州" not in str(out) and "cf_" not in str(out)
    finally:
        await owner.execute("DROP TRIGGER refuse_log ON query_log; DROP FUNCTION refuse_log();")
    assert await log_rows(pool) == []


async def test_auditor_finds_every_lookup_of_a_subject_including_refusals(gql):
    await gql(SUBJECT_Q, {"key": demo.COMPANY})
    await gql(SUBJECT_Q, {"key": demo.COMPANY}, as_="state_organ")  # refused: no purpose
    await gql(SUBJECT_Q, {"key": demo.COMPANY, "purpose": "bidding"}, as_="state_organ")
    await gql(SUBJECT_Q, {"key": demo.PERSON})
    q = """query($f: QueryLogFilter, $after: String) {
      queryLog(filter: $f, first: 2, after: $after) {
        edges { node { subjectKey outcome purpose userName roles disclosed withheld } }
        pageInfo { hasNextPage endCursor } } }"""
    page1 = (await gql(q, {"f": {"subjectKey": demo.COMPANY}}, as_="auditor"))["data"]["queryLog"]
    assert page1["pageInfo"]["hasNextPage"] is True
    page2 = (await gql(q, {"f": {"subjectKey": demo.COMPANY}, "after": page1["pageInfo"]["endCursor"]},
                       as_="auditor"))["data"]["queryLog"]
    nodes = [e["node"] for e in page1["edges"] + page2["edges"]]
    assert [n["outcome"] for n in nodes] == ["partial", "refused", "partial"]
    assert [n["purpose"] for n in nodes] == ["bidding", None, None]
    assert page2["pageInfo"]["hasNextPage"] is False
    refused = (await gql(q, {"f": {"outcome": "REFUSED", "kind": "QUERY"}}, as_="auditor"))["data"]["queryLog"]
    assert [e["node"]["userName"] for e in refused["edges"]] == ["王芳"]


async def test_query_log_is_for_auditors_only(gql):
    out = await gql("{ queryLog { edges { node { id } } } }", as_="state_organ")
    assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN"
