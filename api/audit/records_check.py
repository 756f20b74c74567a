"""Tamper evidence for records, their kept versions, tombstones and subjects (Art. 41: 不得篡改).

Every row carries `mac` = HMAC-SHA256 over its canonical content, with a key derived from the
audit key (api/db_login.py `record_mac_key`). The signing triggers of migrations/0007 make it in the
app's own sessions, the only ones that hold the key; a session without it cannot change these
rows. `check_records` recomputes every mac here, in Python, over the content as PostgreSQL's
own jsonb functions spell it (the same expression as the triggers: keep the lists below and the
migration in step), and then holds the tables against the sealed trail: each record an act
stored, corrected or deleted must still be there, at least at the version the acts count, with
its tombstone when deleted. So an UPDATE outside the platform breaks a mac, a DELETE leaves a
record the trail names missing, and a row put back from an old backup is short of versions."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ..auth.principal import Principal
from ..db import create_pool, transaction
from ..db_login import record_mac_key
from ..db_migrate import migrate
from ..db_server import resolve_database_url
from .trail import record_act

# table -> (what names a row, the canonical content); must match migrations/0007's triggers.
CONTENT = {
    "records": (
        "id::text || ' (' || provider_org || '/' || source_ref || ')'",
        "'record', id, version, subject_key, subject_name, item_code, provider_org, source_ref, "
        "decided_on, data, consent_ref, catalog_year, status, submitted_by, "
        "extract(epoch FROM submitted_at), version_reason, version_by_name, channel, received_on, "
        "updated_by, extract(epoch FROM updated_at)",
    ),
    "record_versions": (
        "record_id::text || ' version ' || version",
        "'version', record_id, version, subject_key, subject_name, item_code, decided_on, data, "
        "consent_ref, catalog_year, reason, submitted_by, submitted_by_name, "
        "extract(epoch FROM submitted_at), channel, request_id",
    ),
    "record_tombstones": (
        "record_id::text",
        "'tombstone', record_id, subject_key, item_code, category, provider_org, basis, case_id, "
        "requested_by, requested_by_name, decided_by, decided_by_name, decided_by_org, "
        "decided_by_role, extract(epoch FROM deleted_at), deleted_on, versions_wiped",
    ),
    "subjects": (
        "key",
        "'subject', key, key_type, subject_type, name, status, extract(epoch FROM created_at), "
        "extract(epoch FROM updated_at)",
    ),
}
NOUN = {"records": "record", "record_versions": "kept version of record",
        "record_tombstones": "tombstone of record", "subjects": "subject"}


@dataclass(frozen=True)
class RecordFinding:
    what: str  # altered | unsigned | removed | version_removed | not_deleted | subject_removed
    message: str


@dataclass
class RecordsReport:
    rows_checked: dict[str, int] = field(default_factory=dict)
    findings: list[RecordFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def _mac(key: bytes, content: str) -> bytes:
    return hmac.new(key, content.encode(), hashlib.sha256).digest()


async def _check_macs(conn: asyncpg.Connection, key: bytes, table: str, report: RecordsReport) -> None:
    name, content = CONTENT[table]
    checked = 0
    async with conn.transaction(readonly=True):
        async for r in conn.cursor(
            f"SELECT {name} AS name, mac, pg_catalog.jsonb_build_array({content})::text AS content "
            f"FROM public.{table}", prefetch=2000,
        ):
            checked += 1
            if r["mac"] is None:
                report.findings.append(RecordFinding(
                    "unsigned", f"{NOUN[table]} {r['name']} has no mac: written outside the platform, "
                    "or not signed yet (`credit audit seal-records`)"))
            elif not hmac.compare_digest(_mac(key, r["content"]), bytes(r["mac"])):
                report.findings.append(RecordFinding(
                    "altered", f"{NOUN[table]} {r['name']} does not match its mac: changed outside "
                    "the platform"))
    report.rows_checked[table] = checked


# Versions kept must be exactly 1 .. version-1 (none once deleted); versions of a record that is
# gone; deleted records without tombstone and tombstones without deleted record; records whose
# subject is gone.
STRUCTURE = """
SELECT 'version_removed' AS what, r.id::text || ' (' || r.provider_org || '/' || r.source_ref || ')'
       AS name, r.version, r.status, array_remove(array_agg(v.version ORDER BY v.version), NULL) AS kept
FROM public.records r LEFT JOIN public.record_versions v ON v.record_id = r.id
GROUP BY r.id
HAVING (r.status = 'deleted' AND count(v.version) > 0)
    OR (r.status <> 'deleted' AND (count(v.version) <> r.version - 1 OR max(v.version) >= r.version))
UNION ALL
SELECT 'removed', v.record_id::text, max(v.version), NULL, NULL FROM public.record_versions v
WHERE NOT EXISTS (SELECT 1 FROM public.records r WHERE r.id = v.record_id) GROUP BY v.record_id
UNION ALL
SELECT 'not_deleted', coalesce(r.id, t.record_id)::text || coalesce(' (' || r.provider_org || '/'
       || r.source_ref || ')', ''), NULL, r.status, NULL
