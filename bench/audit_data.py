"""The audit trail benchmark's data (bench/audit.py): the same formulas in SQL (generation,
LOAD_SQL) and Python (choosing what to ask for), months, and the server's and the log's size."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import asyncpg

ART29 = (
    "administrative_licensing", "administrative_inspection", "administrative_penalty",
    "qualification_review", "government_procurement", "bidding", "commendation",
    "public_resource_trading", "state_land_transfer", "financing_approval",
    "government_funding", "investment_promotion",
)


def subject_key(k: int) -> str:
    """Subject number k (0 = most looked up) as an 18-character key. Keys are spread over the
    key space the way real codes are, not ordered by popularity."""
    return "91130900" + hashlib.md5(str(k).encode()).hexdigest()[:10].upper()


def org_code(o: int) -> str:
    return "91130900" + str(o).zfill(10)


SUBJECT_SQL = "'91130900' || upper(substr(md5(k::text), 1, 10))"
ORG_SQL = "'91130900' || lpad(o::text, 10, '0')"

# $1, $2: the row numbers of this chunk (inclusive); $3: id of row number 0; $4: the time of
# row number 0; $5: seconds between rows. Subject number k = floor(S * u^2) (density ~ 1/sqrt(k):
# the most looked-up subject gets ~1/sqrt(S) of all lookups, the median one a few); organisation
# number o = floor(O * u^2). Who asks: 45% credit services, 10% the public, 12% subjects about
# themselves (three years: 67%), 25% state organs, 6% platform staff and providers, 2% acts
# (long-term: 33%).
LOAD_SQL = f"""
INSERT INTO query_log (id, entry, at, request_id, user_id, user_name, org_code, org_name, roles,
    kind, operation, subject_key, purpose, outcome, reason, disclosed, withheld,
    authorization_ids, client_addr, channel, details, retention, mac)
SELECT $3::bigint + g,
       gen_random_uuid(),
       $4::timestamptz + make_interval(secs => (g + r5) * $5::float8),
       gen_random_uuid(),
       CASE who WHEN 'public' THEN NULL WHEN 'subject' THEN 'self-' || sk
                ELSE 'u' || o || '-' || (g % 13) END,
       CASE WHEN who = 'public' THEN NULL ELSE '用户' || (g % 997) END,
       CASE WHEN who IN ('public', 'subject') THEN NULL ELSE oc END,
       CASE WHEN who IN ('public', 'subject') THEN NULL ELSE '沧州市机构' || o END,
       ARRAY[CASE who WHEN 'act' THEN 'provider' ELSE who END],
       CASE WHEN who = 'act' THEN (ARRAY['collection', 'authorization', 'correction'])[1 + g % 3]
            ELSE 'query' END,
       CASE WHEN who = 'act' THEN 'records.submit' WHEN g % 10 = 0 THEN 'subjects'
            ELSE 'subject' END,
       sk,
       CASE who WHEN 'credit_service'
                     THEN (ARRAY['loan_review', 'lease_review', 'contract_review'])[1 + g % 3]
                WHEN 'state_organ' THEN ('{{{",".join(ART29)}}}'::text[])[1 + g % {len(ART29)}]
                ELSE NULL END,
       outcome,
       CASE WHEN outcome = 'refused'
            THEN 'forbidden: no written authorization of this organisation for this purpose' END,
       CASE WHEN outcome IN ('disclosed', 'partial') THEN jsonb_build_array(
                jsonb_build_object('record', md5(g::text)::uuid, 'item', 'A010' || (g % 9),
                                   'basis', 'public'),
                jsonb_build_object('record', md5((g + 1)::text)::uuid, 'item', 'B020' || (g % 7),
                                   'basis', 'authorization'))
            ELSE '[]'::jsonb END,
       CASE WHEN outcome = 'partial' THEN '{{"records": {{"authorized": 2}}}}'::jsonb
            ELSE '{{}}'::jsonb END,
       CASE WHEN who = 'credit_service' AND outcome IN ('disclosed', 'partial')
            THEN ARRAY[md5('a' || sk)::uuid] ELSE '{{}}'::uuid[] END,
       '10.' || (o % 256) || '.' || (g % 256) || '.' || (g % 200 + 1),
       CASE WHEN who = 'act' THEN 'cli' ELSE 'graphql' END,
       CASE WHEN who = 'act' THEN jsonb_build_object('records', 1 + g % 5) END,
       CASE WHEN who IN ('credit_service', 'public', 'subject') THEN 'three_years'
            ELSE 'long_term' END,
       sha256(int8send(g))
FROM (
    SELECT g, r5, o, {SUBJECT_SQL} AS sk, {ORG_SQL} AS oc,
           CASE WHEN r1 < 0.45 THEN 'credit_service' WHEN r1 < 0.55 THEN 'public'
                WHEN r1 < 0.67 THEN 'subject' WHEN r1 < 0.92 THEN 'state_organ'
                WHEN r1 < 0.98
                    THEN (ARRAY['credit_office', 'data_office', 'auditor', 'provider'])[1 + g % 4]
                ELSE 'act' END AS who,
           CASE WHEN r1 >= 0.98 THEN 'recorded' WHEN r4 < 0.70 THEN 'disclosed'
                WHEN r4 < 0.85 THEN 'partial' WHEN r4 < 0.93 THEN 'not_found'
                ELSE 'refused' END AS outcome
    FROM (
        SELECT g, r1, r4, r5, floor($6::int * r2 * r2)::int AS k, floor($7::int * r3 * r3)::int AS o
        FROM (SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
                     random() AS r5
              FROM generate_series($1::bigint, $2::bigint) AS g) AS u
    ) AS n
) AS r
"""

def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    m = day.month - 1 + months
    return dt.date(day.year + m // 12, m % 12 + 1, 1)


async def server_facts(conn: asyncpg.Connection) -> dict[str, str]:
    names = ("server_version", "shared_buffers", "work_mem", "maintenance_work_mem",
             "max_wal_size", "fsync", "synchronous_commit", "wal_sync_method", "plan_cache_mode",
             "jit", "effective_cache_size", "random_page_cost")
    return {n: await conn.fetchval(f"SHOW {n}") for n in names}


async def log_size(conn: asyncpg.Connection) -> dict[str, Any]:
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE isleaf) AS partitions,
                  sum(pg_relation_size(relid)) AS heap,
                  sum(pg_indexes_size(relid)) AS indexes,
                  sum(pg_total_relation_size(relid)) AS total
           FROM pg_partition_tree('query_log')"""
    )
    gib = 1024 ** 3
    return {
        "leaf_partitions": row["partitions"],
        "heap_gib": round(row["heap"] / gib, 2),
        "indexes_gib": round(row["indexes"] / gib, 2),
        "total_gib": round(row["total"] / gib, 2),
    }
