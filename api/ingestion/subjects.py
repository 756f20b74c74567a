"""Art. 35: the platform follows a subject's changes. A registration record (category
registration) renames the subject, or marks it deregistered; its records and former names stay."""

from __future__ import annotations

import asyncpg

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..catalog import Catalog

STATUS_FIELDS = ("reg_status", "djzt")
DEREGISTERED = frozenset({"注销", "已注销", "撤销", "撤销登记", "deregistered"})

NEWEST_REGISTRATIONS = """
SELECT DISTINCT ON (r.subject_key) r.subject_key, r.id, r.subject_name, r.decided_on, r.data
FROM records r
WHERE r.subject_key = ANY($1::text[]) AND r.item_code = ANY($2::text[]) AND r.status <> 'deleted'
ORDER BY r.subject_key, r.decided_on DESC, r.submitted_at DESC, r.id
"""
SUBJECTS = "SELECT key, name, status FROM subjects WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE"
UPDATE_SUBJECT = "UPDATE subjects SET name = $2, status = $3, updated_at = now() WHERE key = $1"
INSERT_CHANGE = """
INSERT INTO subject_changes (subject_key, kind, old_value, new_value, record_id, effective)
VALUES ($1, $2, $3, $4, $5, $6)
"""


def registration_codes(catalog: Catalog) -> list[str]:
    return sorted({
        i.code for y in catalog.published_years for i in catalog.items_of(y) if i.category == "registration"
    })


def registered_status(data: dict) -> str:
    value = next((data[f] for f in STATUS_FIELDS if f in data), None)
    return "deregistered" if value in DEREGISTERED else "active"


async def apply_registrations(
    conn: asyncpg.Connection,
    principal: Principal,
    request: RequestInfo | None,
    catalog: Catalog,
    registrations: list,
) -> None:
    """After registration records were stored: each subject takes the name and status of its
    newest registration record (by decision date). Every change is kept and in the trail."""
    keys = sorted({v.subject_key for v, _ in registrations})
    newest = {r["subject_key"]: r for r in await conn.fetch(NEWEST_REGISTRATIONS, keys, registration_codes(catalog))}
    for s in await conn.fetch(SUBJECTS, keys):
        reg = newest.get(s["key"])
        if reg is None:
            continue
        name = reg["subject_name"] or s["name"]
        status = registered_status(reg["data"])
        changes = []
        if name != s["name"]:
            changes.append(("rename", s["name"], name))
        if status != s["status"]:
            changes.append(("deregister" if status == "deregistered" else "reactivate", s["status"], status))
        if not changes:
            continue
        await conn.execute(UPDATE_SUBJECT, s["key"], name, status)
        for kind, old, new in changes:
            await conn.execute(INSERT_CHANGE, s["key"], kind, old, new, reg["id"], reg["decided_on"])
            await record_act(
                conn, principal, kind="subject_change", operation=kind, subject_key=s["key"],
                details={"from": old, "to": new, "record": str(reg["id"]),
                         "effective": reg["decided_on"].isoformat()},
                request=request,
            )
