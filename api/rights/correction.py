"""Art. 38 ¶2: the data office's correction is a new version of the record with its reason
(Art. 16, 36), stored by collection's own `store_version`: the same validator checks the new
content against the catalog, and the version replaced is kept as it was."""

from __future__ import annotations

from typing import Any

import asyncpg

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..ingestion.versions import store_version


async def store_correction(
    conn: asyncpg.Connection, env: Any, principal: Principal, request: RequestInfo | None,
    record: Any, *, data: dict, reason: str, case_number: str,
) -> int:
    """The new version's number. Raises InvalidInput (field, rule) when the content breaks a
    catalog rule; the caller's transaction then changes nothing."""
    version = await store_version(
        conn, env.catalog, principal, record["id"], data=data, reason=reason, channel="objection",
        today=env.today(),
    )
    await record_act(
        conn, principal, kind="correction", operation="record.correct.art38",
        subject_key=record["subject_key"],
        details={"record": str(record["id"]), "item": record["item_code"], "version": version,
                 "reason": reason, "case": case_number},
        request=request,
    )
    return version
