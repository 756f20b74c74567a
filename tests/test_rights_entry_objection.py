"""An objection to a list entry itself (Art. 25, 37-38) over GraphQL with real tokens: the entry
is disputed while the case is open; the provider that listed it answers; upheld, the entry is
removed from the public list and from the credit check; every step is an act in the trail."""

from __future__ import annotations

import json

from api import demo
from tests.rights_helpers import CASE, INFORM, mutation, snapshot, step

LIST = """query($q: String) { listEntries(kind: BLACK, search: $q) {
  nodes { id caseNumber inForce disputed standing } } }"""
CHECK = """query($s: ID!) { creditCheck(subject: $s, scenario: "government_procurement") {
  listed entries { id standing inForce disputed } measures { measure { code } } } }"""
FILE_ENTRY = CASE + ("mutation($input: EntryObjectionInput!) { fileEntryObjection(input: $input) { "
                     "... on RightsCase { ...C entryId } ... on UserError { code message field rule } } }")
ANSWER_ENTRY = mutation("$id: ID!, $remove: Boolean!, $reason: String!",
                        "answerEntryObjection(caseId: $id, removeEntry: $remove, reason: $reason)")


def company(**claims) -> dict:
    return {"as_": "subject", "subject_key": demo.COMPANY, "org": demo.COMPANY, "name": "王建国", **claims}


async def black_entry(gql) -> dict:
    (entry,) = (await gql(LIST, {"q": demo.COMPANY}))["data"]["listEntries"]["nodes"]
    return entry


async def test_an_upheld_entry_objection_removes_the_entry_from_the_list_and_the_credit_check(gql, owner):
    entry = await black_entry(gql)
    assert entry["inForce"] and not entry["disputed"]
    filing = {"input": {"entryId": entry["id"], "ground": "ERROR_OR_OMISSION",
                        "evidenceRefs": ["复议决定书 沧政复〔2026〕5号"], "statement": "处罚已被复议撤销"}}
    case = await step(gql, FILE_ENTRY, filing, **company())
    assert (case["kind"], case["stage"], case["nextRole"], case["nextOrganisation"]) == (
        "ENTRY_OBJECTION", "ANSWER_ENTRY", "provider", demo.MARKET)
    assert case["recordId"] is None and case["entryId"] == entry["id"]
    assert case["deadline"]["workingDays"] == 15

    # disputed while the case is open, still in force (an objection does not suspend it)
    shown = await black_entry(gql)
    assert shown["disputed"] and shown["inForce"]
    check = (await gql(CHECK, {"s": demo.COMPANY}, as_="state_organ"))["data"]["creditCheck"]
    assert check["listed"] and [e["disputed"] for e in check["entries"]] == [True]

    # refusals change nothing: a second objection, the wrong role, another provider, no reason
    before = await snapshot(owner)
    again = await step(gql, FILE_ENTRY, filing, **company())
    assert (again["code"], again["rule"]) == ("CASE_OPEN", "one_open_case")
    for who, code, rule in (({"as_": "credit_office"}, "WRONG_ROLE", "art38_provider"),
                            ({"as_": "provider", "org": demo.CIVIL}, "NOT_FOUND", "not_found")):
        err = await step(gql, ANSWER_ENTRY, {"id": case["id"], "remove": True, "reason": "认定有误"}, **who)
        assert (err["code"], err["rule"]) == (code, rule), who
    err = await step(gql, ANSWER_ENTRY, {"id": case["id"], "remove": True, "reason": " "}, as_="provider")
    assert (err["code"], err["field"]) == ("INVALID_INPUT", "reason")
    assert await snapshot(owner) == before

    answered = await step(gql, ANSWER_ENTRY, {"id": case["id"], "remove": True,
                                              "reason": "所依据的处罚决定已被复议撤销，认定有误"}, as_="provider")
    assert (answered["stage"], answered["nextRole"]) == ("INFORM_SUBJECT", "credit_office")

    # gone from the public list and from the credit check
    assert (await gql(LIST, {"q": demo.COMPANY}))["data"]["listEntries"]["nodes"] == []
    check = (await gql(CHECK, {"s": demo.COMPANY}, as_="state_organ"))["data"]["creditCheck"]
    assert check["listed"] is False and check["measures"] == []
    assert [e["standing"] for e in check["entries"]] == ["removed"]
    row = await owner.fetchrow("SELECT state, end_reason, ended_on FROM list_entries WHERE id = $1::uuid", entry["id"])
    assert row["state"] == "removed" and "复议撤销" in row["end_reason"] and row["ended_on"] is not None

    closed = await step(gql, INFORM, {"id": case["id"], "m": "名单已撤销"}, as_="credit_office")
    assert (closed["stage"], closed["outcome"], closed["mayGoToCourt"]) == ("CLOSED", "ENTRY_REMOVED", True)
    assert [s["step"] for s in closed["steps"]] == ["file", "answer_entry", "inform_subject"]
    acts = await owner.fetch("SELECT operation, details FROM query_log WHERE kind = 'objection' "
                             "AND subject_key = $1 ORDER BY id", demo.COMPANY)
    assert [a["operation"] for a in acts] == [
        "entry_objection.file", "entry_objection.answer_entry", "entry_objection.inform_subject"]
    details = [json.loads(a["details"]) for a in acts]
    assert all(d["entry"] == entry["id"] for d in details)
    assert details[1]["entry_state"] == "removed" and details[1]["reason"].startswith("所依据")
    told = await owner.fetch("SELECT topic FROM rights_notifications WHERE case_id = $1::uuid ORDER BY id", case["id"])
    assert [t["topic"] for t in told] == [
        "entry_objection.filed", "entry_objection.filed", "entry_objection.answered", "objection.result"]

    # the entry is gone: another objection to it is refused, same code, in the request's language
    for language, words in ((None, "该名单记录已不在列"), ("en", "this entry is no longer listed")):
        gone = await step(gql, FILE_ENTRY, filing, language=language, **company())
        assert (gone["code"], gone["rule"], gone["field"]) == ("NOT_ELIGIBLE", "art37_entry_listed", "entryId")
        assert gone["message"].startswith(words), gone


async def test_an_entry_that_stands_stays_listed_and_is_no_longer_disputed_once_the_subject_is_told(gql):
    entry = await black_entry(gql)
    case = await step(gql, FILE_ENTRY, {"input": {"entryId": entry["id"], "ground": "ERROR_OR_OMISSION",
                                                  "evidenceRefs": ["说明"]}}, **company())
    await step(gql, ANSWER_ENTRY, {"id": case["id"], "remove": False, "reason": "认定符合办法第三条"}, as_="provider")
    assert (await black_entry(gql))["disputed"] is True  # until the subject is told
    closed = await step(gql, INFORM, {"id": case["id"], "m": "名单维持"}, as_="credit_office")
    assert closed["outcome"] == "ENTRY_STANDS"
    shown = await black_entry(gql)
    assert shown["inForce"] and not shown["disputed"]


async def test_only_the_listed_subject_itself_objects_to_its_entry(gql):
    entry = await black_entry(gql)
    filing = {"input": {"entryId": entry["id"], "ground": "ERROR_OR_OMISSION", "evidenceRefs": ["说明"]}}
    other = await step(gql, FILE_ENTRY, filing, as_="subject", subject_key=demo.PERSON)
    assert (other["code"], other["rule"]) == ("NOT_FOUND", "not_found")
    unverified = await step(gql, FILE_ENTRY, filing, **company(real_name_verified=False))
    assert unverified["code"] == "FORBIDDEN"
    assert not (await black_entry(gql))["disputed"]
