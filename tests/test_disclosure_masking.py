"""Over HTTP: an anonymous lookup of a natural person shows no full name and no full identity
number anywhere in the response; key variants in other digits reach the same subject or are
refused (issue 9)."""

from __future__ import annotations

import json

import pytest

from api import demo
from tests.conftest import log_rows

FULL_Q = """
query($key: ID!, $purpose: String) {
  subject(key: $key, purpose: $purpose) {
    key name type keyType status
    records { id item { code } data status basis }
    withheld { disclosure count reason code scope itemCode }
  }
}
"""
LEGACY = "130902850312021"


async def _plant_ids_in_free_text(pool) -> None:
    """The person's penalty names him in prose, with his ID in full-width digits and a legacy
    15-digit one; the company's names its legal representative and his ID in the remarks."""
    # through the app's own sessions: records change only where each change is signed (0007)
    async with pool.acquire() as conn:
        await _plant(conn)


async def _plant(conn) -> None:
    full_width = "".join(chr(ord("０") + int(c)) if c.isdigit() else c for c in demo.PERSON)
    await conn.execute(
        """UPDATE records SET data = data || jsonb_build_object('cf_sy', $2::text, 'bz', $3::text)
           WHERE subject_key = $1 AND item_code = 'ADM_PENALTY'""",
        demo.PERSON, f"张伟（身份证号{full_width}）销售过期食品", f"旧身份证{LEGACY}",
    )
    await conn.execute(
        """UPDATE records SET data = data || jsonb_build_object('bz', $2::text)
           WHERE subject_key = $1 AND item_code = 'ADM_PENALTY'""",
        demo.COMPANY, "法定代表人王建国，身份证130903199207080465",
    )


@pytest.mark.parametrize("key", [demo.PERSON, demo.PERSON2])
async def test_anonymous_lookup_of_a_person_shows_no_full_name_and_no_full_id(gql, pool, key):
    await _plant_ids_in_free_text(pool)
    out = await gql(FULL_Q, {"key": key})
    text = json.dumps(out, ensure_ascii=False)
    assert "errors" not in out and out["data"]["subject"]["records"]
    for secret in ("张伟", "李秀英", demo.PERSON, demo.PERSON2, LEGACY, "１３０９０２"):
        assert secret not in text
    s = out["data"]["subject"]
    assert s["key"] == key[:6] + "********" + key[-4:]
    assert s["name"] in ("张*", "李**")


async def test_the_person_penalty_is_masked_field_by_field(gql, pool):
    await _plant_ids_in_free_text(pool)
    s = (await gql(FULL_Q, {"key": demo.PERSON}))["data"]["subject"]
    data = next(r for r in s["records"] if r["item"]["code"] == "ADM_PENALTY")["data"]
    assert data["cf_xdr_mc"] == "张*"
    assert data["cf_sy"] == "张*（身份证号130902********0213）销售过期食品"
    assert data["bz"] == "旧身份证130902******021"
    assert data["cf_xdr_zjhm"] == "130902********0213"


async def test_a_company_keeps_its_name_but_its_representative_is_masked(gql, pool):
    await _plant_ids_in_free_text(pool)
    s = (await gql(FULL_Q, {"key": demo.COMPANY}))["data"]["subject"]
    assert s["key"] == demo.COMPANY and s["name"] == "沧州运河示范商贸有限公司"
    penalty = next(r for r in s["records"] if r["item"]["code"] == "ADM_PENALTY")["data"]
    assert penalty["cf_xdr_mc"] == "沧州运河示范商贸有限公司"
    assert penalty["cf_frdb"] == "王**"
    assert penalty["bz"] == "法定代表人王**，身份证130903********0465"
    reg = next(r for r in s["records"] if r["item"]["code"] == "REGISTRATION")["data"]
    assert reg["legal_rep"] == "王**" and reg["legal_rep_id"] == "130903********0465"


async def test_state_organs_and_the_verified_subject_see_names_and_ids_whole(gql, pool):
    await _plant_ids_in_free_text(pool)
    organ = (await gql(FULL_Q, {"key": demo.PERSON, "purpose": "bidding"}, as_="state_organ"))
    s = organ["data"]["subject"]
    assert s["key"] == demo.PERSON and s["name"] == "张伟"
    data = next(r for r in s["records"] if r["item"]["code"] == "ADM_PENALTY")["data"]
    assert data["cf_xdr_mc"] == "张伟" and data["bz"] == f"旧身份证{LEGACY}"
    own = await gql(FULL_Q, {"key": demo.PERSON}, as_="subject", subject_key=demo.PERSON,
                    real_name_verified=True)
    assert own["data"]["subject"]["name"] == "张伟"


