"""`credit seed-demo`: a small Cangzhou catalog, organisations, subjects with valid
identifiers, records of every disclosure class, and one written authorization. Idempotent."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import asyncpg

from .db import transaction

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


def _f(name: str, label: str, type_: str = "string", required: bool = False, **kw: Any) -> dict:
    return {"name": name, "label": label, "type": type_, "required": required, **kw}


PARTY_CODES = ["01", "02", "03", "04"]
DOC_CODES = ["01", "02", "03", "04", "05"]


def _party(p: str) -> list[dict]:
    return [
        _f(f"{p}_xdr_mc", "行政相对人名称", required=True),
        _f(f"{p}_xdr_lb", "行政相对人类别", "code", True, codes=PARTY_CODES),
        _f(f"{p}_xdr_shxym", "统一社会信用代码"),
        _f(f"{p}_frdb", "法定代表人"),
        _f(f"{p}_fr_zjlx", "法定代表人证件类型", "code", codes=DOC_CODES),
        _f(f"{p}_fr_zjhm", "法定代表人证件号码", sensitivity="id_number"),
        _f(f"{p}_xdr_zjlx", "证件类型", "code", codes=DOC_CODES),
        _f(f"{p}_xdr_zjhm", "证件号码", sensitivity="id_number"),
    ]


PENALTY_FIELDS = _party("cf") + [
    _f("cf_wsh", "行政处罚决定书文号", required=True),
    _f("cf_wfxw", "违法行为类型", required=True),
    _f("cf_sy", "违法事实"),
    _f("cf_yj", "处罚依据"),
    _f("cf_cflb", "处罚类别", required=True),
    _f("cf_nr", "处罚内容", required=True),
    _f("cf_nr_fk", "罚款金额（万元）", "amount"),
    _f("cf_nr_wfff", "没收违法所得、没收非法财物的金额（万元）", "amount"),
    _f("cf_nr_zkdx", "暂扣或吊销证照名称及编号"),
    _f("cf_jdrq", "处罚决定日期", "date", True),
    _f("cf_yxq", "处罚有效期", "date"),
    _f("cf_gsjzq", "公示截止期", "date"),
    _f("cf_cfjg", "处罚机关", required=True),
    _f("cf_cfjgdm", "处罚机关统一社会信用代码", required=True),
    _f("cf_sjly", "数据来源单位"),
    _f("cf_sjlydm", "数据来源单位统一社会信用代码"),
    _f("bz", "备注"),
]
LICENSING_FIELDS = _party("xk") + [
    _f("xk_xkws", "行政许可决定文书名称", required=True),
    _f("xk_wsh", "行政许可决定文书号", required=True),
    _f("xk_xklb", "许可类别", "code", True, codes=["01", "02", "03", "04", "05", "06"]),
    _f("xk_xkzs", "许可证书名称"),
    _f("xk_xkbh", "许可编号"),
    _f("xk_nr", "许可内容", required=True),
    _f("xk_jdrq", "许可决定日期", "date", True),
    _f("xk_yxqz", "有效期自", "date", True),
    _f("xk_yxqzi", "有效期至", "date", True),
    _f("xk_xkjg", "许可机关", required=True),
    _f("xk_xkjgdm", "许可机关统一社会信用代码", required=True),
    _f("xk_zt", "当前状态", "code", True, codes=["1", "2", "3", "4", "9"]),
    _f("xk_lydw", "数据来源单位"),
    _f("xk_lydwdm", "数据来源单位统一社会信用代码"),
    _f("bz", "备注"),
]

# code, name, category, disclosure, provider, dishonest, list meaning, publicity months, fields
CATALOG = [
    ("REGISTRATION", "市场主体登记信息", "registration", "public", MARKET, False, "none", None,
     [_f("reg_status", "登记状态", required=True), _f("reg_authority", "登记机关"),
      _f("established_on", "成立日期", "date"), _f("legal_rep", "法定代表人"),
      _f("legal_rep_id", "法定代表人身份证号", sensitivity="id_number")]),
    ("ADM_LICENSING", "行政许可信息", "licensing", "public", MARKET, False, "none", None,
     LICENSING_FIELDS),
    ("ADM_PENALTY", "行政处罚信息", "penalty", "public", MARKET, True, "none", 36, PENALTY_FIELDS),
    ("DEFAULT_JUDGMENT", "失信被执行人信息", "default_judgment", "public", COURT, True, "black",
     None,
     [_f("case_no", "案号", required=True), _f("court", "执行法院", required=True),
      _f("obligation", "生效法律文书确定的义务", required=True),
      _f("performance", "履行情况", required=True), _f("filed_on", "立案日期", "date")]),
    ("TAX_ARREARS", "欠税信息", "levy", "shared", TAX, True, "none", None,
     [_f("tax_type", "欠税税种", required=True), _f("arrears", "欠税余额（万元）", "amount", True),
      _f("period", "所属期", required=True)]),
    ("SOCIAL_INSURANCE", "社会保险缴费信息", "payment", "shared", TAX, False, "none", None,
     [_f("insured_count", "参保人数", "integer", True), _f("status", "缴费状态", required=True),
      _f("period", "所属期", required=True)]),
    ("UTILITY_PAYMENT", "公用事业缴费信息", "payment", "authorized", UTILITY, False, "none", None,
     [_f("account", "户号", required=True), _f("kind", "缴费类别", required=True),
      _f("overdue_months", "欠费月数", "integer", True), _f("overdue_amount", "欠费金额（元）", "amount"),
      _f("period", "统计期", required=True)]),
    ("VOLUNTEER_SERVICE", "志愿服务信息", "volunteer", "public", CIVIL, False, "red", None,
     [_f("hours", "服务时长（小时）", "integer", True), _f("organisation", "志愿服务组织", required=True)]),
    ("COMMENDATION", "表彰奖励信息", "commendation", "public", CIVIL, False, "red", None,
     [_f("title", "荣誉名称", required=True), _f("awarded_by", "授予机关", required=True)]),
]

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
         _penalty("沧市监罚〔2026〕928号", "沧州运河示范商贸有限公司", recent, **company_party)),
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
        await conn.executemany(
            "INSERT INTO catalog_items (code, name, category, disclosure, provider_org, dishonest, "
            "list_meaning, publicity_months, fields) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) "
            "ON CONFLICT (code) DO NOTHING",
            CATALOG,
        )
        await conn.executemany(
            "INSERT INTO subjects (key, key_type, subject_type, name) VALUES ($1,$2,$3,$4) "
            "ON CONFLICT (key) DO NOTHING",
            SUBJECTS,
        )
        for subject, item, provider, ref, decided, data in _records(today):
            await conn.execute(
                "INSERT INTO records (subject_key, item_code, provider_org, source_ref, decided_on, "
                "data, submitted_by) VALUES ($1,$2,$3,$4,$5,$6,'seed-demo') "
                "ON CONFLICT (provider_org, source_ref) DO NOTHING",
                subject, item, provider, ref, dt.date.fromisoformat(decided), data,
            )
        if not await conn.fetchval(
            "SELECT true FROM authorizations WHERE subject_key = $1 AND grantee_org = $2",
            COMPANY, AGENCY,
        ):
            now = await conn.fetchval("SELECT now()")
            await conn.execute(
                "INSERT INTO authorizations (subject_key, grantee_org, purpose, scope_classes, "
                "valid_from, valid_until, evidence_kind, evidence_digest, evidence_ref, granted_by, "
                "granted_by_name) VALUES ($1,$2,'loan_review',ARRAY['public','authorized'],$3,$4,"
                "'signed_document',$5,'XD-SQ-2026-0001','seed-demo','演示数据')",
                COMPANY, AGENCY, now, now + dt.timedelta(days=365),
                hashlib.sha256(b"demo signed authorization").hexdigest(),
            )
        for table in ("organisations", "catalog_items", "subjects", "records", "authorizations"):
            counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
    return counts
