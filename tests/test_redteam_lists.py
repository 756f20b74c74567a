"""Attacks on the lists and entry objections over GraphQL with real tokens: the public cannot find
a natural person's entry by name (only by the full identity number, and then masked); another
provider cannot answer the objection to an entry it did not make; a severity value that is not
one of the codes is refused rather than read as "no severity"."""

from __future__ import annotations

import pytest

from api import demo
from tests.rights_helpers import step
from tests.test_rights_entry_objection import ANSWER_ENTRY, FILE_ENTRY, black_entry, company

RED = """query($q: String) { listEntries(kind: RED, search: $q) {
  nodes { id subjectKey subjectName } } }"""


@pytest.mark.parametrize("search", ["李秀英", "秀英", "李秀", demo.PERSON2[:17], demo.PERSON2[-6:],
                                    demo.PERSON2.lower()[:-1] + "%", "%%"])
async def test_the_public_cannot_find_a_natural_persons_entry_but_by_the_full_number(gql, search):
    r = await gql(RED, {"q": search})
    assert "errors" not in r, r
    assert r["data"]["listEntries"]["nodes"] == []


async def test_found_by_the_full_number_a_natural_person_is_masked_for_the_public(gql):
    r = await gql(RED, {"q": demo.PERSON2})
    (node,) = r["data"]["listEntries"]["nodes"]
    assert node["subjectKey"] != demo.PERSON2 and "李秀英" not in node["subjectName"]


async def test_another_provider_cannot_answer_an_objection_to_an_entry_it_did_not_make(gql):
    entry = await black_entry(gql)
    case = await step(gql, FILE_ENTRY, {"input": {"entryId": entry["id"], "ground": "ERROR_OR_OMISSION",
                                                  "evidenceRefs": ["说明"]}}, **company())
    for org in (demo.CIVIL, demo.HOUSING):
        other = await step(gql, ANSWER_ENTRY, {"id": case["id"], "remove": True, "reason": "撤销"},
                           as_="provider", org=org)
        assert (other["code"], other["field"]) == ("NOT_FOUND", "id"), other  # not even its existence
    shown = await black_entry(gql)
    assert shown["inForce"] and shown["disputed"]  # not removed by the other provider


@pytest.mark.parametrize("value", [" serious", "Serious", "SERIOUS", "严重 ", "serious\u200b",
                                   "minor,serious", 3])
def test_a_severity_that_is_not_exactly_a_code_is_refused_not_read_as_no_severity(value):
    from pathlib import Path

    import yaml

    from api.ingestion.values import ValueProblem, normalise

    path = Path(__file__).resolve().parent.parent / "api" / "catalog_admin" / "default_catalog.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = doc["items"] if isinstance(doc, dict) else doc
    item = next(i for i in items if i.get("severity"))
    field = next(f for f in item["fields"] if f["name"] == item["severity"]["field"])
    with pytest.raises(ValueProblem):
        normalise("code", tuple(field["codes"]), value, field["label"])


SUBMIT = """mutation($r: [RecordInput!]!) { submitRecords(records: $r) { status version field rule } }"""


async def test_a_provider_resubmitting_a_penalty_cannot_leave_its_severity_out(gql, pool):
    """Found: a re-submission without cf_yzcd was UPDATED, and the record fell back to the item's
    fixed 36 months with repair at once (a general penalty waits 3 months)."""
    async with pool.acquire() as conn:
        rec = await conn.fetchrow("SELECT subject_key, subject_name, decided_on, data, version FROM records "
                                  "WHERE source_ref = 'CF-2026-0928'")
    assert rec["data"]["cf_yzcd"] == "general"
    without = {k: v for k, v in rec["data"].items() if k != "cf_yzcd"}

    def record(data: dict) -> dict:
        return {"subjectKey": rec["subject_key"], "subjectType": "LEGAL_PERSON",
                "subjectName": rec["subject_name"], "itemCode": "ADM_PENALTY", "sourceRef": "CF-2026-0928",
                "decidedOn": rec["decided_on"].isoformat(), "data": data, "changeReason": "更正"}

    for data in (without, {**without, "cf_yzcd": ""}):
        (out,) = (await gql(SUBMIT, {"r": [record(data)]}, as_="provider"))["data"]["submitRecords"]
        assert (out["status"], out["field"], out["rule"]) == ("REJECTED", "data.cf_yzcd", "severity_kept")
    (other,) = (await gql(SUBMIT, {"r": [record({**without, "cf_yzcd": "minor"})]}, as_="provider"))["data"]["submitRecords"]
    assert (other["status"], other["version"]) == ("UPDATED", rec["version"] + 1)