async def test_record_history_masks_like_a_lookup(gql, owner, pool):
    await _plant_ids_in_free_text(pool)
    rid = await owner.fetchval(
        "SELECT id FROM records WHERE subject_key = $1 AND item_code = 'ADM_PENALTY'", demo.COMPANY
    )
    q = "query($id: ID!) { recordHistory(id: $id) { versions { subjectName data } } }"
    # the demo policy gives providers no p3: the provider reads its own record masked
    out = await gql(q, {"id": str(rid)}, as_="provider")
    (version,) = out["data"]["recordHistory"]["versions"]
    assert version["data"]["bz"] == "法定代表人王**，身份证130903********0465"
    assert version["data"]["cf_frdb"] == "王**"


@pytest.mark.parametrize(
    "variant",
    [
        "１30902198503120213",  # full-width one
        "１３０９０２１９８５０３１２０２１３",  # all full-width
        "𝟏𝟑𝟎𝟗𝟎𝟐𝟏𝟗𝟖𝟓𝟎𝟑𝟏𝟐𝟎𝟐𝟏𝟑",  # mathematical bold
    ],
)
async def test_a_key_in_compatibility_digits_reaches_the_same_subject_and_is_logged_canonical(
    gql, pool, variant
):
    out = await gql(FULL_Q, {"key": variant, "purpose": "bidding"}, as_="state_organ")
    assert out["data"]["subject"]["key"] == demo.PERSON
    rows = await log_rows(pool)
    assert [r["subject_key"] for r in rows] == [demo.PERSON]


@pytest.mark.parametrize("variant", ["١30902198503120213", "13090219850312021३"])
async def test_a_key_in_other_scripts_digits_is_refused(gql, pool, variant):
    out = await gql(FULL_Q, {"key": variant})
    (err,) = out["errors"]
    assert err["extensions"]["code"] == "INVALID_INPUT"
    assert err["extensions"]["rule"] == "ascii" and err["extensions"]["field"] == "key"
    assert "主体标识" in err["message"]


async def test_a_full_width_key_submitted_joins_the_existing_subject(gql, pool):
    record = {
        "sourceRef": "XK-FW-1", "itemCode": "ADM_LICENSING", "decidedOn": "2026-11-02",
        "subjectKey": "１30902198503120213", "subjectType": "NATURAL_PERSON", "subjectName": "张伟",
        "data": {"xk_xdr_mc": "张伟", "xk_xdr_lb": "01", "xk_xkws": "食品经营许可决定书",
                 "xk_wsh": "沧市监食许〔2026〕9号", "xk_xklb": "01", "xk_nr": "预包装食品销售",
                 "xk_jdrq": "2026-11-02", "xk_yxqz": "2026-11-02", "xk_yxqzi": "2031-11-01",
                 "xk_xkjg": "沧州市市场监督管理局", "xk_xkjgdm": demo.MARKET, "xk_zt": "1"},
    }
    q = "mutation($r: [RecordInput!]!) { submitRecords(records: $r) { status rule message } }"
    out = await gql(q, {"r": [record]}, as_="provider")
    assert out["data"]["submitRecords"][0]["status"] == "CREATED", out
    async with pool.acquire() as conn:
        keys = await conn.fetch("SELECT key FROM subjects WHERE key LIKE '%30902198503120213'")
        subject_of = await conn.fetchval("SELECT subject_key FROM records WHERE source_ref = 'XK-FW-1'")
    assert [k["key"] for k in keys] == [demo.PERSON] and subject_of == demo.PERSON


async def test_a_full_width_key_in_an_authorization_and_a_rights_read_is_the_canonical_one(gql, pool):
    import datetime as dt

    grant = """mutation($input: GrantAuthorizationInput!) { grantAuthorization(input: $input) {
                 __typename ... on Authorization { subjectKey } ... on UserError { code rule } } }"""
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    g = (await gql(grant, {"input": {"subjectKey": "１３０９０２１９８５０３１２０２１３", "granteeOrg": demo.AGENCY2,
                                     "purpose": "loan_review", "scope": {"classes": ["AUTHORIZED"]},
                                     "validUntil": until}}, as_="subject"))["data"]["grantAuthorization"]
    assert g == {"__typename": "Authorization", "subjectKey": demo.PERSON}
    bad = (await gql(grant, {"input": {"subjectKey": "١30902198503120213", "granteeOrg": demo.AGENCY2,
                                       "purpose": "loan_review", "scope": {"classes": ["AUTHORIZED"]},
                                       "validUntil": until}}, as_="subject"))
    assert "ascii" in json.dumps(bad, ensure_ascii=False)
    stones = await gql('{ tombstones(subjectKey: "１30902198503120213") { recordId } }', as_="credit_office")
    assert stones.get("errors") is None, stones
    rows = await log_rows(pool, demo.PERSON)
    assert rows and all(r["subject_key"] == demo.PERSON for r in rows)
