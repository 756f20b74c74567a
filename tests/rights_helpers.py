"""Shared by the rights tests: a fixed clock, records submitted by their provider, the GraphQL
documents, and a snapshot of everything a refused step must leave unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from api import demo

D = dt.date.fromisoformat
COMPANY = "91130903MA0DEM021E"  # 沧州渤海建材有限公司: no demo records of its own
COMPANY_NAME = "沧州渤海建材有限公司"


class Clock:
    """What time it is for the rights workflows: 10:00 Beijing time on the day set."""

    def __init__(self, day: str = "2026-09-28"):
        self.set(day)

    def set(self, day: str, hour: int = 10) -> None:
        self.at = dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00")

    def __call__(self) -> dt.datetime:
        return self.at


SUBMIT = """
mutation($records: [RecordInput!]!) {
  submitRecords(records: $records) { index status recordId field rule message }
}
"""


def penalty(ref: str, decided: str = "2026-09-10", **data: Any) -> dict:
    return {
        "subjectKey": COMPANY, "subjectType": "LEGAL_PERSON", "subjectName": COMPANY_NAME,
        "itemCode": "ADM_PENALTY", "sourceRef": ref, "decidedOn": decided,
        "data": {
            "cf_wsh": f"沧市监罚〔2026〕{ref[-3:]}号", "cf_xdr_mc": COMPANY_NAME, "cf_xdr_lb": "02",
            "cf_xdr_shxym": COMPANY, "cf_wfxw": "违反产品质量法", "cf_cflb": "罚款",
            "cf_nr": "罚款人民币叁万元", "cf_nr_fk": 3.0, "cf_jdrq": decided,
            "cf_cfjg": "沧州市市场监督管理局", "cf_cfjgdm": demo.MARKET, **data,
        },
    }


def licence(ref: str, decided: str = "2026-09-01") -> dict:
    return {
        "subjectKey": COMPANY, "subjectType": "LEGAL_PERSON", "subjectName": COMPANY_NAME,
        "itemCode": "ADM_LICENSING", "sourceRef": ref, "decidedOn": decided,
        "data": {
            "xk_xdr_mc": COMPANY_NAME, "xk_xdr_lb": "02", "xk_xkws": "建筑材料经营许可决定书",
            "xk_wsh": f"沧市监许〔2026〕{ref[-3:]}号", "xk_xklb": "01", "xk_nr": "建材销售",
            "xk_jdrq": decided, "xk_yxqz": decided, "xk_yxqzi": "2031-08-31",
            "xk_xkjg": "沧州市市场监督管理局", "xk_xkjgdm": demo.MARKET, "xk_zt": "1",
        },
    }


async def submit(gql, *records: dict) -> list[str]:
    """Records stored through submitRecords, as their provider (the market regulator)."""
    out = (await gql(SUBMIT, {"records": list(records)}, as_="provider"))["data"]["submitRecords"]
    assert all(r["status"] == "CREATED" for r in out), out
    return [r["recordId"] for r in out]


def as_company(**claims: Any) -> dict:
    return {"as_": "subject", "subject_key": COMPANY, "name": "李明", "org": COMPANY,
            "org_name": COMPANY_NAME, "sub": "user-company-li", **claims}


CASE = """
fragment C on RightsCase {
  id number kind recordId subjectKey itemCode category stage nextRole nextOrganisation outcome
  outcomeNote closedOn mayGoToCourt ground evidenceRefs receivedOn provider { code }
  deadline { since workingDays dueOn provisional basis pausedSince pauseKind pauses overdue }
  steps { seq step role organisation actorName on dueOn dueProvisional onTime details }
}
"""
RESULT = "... on RightsCase { ...C } ... on UserError { code message field rule }"


def mutation(variables: str, call: str) -> str:
    """A rights mutation answering its result union."""
    return CASE + f"mutation({variables}) {{ {call} {{ {RESULT} }} }}"


FILE = mutation("$input: ObjectionInput!", "fileObjection(input: $input)")
NOTIFY = mutation("$id: ID!", 'notifyDataOffice(caseId: $id, note: "请比对")')
COMPARE = mutation("$id: ID!, $r: ComparisonResult!", "recordComparison(caseId: $id, result: $r)")
CORRECT = mutation("$id: ID!, $data: JSON!, $reason: String!",
                   "correctRecord(caseId: $id, data: $data, reason: $reason)")
REQUEST = mutation("$id: ID!", "requestVerification(caseId: $id)")
PAUSE = mutation("$id: ID!, $k: PauseKind!", "pauseVerification(caseId: $id, kind: $k)")
RESUME = mutation("$id: ID!", "resumeVerification(caseId: $id)")
ANSWER = mutation("$id: ID!, $r: VerificationResult!", 'answerVerification(caseId: $id, result: $r, note: "核查结论")')
INFORM = mutation("$id: ID!, $m: String!", "informSubject(caseId: $id, message: $m)")
APPLY = mutation("$input: RepairInput!", "applyForRepair(input: $input)")
DECIDE = mutation("$id: ID!, $ok: Boolean!, $reason: String",
                  "decideRepair(caseId: $id, approved: $ok, reason: $reason)")
GET = CASE + "query($id: ID!) { rightsCase(id: $id) { ...C } }"


async def step(gql, doc: str, variables: dict, **who: Any) -> dict:
    """Run a rights mutation; return its RightsCase or UserError."""
    r = await gql(doc, variables, **who)
    assert "errors" not in r, r
    (value,) = r["data"].values()
    return value


async def snapshot(owner: asyncpg.Connection) -> dict[str, Any]:
    """Everything a step writes: cases, steps, notifications, records, versions, tombstones and
    the acts of the audit trail (queries are left out: looking is not changing)."""
    out = {}
    for table, order in (("rights_cases", "id"), ("rights_steps", "case_id, seq"),
                         ("rights_notifications", "id"), ("records", "id"),
                         ("record_versions", "record_id, version"), ("record_tombstones", "record_id")):
        out[table] = [dict(r) for r in await owner.fetch(f"SELECT * FROM {table} ORDER BY {order}")]
    out["acts"] = [dict(r) for r in await owner.fetch(
        "SELECT id, kind, operation, details FROM query_log WHERE kind <> 'query' ORDER BY id")]
    return out