FROM public.records r FULL JOIN public.record_tombstones t ON t.record_id = r.id
WHERE (r.status = 'deleted') IS DISTINCT FROM (t.record_id IS NOT NULL)
UNION ALL
SELECT 'subject_removed', r.subject_key, count(*), NULL, NULL FROM public.records r
WHERE NOT EXISTS (SELECT 1 FROM public.subjects s WHERE s.key = r.subject_key) GROUP BY r.subject_key
"""
# What the sealed trail says was stored: each collection act lists the references it created and
# updated (a string, or an object with "ref" and "id"), each correction act (record.correct.*) names the
# record and adds a version, each deletion act names the record deleted.
TRAIL = """
WITH mentions AS (
    SELECT q.id AS act, q.details->>'provider' AS provider_org, o.kind,
           CASE jsonb_typeof(e) WHEN 'string' THEN e #>> '{}' ELSE e->>'ref' END AS source_ref,
           CASE jsonb_typeof(e) WHEN 'object' THEN e->>'id' END AS record_id
    FROM public.query_log q
    CROSS JOIN LATERAL (VALUES ('created'), ('updated')) o(kind)
    CROSS JOIN LATERAL jsonb_array_elements(coalesce(q.details->'outcomes'->o.kind, '[]')) e
    WHERE q.kind = 'collection'
), stored AS (
    SELECT provider_org, source_ref, count(*) FILTER (WHERE kind = 'updated') AS updates,
           min(act) AS first_act, max(record_id) AS record_id
    FROM mentions GROUP BY provider_org, source_ref
), corrected AS (
    SELECT (details->>'record')::uuid AS id, count(*) AS versions, min(id) AS first_act
    FROM public.query_log WHERE kind = 'correction' AND operation LIKE 'record.correct%'
    GROUP BY 1
), deleted AS (
    SELECT DISTINCT ON ((details->>'record')::uuid) (details->>'record')::uuid AS id, id AS act
    FROM public.query_log WHERE kind = 'deletion' ORDER BY (details->>'record')::uuid, id
)
SELECT s.provider_org, s.source_ref, s.first_act AS act, coalesce(r.id::text, s.record_id) AS id,
       r.version, r.status,
       1 + s.updates + coalesce(c.versions, 0) AS expected, 'collection' AS source
FROM stored s
LEFT JOIN public.records r ON r.provider_org = s.provider_org AND r.source_ref = s.source_ref
LEFT JOIN corrected c ON c.id = r.id
WHERE r.id IS NULL OR r.version < 1 + s.updates + coalesce(c.versions, 0)
UNION ALL
SELECT r.provider_org, r.source_ref, c.first_act, c.id::text, r.version, r.status, 1 + c.versions,
       'correction'
FROM corrected c LEFT JOIN public.records r ON r.id = c.id
WHERE r.id IS NULL OR (r.version < 1 + c.versions AND NOT EXISTS (
    SELECT 1 FROM stored s WHERE s.provider_org = r.provider_org AND s.source_ref = r.source_ref))
UNION ALL
SELECT r.provider_org, r.source_ref, d.act, d.id::text, r.version, r.status, NULL, 'deletion'
FROM deleted d LEFT JOIN public.records r ON r.id = d.id
WHERE r.id IS NULL OR r.status <> 'deleted'
   OR NOT EXISTS (SELECT 1 FROM public.record_tombstones t WHERE t.record_id = d.id)
