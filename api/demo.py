"""`credit seed-demo`: the default catalog published for this year, organisations, subjects with valid
identifiers, records of every disclosure class, and one written authorization (registered by the
agency and confirmed by the company through self-service, so effective). Idempotent."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import asyncpg

from .catalog_admin import repository as catalog_repo
from .catalog_admin.definition import load_yaml
from .db import transaction
from .ingestion.values import canonical_json

# Organisations (codes are valid USCCs; 1309xx is Cangzhou).
MARKET = "111309000000020224"  # 沧州市市场监督管理局
COURT = "11130900000006066H"  # 沧州市中级人民法院
TAX = "11130900000007077W"  # 国家税务总局沧州市税务局
CIVIL = "111309000000080888"  # 沧州市民政局
UTILITY = "91130903MA0DEM0486"  # 沧州市供水排水集团 (utility company, provider of payment records)
HOUSING = "11130900000001011Q"  # 沧州市住房和城乡建设局 (a state organ that queries)
CREDIT_OFFICE = "11130900000003033F"  # 沧州市行政审批局 (credit office)
DATA_OFFICE = "12130900000004044P"  # 沧州市大数据服务中心 (runs the platform)
AUDIT = "111309000000050556"  # 沧州市审计局
AGENCY = "91130900MA0CRD1T4K"  # 沧州信达信用评估有限公司 (credit service, field-limited in policy)
AGENCY2 = "91130900MA0CRD2T0W"  # 沧州诚信征信服务有限公司 (credit service, not limited)

ORGANISATIONS = [
    (MARKET, "沧州市市场监督管理局", "130900"),
    (COURT, "沧州市中级人民法院", "130900"),
    (TAX, "国家税务总局沧州市税务局", "130900"),
    (CIVIL, "沧州市民政局", "130900"),
    (UTILITY, "沧州市供水排水集团有限公司", "130903"),
    (HOUSING, "沧州市住房和城乡建设局", "130900"),
    (CREDIT_OFFICE, "沧州市行政审批局", "130900"),
    (DATA_OFFICE, "沧州市大数据服务中心", "130900"),
    (AUDIT, "沧州市审计局", "130900"),
    (AGENCY, "沧州信达信用评估有限公司", "130900"),
    (AGENCY2, "沧州诚信征信服务有限公司", "130900"),
]


# The catalog is the shipped default catalog (api/catalog_admin/default_catalog.yaml),
# published for the current year.
DEFAULT_CATALOG = Path(__file__).resolve().parent / "catalog_admin" / "default_catalog.yaml"

COMPANY = "91130902MA0DEM0135"  # 沧州运河示范商贸有限公司
PERSON = "130902198503120213"  # 张伟
PERSON2 = "13090219650220052X"  # 李秀英
SUBJECTS = [
    (COMPANY, "uscc", "legal_person", "沧州运河示范商贸有限公司"),
    ("91130903MA0DEM021E", "uscc", "legal_person", "沧州渤海建材有限公司"),
    ("92130981MA0DEM03X2", "uscc", "individual_business", "泊头市老李五金店"),
    (PERSON, "resident_id", "natural_person", "张伟"),
    (PERSON2, "resident_id", "natural_person", "李秀英"),
]


def _penalty(no: str, name: str, date: str, **extra: Any) -> dict:
    return {
        "cf_wsh": no, "cf_xdr_mc": name, "cf_wfxw": "违反食品安全法", "cf_sy": "销售超过保质期的食品",
        "cf_yj": "《中华人民共和国食品安全法》第一百二十四条", "cf_cflb": "罚款", "cf_nr": "罚款人民币贰万元",
        "cf_nr_fk": 2.0, "cf_jdrq": date, "cf_cfjg": "沧州市市场监督管理局", "cf_cfjgdm": MARKET,
        **extra,
    }


def _records(today: dt.date) -> list[tuple[str, str, str, str, str, dict]]:
    """(subject, item, provider, source ref, decision date, data)"""
    recent = (today - dt.timedelta(days=30)).isoformat()
    # a minor penalty four months old: past its three-month public period (api/publicity.py)
    minor_past = (today - dt.timedelta(days=123)).isoformat()
    company_party = {"cf_xdr_lb": "02", "cf_xdr_shxym": COMPANY, "cf_frdb": "王建国",
                     "cf_fr_zjlx": "01", "cf_fr_zjhm": "130903199207080465"}
    return [
        (COMPANY, "REGISTRATION", MARKET, "REG-2016-0001", "2016-03-18",
         {"reg_status": "存续", "reg_authority": "沧州市运河区市场监督管理局", "established_on": "2016-03-18",
          "legal_rep": "王建国", "legal_rep_id": "130903199207080465"}),
        (COMPANY, "ADM_LICENSING", MARKET, "XK-2024-0311", "2024-03-11",
         {"xk_xdr_mc": "沧州运河示范商贸有限公司", "xk_xdr_lb": "02", "xk_xdr_shxym": COMPANY,
          "xk_xkws": "食品经营许可决定书", "xk_wsh": "沧市监食许〔2024〕311号", "xk_xklb": "01",
          "xk_nr": "预包装食品销售", "xk_jdrq": "2024-03-11", "xk_yxqz": "2024-03-11",
          "xk_yxqzi": "2029-03-10", "xk_xkjg": "沧州市市场监督管理局", "xk_xkjgdm": MARKET, "xk_zt": "1"}),
        (COMPANY, "ADM_LICENSING", MARKET, "XK-2025-0102", "2025-01-02",
         {"xk_xdr_mc": "沧州运河示范商贸有限公司", "xk_xdr_lb": "02", "xk_xdr_shxym": COMPANY,
          "xk_xkws": "酒类流通备案登记", "xk_wsh": "沧市监备〔2025〕2号", "xk_xklb": "05",
          "xk_nr": "酒类零售", "xk_jdrq": "2025-01-02", "xk_yxqz": "2025-01-02",
          "xk_yxqzi": "2099-12-31", "xk_xkjg": "沧州市市场监督管理局", "xk_xkjgdm": MARKET, "xk_zt": "1"}),
        (COMPANY, "ADM_PENALTY", MARKET, "CF-2026-0928", recent,
         _penalty("沧市监罚〔2026〕928号", "沧州运河示范商贸有限公司", recent, cf_yzcd="general",
                  **company_party)),  # general: repair only after three months
        (COMPANY, "ADM_PENALTY", MARKET, "CF-2020-0415", "2020-04-15",
         _penalty("沧市监罚〔2020〕415号", "沧州运河示范商贸有限公司", "2020-04-15", **company_party)),
        (COMPANY, "DEFAULT_JUDGMENT", COURT, "ZX-2019-0610", "2019-06-10",
         {"case_no": "（2019）冀09执610号", "court": "沧州市中级人民法院", "obligation": "支付货款38万元",
          "performance": "全部未履行", "filed_on": "2019-03-02"}),
        (COMPANY, "TAX_ARREARS", TAX, "QS-2026-0101", "2026-01-15",
         {"tax_type": "增值税", "arrears": 12.5, "period": "2025-12"}),
        (COMPANY, "SOCIAL_INSURANCE", TAX, "SB-2026-10", "2026-10-31",
         {"insured_count": 46, "status": "正常", "period": "2026-10"}),
        (COMPANY, "UTILITY_PAYMENT", UTILITY, "GS-2026-09-7781", "2026-09-30",
         {"account": "7781", "kind": "水费", "overdue_months": 0, "period": "2026-09"}),
        (COMPANY, "UTILITY_PAYMENT", UTILITY, "GS-2026-10-7781", "2026-10-31",
         {"account": "7781", "kind": "水费", "overdue_months": 2, "overdue_amount": 3820.5,
          "period": "2026-10"}),
        (PERSON, "ADM_PENALTY", MARKET, "CF-2026-1102", recent,
         _penalty("沧市监罚〔2026〕1102号", "张伟", recent, cf_xdr_lb="01", cf_xdr_zjlx="01",
                  cf_xdr_zjhm=PERSON, cf_nr="罚款人民币伍仟元", cf_nr_fk=0.5)),
        ("92130981MA0DEM03X2", "ADM_PENALTY", MARKET, "CF-DEMO-MINOR", minor_past,
         {k: v for k, v in _penalty("泊市监罚〔2026〕37号", "泊头市老李五金店", minor_past, cf_xdr_lb="03",
                                    cf_wfxw="未按规定公示经营信息", cf_cflb="警告", cf_nr="警告",
                                    cf_yzcd="轻微").items() if k != "cf_nr_fk"}),
        (PERSON, "VOLUNTEER_SERVICE", CIVIL, "ZY-2025-8812", "2025-12-05",
         {"hours": 126, "organisation": "沧州市蓝天救援队"}),
        (PERSON, "UTILITY_PAYMENT", UTILITY, "GS-2026-10-1203", "2026-10-31",
         {"account": "1203", "kind": "水费", "overdue_months": 0, "period": "2026-10"}),
        (PERSON2, "COMMENDATION", CIVIL, "BZ-2024-0008", "2024-05-20",
         {"title": "沧州市道德模范", "awarded_by": "沧州市人民政府"}),
    ]


async def seed_demo(pool: asyncpg.Pool, today: dt.date | None = None) -> dict[str, int]:
    today = today or dt.date.today()
    counts = {}
    async with transaction(pool) as conn:
        await conn.executemany(
            "INSERT INTO organisations (code, name, division_code) VALUES ($1,$2,$3) "
            "ON CONFLICT (code) DO NOTHING",
            ORGANISATIONS,
        )
        year = today.year
        if not await catalog_repo.get_year(conn, year):
            document = load_yaml(DEFAULT_CATALOG.read_text(encoding="utf-8"))
            await catalog_repo.upsert_providers(conn, document.providers)
            await catalog_repo.create_draft(conn, year, "demo: the default catalog", "seed-demo")
            await catalog_repo.replace_entries(conn, year, document.items)
            await catalog_repo.publish(conn, year, "seed-demo")
        await conn.executemany(
            "INSERT INTO subjects (key, key_type, subject_type, name) VALUES ($1,$2,$3,$4) "
            "ON CONFLICT (key) DO NOTHING",
            SUBJECTS,
        )
        names = {key: name for key, _, _, name in SUBJECTS}
        for subject, item, provider, ref, decided, data in _records(today):
            decided_on = dt.date.fromisoformat(decided)
            await conn.execute(
                "INSERT INTO records (subject_key, subject_name, item_code, provider_org, source_ref, "
                "decided_on, data, submitted_by, version_by_name, catalog_year, channel, received_on) "
                "VALUES ($1,$2,$3,$4,$5,$6,$7::text::jsonb,'seed-demo','演示数据',$8,'seed-demo',$9) "
                "ON CONFLICT (provider_org, source_ref) DO NOTHING",
                subject, names[subject], item, provider, ref, decided_on, canonical_json(data), year,
                today,
            )
        if not await conn.fetchval(
            "SELECT true FROM authorizations WHERE subject_key = $1 AND grantee_org = $2",
            COMPANY, AGENCY,
        ):
            now = await conn.fetchval("SELECT now()")
            await conn.execute(
                "INSERT INTO authorizations (subject_key, grantee_org, purpose, scope_classes, "
                "valid_from, valid_until, evidence_kind, evidence_digest, evidence_ref, granted_by, "
                "granted_by_name, grantee_role, state, effective_basis, effective_at) "
                "VALUES ($1,$2,'loan_review',ARRAY['public','authorized'],$3,$4,"
                "'signed_document',$5,'XD-SQ-2026-0001','seed-demo','演示数据','credit_service',"
                "'effective','subject_confirmed',$3)",
                COMPANY, AGENCY, now, now + dt.timedelta(days=365),
                hashlib.sha256(b"demo signed authorization").hexdigest(),
            )
        from .lists.demo import seed as seed_lists

        await seed_lists(conn, today)
        for table in ("organisations", "catalog_entries", "subjects", "records", "authorizations"):
            counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
    return counts
