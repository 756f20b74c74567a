"""Demo data for the use chapter (Art. 24-32): a black list and a red list with one entry each
resting on demo records, and joint measures for several Art. 29 scenarios. Idempotent."""

from __future__ import annotations

import datetime as dt

import asyncpg

from .. import demo

RULES = (
    (demo.MARKET, "black", "沧州市市场监督管理局严重违法失信名单管理办法", "沧市监〔2026〕12号",
     "因同一性质违法行为一年内受到两次以上较重行政处罚，或食品安全领域受到较重行政处罚的", 36),
    (demo.CIVIL, "red", "沧州市守信激励对象认定办法（民政领域）", "沧民〔2025〕8号",
     "获得市级以上道德模范、见义勇为等荣誉称号的", 36),
)
ENTRIES = (  # (subject, kind, rule doc number, provider, case number, reason, basis source refs)
    (demo.COMPANY, "black", "沧市监〔2026〕12号", demo.MARKET, "沧市监失信〔2026〕928号",
     "销售超过保质期的食品，受到较重行政处罚", ("CF-2026-0928",)),
    (demo.PERSON2, "red", "沧民〔2025〕8号", demo.CIVIL, "沧民守信〔2025〕3号",
     "获评沧州市道德模范", ("BZ-2024-0008",)),
)
BASIS = "《沧州市公共信用信息管理暂行办法》第{art}条第（{item}）项"
MEASURES = (  # code, name, kind, clause, implementing bodies, lists, scenarios
    ("PUNISH_PUBLIC_RESOURCE", "在公共资源交易中采取信用减分措施", "punishment", "art28_4",
     ["沧州市公共资源交易中心", "沧州市财政局"], ["black"],
     ["government_procurement", "bidding", "public_resource_trading"]),
    ("PUNISH_FUNDING", "限制享受政府性资金安排等政策扶持", "punishment", "art28_2",
     ["沧州市财政局", "沧州市发展和改革委员会"], ["black"], ["government_funding", "investment_promotion"]),
    ("PUNISH_SUPERVISION", "列为重点监管对象，增加检查频次", "punishment", "art28_1",
     ["沧州市市场监督管理局"], ["black"], ["administrative_inspection", "administrative_licensing"]),
    ("PUNISH_COMMENDATION", "限制参加政府组织的表彰奖励活动", "punishment", "art28_5",
     ["沧州市人民政府办公室"], ["black"], ["commendation"]),
    ("REWARD_FUNDING", "政府性资金安排和项目支持中列为优先选择对象", "reward", "art27_2",
     ["沧州市财政局"], ["red"], ["government_funding"]),
    ("REWARD_FAST_TRACK", "行政管理和公共服务中给予优先办理等便利", "reward", "art27_1",
     ["沧州市行政审批局"], ["red"], ["administrative_licensing", "social_security"]),
)
NUMERALS = "一二三四五六"


async def seed(conn: asyncpg.Connection, today: dt.date) -> None:
    for provider, kind, name, doc, criteria, months in RULES:
        await conn.execute(
            "INSERT INTO list_rules (provider_org, kind, name, doc_number, criteria, listing_months, published_by) "
            "VALUES ($1,$2,$3,$4,$5,$6,'seed-demo') ON CONFLICT (provider_org, doc_number) DO NOTHING",
            provider, kind, name, doc, criteria, months)
    for subject, kind, doc, provider, case, reason, refs in ENTRIES:
        rows = await conn.fetch("SELECT id, version, decided_on FROM records WHERE provider_org = $1 AND source_ref = ANY($2)",
                                provider, list(refs))
        if len(rows) != len(refs):
            continue
        decided = max(r["decided_on"] for r in rows)
        await conn.execute(
            "INSERT INTO list_entries (subject_key, kind, rule_id, provider_org, case_number, reason, basis_records, "
            "basis_versions, decided_on, listed_from, listed_until, created_by) "
            "SELECT $1, $2, id, $3, $4, $5, $6, $7, $8::date, $8::date, ($8::date + make_interval(months => listing_months))::date, 'seed-demo' "
            "FROM list_rules WHERE provider_org = $3 AND doc_number = $9 "
            "ON CONFLICT (provider_org, case_number) DO NOTHING",
            subject, kind, provider, case, reason, [r["id"] for r in rows], [r["version"] for r in rows], decided, doc)
    for code, name, kind, clause, bodies, lists, scenarios in MEASURES:
        art, item = ("二十七" if clause.startswith("art27") else "二十八"), NUMERALS[int(clause[-1]) - 1]
        await conn.execute(
            "INSERT INTO measures (code, version, name, kind, clause, legal_basis, originating_org, originating_name, "
            "implementing_bodies, target_lists, scenarios, valid_from, updated_by) "
            "VALUES ($1, 1, $2, $3, $4, $5, $6, '沧州市行政审批局', $7, $8, $9, $10, 'seed-demo') ON CONFLICT (code) DO NOTHING",
            code, name, kind, clause, BASIS.format(art=art, item=item), demo.CREDIT_OFFICE, bodies, lists, scenarios,
            dt.date(today.year, 1, 1))
