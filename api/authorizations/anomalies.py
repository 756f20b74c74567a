"""What auditors watch in the authorization flow (Art. 19, 41): organisations registering
unusually many authorizations, pending ones left unconfirmed, authorizations used for archived
dishonesty data within minutes of taking effect, and disputed ones. Reading the report is an
act in the trail (kind audit_read). `credit authorizations anomalies` prints the same."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..errors import Forbidden
from ..i18n import _
from .common import write_act
from .config import AuthorizationSettings

ROWS_MAX = 500

BURSTS = """
SELECT grantee_org, count(*) AS registrations, min(granted_at) AS first_at, max(granted_at) AS last_at
FROM authorizations
WHERE evidence_kind = 'signed_document' AND granted_at > now() - make_interval(hours => $1)
GROUP BY grantee_org HAVING count(*) >= $2
ORDER BY registrations DESC, grantee_org LIMIT $3
"""
STALE_PENDING = """
SELECT * FROM authorizations
WHERE state = 'pending' AND granted_at < now() - make_interval(days => $1)
ORDER BY granted_at LIMIT $2
"""
# A use soon after taking effect that disclosed an archived dishonesty record (Art. 20: older
# than five years, or archived by the data office) under the authorization.
QUICK_ARCHIVED_USES = """
SELECT a.*, q.id AS log_id,
       q.at AS used_at, d ->> 'record' AS record_id, d ->> 'item' AS item_code
FROM authorizations a
JOIN query_log q ON q.subject_key = a.subject_key AND a.id = ANY (q.authorization_ids)
     AND q.kind = 'query' AND q.at >= a.effective_at
     AND q.at < a.effective_at + make_interval(mins => $1)
CROSS JOIN LATERAL jsonb_array_elements(q.disclosed) d
JOIN records r ON r.id::text = d ->> 'record'
JOIN catalog_items c ON c.code = r.item_code
WHERE a.effective_at >= $2 AND d ->> 'basis' = 'authorization' AND c.dishonest
  AND (r.status = 'archived'
       OR r.decided_on + interval '5 years' <= (q.at AT TIME ZONE 'Asia/Shanghai')::date)
ORDER BY q.id LIMIT $3
"""
DISPUTED = """
SELECT a.*, d.id AS dispute_id, d.opened_at, d.closed_at, d.finding
FROM authorization_disputes d JOIN authorizations a ON a.id = d.authorization_id
WHERE d.opened_at >= $1 OR d.closed_at IS NULL
ORDER BY d.opened_at DESC LIMIT $2
"""


@dataclass(frozen=True)
class AnomalyReport:
    since: dt.datetime
    settings: AuthorizationSettings
    bursts: list[asyncpg.Record]
    stale_pending: list[asyncpg.Record]
    quick_archived_uses: list[asyncpg.Record]
    disputed: list[asyncpg.Record]


async def anomalies(
    pool: asyncpg.Pool, principal: Principal, settings: AuthorizationSettings, *,
    since: dt.datetime | None = None, request: RequestInfo | None = None,
) -> AnomalyReport:
    if not principal.has("auditor"):
        raise Forbidden(_("the anomaly report is for auditors"), rule="auditor_role")
    async with transaction(pool) as conn:
        since = since or await conn.fetchval("SELECT now() - interval '30 days'")
        report = AnomalyReport(
            since=since, settings=settings,
            bursts=await conn.fetch(BURSTS, settings.burst_hours, settings.burst_threshold, ROWS_MAX),
            stale_pending=await conn.fetch(STALE_PENDING, settings.pending_days, ROWS_MAX),
            quick_archived_uses=await conn.fetch(QUICK_ARCHIVED_USES, settings.quick_use_minutes,
                                                 since, ROWS_MAX),
            disputed=await conn.fetch(DISPUTED, since, ROWS_MAX),
        )
        await write_act(
            conn, principal, request, kind="audit_read", operation="authorizationAnomalies",
            subject_key=None,
            details={"since": since.isoformat(), "bursts": len(report.bursts),
                     "stale_pending": len(report.stale_pending),
                     "quick_archived_uses": len(report.quick_archived_uses),
                     "disputed": len(report.disputed)},
        )
    return report


def render(report: AnomalyReport) -> list[str]:
    """The report as text lines (CLI)."""
    s = report.settings
    out = [f"authorization anomalies since {report.since:%Y-%m-%d %H:%M} UTC"]
    out.append(f"organisations with >= {s.burst_threshold} registrations in {s.burst_hours} h: "
               f"{len(report.bursts)}")
    out += [f"  {b['grantee_org']}  {b['registrations']}  {b['first_at']:%Y-%m-%d %H:%M} .. "
            f"{b['last_at']:%Y-%m-%d %H:%M}" for b in report.bursts]
    out.append(f"pending for more than {s.pending_days} days: {len(report.stale_pending)}")
    out += [f"  {a['id']}  {a['grantee_org']}  {a['subject_key']}  registered "
            f"{a['granted_at']:%Y-%m-%d}" for a in report.stale_pending]
    out.append(f"archived dishonesty read within {s.quick_use_minutes} min of taking effect: "
               f"{len(report.quick_archived_uses)}")
    out += [f"  {u['id']}  {u['grantee_org']}  {u['subject_key']}  effective "
            f"{u['effective_at']:%Y-%m-%d %H:%M:%S} ({u['effective_basis']}), used "
            f"{u['used_at']:%H:%M:%S}  {u['item_code']} {u['record_id']}"
            for u in report.quick_archived_uses]
    out.append(f"disputed: {len(report.disputed)}")
    out += [f"  {d['id']}  {d['grantee_org']}  {d['subject_key']}  opened "
            f"{d['opened_at']:%Y-%m-%d %H:%M}  {d['finding'] or 'open'}" for d in report.disputed]
    return out