UNION ALL
SELECT NULL, q.subject_key, min(q.id), NULL, NULL, NULL, NULL, 'subject_change'
FROM public.query_log q
WHERE q.kind = 'subject_change' AND NOT EXISTS (SELECT 1 FROM public.subjects s WHERE s.key = q.subject_key)
GROUP BY q.subject_key
"""


def _structure_finding(r: asyncpg.Record) -> RecordFinding:
    if r["what"] == "version_removed":
        if r["status"] == "deleted":
            msg = f"record {r['name']} is deleted but versions {r['kept']} are still kept"
        else:
            missing = sorted(set(range(1, r["version"])) - set(r["kept"]))
            msg = (f"record {r['name']} is at version {r['version']}, but kept versions {missing or r['kept']} "
                   "are missing or out of place: removed outside the platform")
        return RecordFinding("version_removed", msg)
    if r["what"] == "removed":
        return RecordFinding("removed", f"record {r['name']} is missing but its versions (up to "
                             f"{r['version']}) remain: deleted outside the platform")
    if r["what"] == "not_deleted":
        return RecordFinding("not_deleted", f"record {r['name']}: status {r['status'] or 'missing'} "
                             "does not agree with its tombstone")
    return RecordFinding("subject_removed", f"subject {r['name']} of {r['version']} record(s) is "
                         "missing: deleted outside the platform")


def _trail_finding(r: asyncpg.Record) -> RecordFinding:
    ref = f"{r['provider_org']}/{r['source_ref']}" if r["source_ref"] else "?"
    named = f"record {r['id'] or '(id not kept)'} ({ref})"
    act = f"trail entry {r['act']}"
    if r["source"] == "subject_change":
        return RecordFinding("subject_removed", f"subject {r['source_ref']}, changed by {act}, is "
                             "missing: deleted outside the platform")
    if r["version"] is None:
        return RecordFinding("removed", f"{named}, stored or changed by {act}, is missing: deleted "
                             "outside the platform")
    if r["source"] == "deletion":
        return RecordFinding("not_deleted", f"{named} was deleted by {act}, but now its status is "
                             f"{r['status']} or its tombstone is gone: changed outside the platform")
    return RecordFinding("version_removed", f"{named} is at version {r['version']}, but the trail "
                         f"records {r['expected']} versions: a later version was removed or an old "
                         "one put back")


async def check_records(conn: asyncpg.Connection, audit_key: bytes) -> RecordsReport:
    """Every mac, the versions' and tombstones' structure, and the trail's word against the
    tables. Memory stays bounded by the findings."""
    report = RecordsReport()
    key = record_mac_key(audit_key)
    for table in CONTENT:
        await _check_macs(conn, key, table, report)
    report.findings += [_structure_finding(r) for r in await conn.fetch(STRUCTURE)]
    report.findings += [_trail_finding(r) for r in await conn.fetch(TRAIL)]
    return report


def print_report(report: RecordsReport, show: int = 20) -> bool:
    counts = ", ".join(f"{n} {t}" for t, n in report.rows_checked.items())
    print(f"records: checked {counts}")
    if report.ok:
        print("records verified: no record, version, tombstone or subject changed or removed "
              "outside the platform")
        return True
    print(f"RECORDS TAMPERED: {len(report.findings)} finding(s); first: {report.findings[0].message}")
    for f in report.findings[:show]:
        print(f"- [{f.what}] {f.message}")
    return False


def verify_records(settings: Any, show: int = 20) -> bool:
    """`credit audit verify`'s part for records: prints the findings, True when there are none."""
    async def run() -> RecordsReport:
        dsn = resolve_database_url(settings)
        pool = await create_pool(dsn, audit_key=settings.audit_key, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                return await check_records(conn, settings.audit_key)
        finally:
            await pool.close()

    return print_report(asyncio.run(run()), show)


# ---- signing rows written before migration 0007 ------------------------------------------------

_SEAL_LOCK = 7_310_902_413
PLATFORM = Principal(
    user_id="system:platform", name="公共信用信息平台", org_code=None, org_name=None,
    roles=("data_office",),
)


async def seal_legacy_records(
    pool: asyncpg.Pool, actor: Principal = PLATFORM, *, again: bool = False
) -> dict[str, int] | None:
    """Give every row without a mac its mac, once: at the first start-up after migration 0007
    (afterwards a row without mac is reported by verify, not signed), or when an operator runs
    `credit audit seal-records` (again=True). Each signing that signs anything is an act in the
    trail with the counts. Returns the counts, or None when it had already run."""
    async with transaction(pool) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _SEAL_LOCK)
        if not again and await conn.fetchval("SELECT true FROM record_macs_backfilled LIMIT 1"):
            return None
        counts = {}
        for table in CONTENT:  # SET mac = NULL: the signing trigger computes it
            status = await conn.execute(f"UPDATE {table} SET mac = NULL WHERE mac IS NULL")
            counts[table] = int(status.split()[-1])
        await conn.execute("INSERT INTO record_macs_backfilled (rows) VALUES ($1::text::jsonb)",
                           json.dumps(counts))
        if any(counts.values()):
            await record_act(conn, actor, kind="correction", operation="records.seal_legacy",
                             details={"signed": counts, "again": again})
    return counts


def register(cmds: argparse._SubParsersAction) -> None:
    p = cmds.add_parser("seal-records", help="sign records, versions, tombstones and subjects "
                        "that have no mac (rows written before migration 0007); an act")
    p.add_argument("--operator-name", required=True, help="who runs it (logged)")
    p.set_defaults(run=_seal_records)


def _seal_records(settings: Any, args: argparse.Namespace) -> int:
    async def run() -> dict[str, int] | None:
        dsn = resolve_database_url(settings)
        await migrate(dsn, settings.migrations_dir)
        pool = await create_pool(dsn, audit_key=settings.audit_key, min_size=1, max_size=1)
        try:
            actor = Principal(user_id=f"os:{getpass.getuser()}", name=args.operator_name,
                              org_code=None, org_name=None, roles=("data_office",))
            return await seal_legacy_records(pool, actor, again=True)
        finally:
            await pool.close()

    print(f"signed: {asyncio.run(run())}")
    return 0
