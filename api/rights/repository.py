"""SQL of the rights workflows (migrations/0005_rights.sql). No commits here: the service owns
the transaction."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import asyncpg

CASE_COLUMNS = """
c.id, c.number, c.kind, c.record_id, c.subject_key, c.item_code, c.category, c.provider_org,
c.credit_office_org, c.data_office_org, c.handlers, c.ground, c.statement, c.evidence_refs,
c.filed_by, c.filed_by_name, c.filed_at, c.received_on, c.status_before, c.stage, c.stage_role,
c.stage_org, c.stage_since, c.due_days, c.due_on, c.due_provisional, c.due_basis, c.pauses,
c.paused_since, c.pause_kind, c.outcome, c.outcome_note, c.closed_at, c.closed_on, c.steps,
c.entry_id, o.name AS provider_name, i.name AS item_name
"""
CASE_FROM = """
FROM rights_cases c
LEFT JOIN organisations o ON o.code = c.provider_org
LEFT JOIN catalog_items i ON i.code = c.item_code
"""

RECORD_FOR_UPDATE = """
SELECT r.id, r.subject_key, r.item_code, r.provider_org, r.status, r.version, r.decided_on, r.data
FROM records r WHERE r.id = $1 FOR UPDATE
"""
NEXT_NUMBER = "SELECT nextval('rights_case_number_seq')"
INSERT_CASE = """
INSERT INTO rights_cases (number, kind, record_id, subject_key, item_code, category, provider_org,
    credit_office_org, data_office_org, handlers, ground, statement, evidence_refs, filed_by,
    filed_by_name, filed_at, received_on, status_before, stage, stage_role, stage_org, stage_since,
    due_days, due_on, due_provisional, due_basis, entry_id, steps)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
    $21, $22, $23, $24, $25, $26, $27, 1)
RETURNING id
"""
OPEN_CASE_ON_RECORD = "SELECT number FROM rights_cases WHERE record_id = $1 AND closed_at IS NULL"
OPEN_CASE_ON_ENTRY = "SELECT number FROM rights_cases WHERE entry_id = $1 AND closed_at IS NULL"
LOCK_CASE = "SELECT id FROM rights_cases WHERE id = $1 FOR UPDATE"
SET_STAGE = """
UPDATE rights_cases SET stage = $2, stage_role = $3, stage_org = $4, stage_since = $5,
    due_days = $6, due_on = $7, due_provisional = $8, due_basis = $9, pauses = '[]',
    paused_since = NULL, pause_kind = NULL, outcome = coalesce($10, outcome), steps = steps + 1
WHERE id = $1
"""
SET_PAUSE = """
UPDATE rights_cases SET paused_since = $2, pause_kind = $3, steps = steps + 1 WHERE id = $1
"""
SET_RESUMED = """
UPDATE rights_cases SET paused_since = NULL, pause_kind = NULL, pauses = $2::text::jsonb,
    due_on = $3, due_provisional = $4, steps = steps + 1
WHERE id = $1
"""
CLOSE_CASE = """
UPDATE rights_cases SET stage = 'closed', stage_role = NULL, stage_org = NULL, stage_since = NULL,
    due_days = NULL, due_on = NULL, due_provisional = false, due_basis = NULL, pauses = '[]',
    paused_since = NULL, pause_kind = NULL, outcome = $2, outcome_note = $3, closed_at = $4,
    closed_on = $5, handlers = '{}', steps = steps + 1
WHERE id = $1
"""
INSERT_STEP = """
INSERT INTO rights_steps (case_id, seq, step, actor_id, actor_name, actor_org, actor_role, at,
    on_date, due_on, due_provisional, on_time, details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text::jsonb)
"""
STEPS_OF = """
SELECT case_id, seq, step, actor_id, actor_name, actor_org, actor_role, at, on_date, due_on,
       due_provisional, on_time, details
