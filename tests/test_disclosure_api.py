"""The disclosure contract over HTTP with real tokens: who sees which records (Art. 17-20)."""

from __future__ import annotations

import datetime as dt

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