FROM rights_steps WHERE case_id = ANY($1::uuid[]) ORDER BY case_id, seq
"""
SET_RECORD_STATUS = """
UPDATE records SET status = $2, updated_at = $3, updated_by = $4 WHERE id = $1
"""
# Art. 38 ¶4, Art. 40: the data goes from every view, versions included; the row stays (its
# reference keeps the record from being collected again) with no data.
WIPE_RECORD = """
UPDATE records SET status = 'deleted', data = '{}'::jsonb, consent_ref = NULL, subject_name = NULL,
    version_reason = NULL, version_by_name = NULL, updated_at = $2, updated_by = $3
WHERE id = $1
"""
WIPE_VERSIONS = "DELETE FROM record_versions WHERE record_id = $1"
INSERT_TOMBSTONE = """
INSERT INTO record_tombstones (record_id, subject_key, item_code, category, provider_org, basis,
    case_id, requested_by, requested_by_name, decided_by, decided_by_name, decided_by_org,
    decided_by_role, deleted_at, deleted_on, versions_wiped)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
"""
TOMBSTONE_COLUMNS = """
t.record_id, t.subject_key, t.item_code, t.category, t.provider_org, t.basis, t.case_id,
t.requested_by, t.requested_by_name, t.decided_by, t.decided_by_name, t.decided_by_org,
t.decided_by_role, t.deleted_at, t.deleted_on, t.versions_wiped, c.number AS case_number
"""
TOMBSTONES_OF_SUBJECT = f"""
SELECT {TOMBSTONE_COLUMNS}
FROM record_tombstones t LEFT JOIN rights_cases c ON c.id = t.case_id
WHERE t.subject_key = $1 ORDER BY t.deleted_at DESC, t.record_id
"""
OPEN_STEPS = """
SELECT c.id, c.number, c.kind, c.stage, c.stage_role, c.stage_org, o.name AS org_name,
       c.stage_since, c.due_on, c.due_provisional, c.paused_since
FROM rights_cases c LEFT JOIN organisations o ON o.code = c.stage_org
WHERE c.closed_at IS NULL AND c.due_on < {day} AND {where}
"""


async def record_for_update(conn: asyncpg.Connection, record_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(RECORD_FOR_UPDATE, record_id)


async def open_case_on_record(conn: asyncpg.Connection, record_id: uuid.UUID) -> str | None:
    return await conn.fetchval(OPEN_CASE_ON_RECORD, record_id)


async def open_case_on_entry(conn: asyncpg.Connection, entry_id: uuid.UUID) -> str | None:
    return await conn.fetchval(OPEN_CASE_ON_ENTRY, entry_id)


async def next_number(conn: asyncpg.Connection, kind: str, year: int) -> str:
    n = await conn.fetchval(NEXT_NUMBER)
    prefix = {"objection": "OBJ", "repair": "REP", "entry_objection": "OBL"}[kind]
    return f"{prefix}-{year}-{n:06d}"


async def insert_case(conn: asyncpg.Connection, values: dict[str, Any]) -> uuid.UUID:
    return await conn.fetchval(
        INSERT_CASE,
        values["number"], values["kind"], values["record_id"], values["subject_key"],
        values["item_code"], values["category"], values["provider_org"],
        values["credit_office_org"], values["data_office_org"], values["handlers"],
        values["ground"], values["statement"], values["evidence_refs"], values["filed_by"],
        values["filed_by_name"], values["filed_at"], values["received_on"],
        values["status_before"], values["stage"], values["stage_role"], values["stage_org"],
        values["stage_since"], values["due_days"], values["due_on"], values["due_provisional"],
        values["due_basis"], values.get("entry_id"),
    )


async def lock_case(conn: asyncpg.Connection, case_id: uuid.UUID) -> bool:
    return await conn.fetchval(LOCK_CASE, case_id) is not None


async def get_case(conn: asyncpg.Connection, case_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {CASE_COLUMNS} {CASE_FROM} WHERE c.id = $1", case_id)


async def set_stage(
    conn: asyncpg.Connection, case_id: uuid.UUID, *, stage: str, role: str, org: str | None,
    since: dt.date, days: int, due_on: dt.date, provisional: bool, basis: str, outcome: str | None,
) -> None:
    await conn.execute(
        SET_STAGE, case_id, stage, role, org, since, days, due_on, provisional, basis, outcome
    )


async def set_pause(conn: asyncpg.Connection, case_id: uuid.UUID, since: dt.date, kind: str) -> None:
    await conn.execute(SET_PAUSE, case_id, since, kind)


async def set_resumed(
    conn: asyncpg.Connection, case_id: uuid.UUID, pauses: str, due_on: dt.date, provisional: bool
) -> None:
    await conn.execute(SET_RESUMED, case_id, pauses, due_on, provisional)


async def close_case(
    conn: asyncpg.Connection, case_id: uuid.UUID, *, outcome: str | None, note: str | None,
    at: dt.datetime, on: dt.date,
) -> None:
    await conn.execute(CLOSE_CASE, case_id, outcome, note, at, on)


async def insert_step(conn: asyncpg.Connection, case_id: uuid.UUID, seq: int, values: dict[str, Any]) -> None:
    await conn.execute(
        INSERT_STEP, case_id, seq, values["step"], values["actor_id"], values["actor_name"],
        values["actor_org"], values["actor_role"], values["at"], values["on_date"],
        values.get("due_on"), values.get("due_provisional"), values.get("on_time"),
        json.dumps(values.get("details") or {}, ensure_ascii=False, default=str),
    )


async def steps_of(conn: asyncpg.Connection, case_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(STEPS_OF, case_ids)


async def set_record_status(
    conn: asyncpg.Connection, record_id: uuid.UUID, status: str, at: dt.datetime, by: str | None
) -> None:
    await conn.execute(SET_RECORD_STATUS, record_id, status, at, by)


async def wipe_record(conn: asyncpg.Connection, record_id: uuid.UUID, at: dt.datetime, by: str | None) -> int:
    """Delete a record's data and every version of it; returns how many versions went."""
    await conn.execute(WIPE_RECORD, record_id, at, by)
    status = await conn.execute(WIPE_VERSIONS, record_id)
    return int(status.split()[-1])


async def insert_tombstone(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    await conn.execute(
        INSERT_TOMBSTONE, values["record_id"], values["subject_key"], values["item_code"],
        values["category"], values["provider_org"], values["basis"], values["case_id"],
        values["requested_by"], values["requested_by_name"], values["decided_by"],
        values["decided_by_name"], values["decided_by_org"], values["decided_by_role"],
        values["deleted_at"], values["deleted_on"], values["versions_wiped"],
    )


async def tombstone(conn: asyncpg.Connection, record_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {TOMBSTONE_COLUMNS} FROM record_tombstones t "
        "LEFT JOIN rights_cases c ON c.id = t.case_id WHERE t.record_id = $1",
        record_id,
    )


async def tombstones_of_subject(conn: asyncpg.Connection, subject_key: str) -> list[asyncpg.Record]:
    return await conn.fetch(TOMBSTONES_OF_SUBJECT, subject_key)


async def visible_cases(
    conn: asyncpg.Connection, where: str, args: list[Any], *, kind: str | None,
    open_only: bool | None, first: int, after: tuple[dt.datetime, str] | None,
) -> list[asyncpg.Record]:
    """Cases matching `where` (the caller's visibility), newest first, keyset-paginated."""
    conds = [where]
    args = list(args)
    if kind:
        args.append(kind)
        conds.append(f"c.kind = ${len(args)}")
    if open_only is True:
        conds.append("c.closed_at IS NULL")
    elif open_only is False:
        conds.append("c.closed_at IS NOT NULL")
    if after is not None:
        args.extend(after)
        conds.append(f"(c.filed_at, c.id::text) < (${len(args) - 1}, ${len(args)})")
    args.append(first)
    return await conn.fetch(
        f"SELECT {CASE_COLUMNS} {CASE_FROM} WHERE {' AND '.join(conds)} "
        f"ORDER BY c.filed_at DESC, c.id::text DESC LIMIT ${len(args)}",
        *args,
    )


async def open_steps_due_before(
    conn: asyncpg.Connection, where: str, args: list[Any], day: dt.date
) -> list[asyncpg.Record]:
    """Open steps of the cases matching `where` whose due date is before `day`."""
    args = [*args, day]
    return await conn.fetch(OPEN_STEPS.format(day=f"${len(args)}", where=where), *args)
