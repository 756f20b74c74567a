"""Art. 9, 10: catalogs by year. Anyone reads the published catalog; the credit office drafts
next year's and publishes it; a change asked for during a year lands in next year's catalog."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from api import demo
from api.catalog import CATEGORIES, china_today
from api.catalog_admin.definition import load_yaml
from api.cli import _parser

THIS_YEAR = china_today().year
NEXT_YEAR = THIS_YEAR + 1

CATALOG = """
query($year: Int) {
  catalog(year: $year) {
    year status
    items {
      code name category disclosure provider { code name } collectionScope collectionPaths
      updateCycle sharingMethod dishonest listMeaning publicityMonths deadlineWorkingDays
      decisionField fields { name label type required sensitivity codes }
    }
  }
}
"""
DRAFT = """
mutation($year: Int!) { draftCatalog(year: $year) {
  ... on CatalogYear { year status } ... on UserError { code rule message } } }
"""
PUT = """
mutation($year: Int!, $item: CatalogItemInput!, $reason: String!) {
  putCatalogItem(year: $year, item: $item, reason: $reason) {
    ... on CatalogItem { code name fields { name sensitivity } }
    ... on UserError { code rule message } } }
"""
REMOVE = """
mutation($year: Int!, $code: String!, $reason: String!) {
  removeCatalogItem(year: $year, code: $code, reason: $reason) {
    ... on CatalogYear { year } ... on UserError { code rule message } } }
"""
PUBLISH = """
mutation($year: Int!) { publishCatalog(year: $year) {
  ... on CatalogYear { year status publishedAt } ... on UserError { code rule message } } }
"""

NEW_ITEM = {
    "code": "FOOD_SAFETY_RATING",
    "name": "食品安全信用等级",
    "category": "CONFIRMATION",
    "disclosure": "PUBLIC",
    "provider": demo.MARKET,
    "collectionScope": "本市食品生产经营者",
    "collectionPaths": ["system_integration"],
    "updateCycle": "quarterly",
    "sharingMethod": "interface",
    "fields": [
        {"name": "grade", "label": "信用等级", "type": "code", "required": True, "codes": ["A", "B", "C", "D"]},
        {"name": "rated_on", "label": "评定日期", "type": "date", "required": True},
    ],
    "decisionField": "rated_on",
}


def by_code(catalog: dict) -> dict[str, dict]:
    return {i["code"]: i for i in catalog["items"]}


def test_the_default_catalog_covers_every_art10_category_and_both_double_publicity_items():
    doc = load_yaml(demo.DEFAULT_CATALOG.read_text(encoding="utf-8"))
    assert {i.category for i in doc.items} == set(CATEGORIES)
    items = {i.code: i for i in doc.items}
    penalty, licensing = items["ADM_PENALTY"], items["ADM_LICENSING"]
    assert (penalty.category, licensing.category) == ("penalty", "licensing")
    assert penalty.deadline_working_days == licensing.deadline_working_days == 7
    national_cf = {"cf_wsh", "cf_wfxw", "cf_sy", "cf_yj", "cf_cflb", "cf_nr", "cf_nr_fk", "cf_nr_wfff",
                   "cf_nr_zkdx", "cf_jdrq", "cf_yxq", "cf_gsjzq", "cf_cfjg", "cf_cfjgdm", "cf_sjly",
                   "cf_sjlydm", "cf_xdr_mc", "cf_xdr_lb", "cf_xdr_shxym", "cf_xdr_gszc", "cf_xdr_zzjg",
                   "cf_xdr_swdj", "cf_xdr_sydw", "cf_xdr_shzz", "cf_frdb", "cf_fr_zjlx", "cf_fr_zjhm",
                   "cf_xdr_zjlx", "cf_xdr_zjhm", "bz"}
    national_xk = {"xk_xkws", "xk_wsh", "xk_xklb", "xk_xkzs", "xk_xkbh", "xk_nr", "xk_jdrq", "xk_yxqz",
                   "xk_yxqzi", "xk_xkjg", "xk_xkjgdm", "xk_zt", "xk_lydw", "xk_lydwdm", "xk_xdr_mc",
                   "xk_xdr_lb", "xk_xdr_shxym", "xk_frdb", "xk_fr_zjlx", "xk_fr_zjhm", "xk_xdr_zjlx",
                   "xk_xdr_zjhm", "bz"}
    assert national_cf <= {f["name"] for f in penalty.fields}
    assert national_xk <= {f["name"] for f in licensing.fields}


async def test_anyone_reads_the_catalog_in_force_with_every_art9_element(gql):
    out = (await gql(CATALOG))["data"]["catalog"]
    assert (out["year"], out["status"]) == (THIS_YEAR, "published")
    penalty = by_code(out)["ADM_PENALTY"]
    assert penalty["provider"] == {"code": demo.MARKET, "name": "沧州市市场监督管理局"}
    assert penalty["disclosure"] == "PUBLIC" and penalty["category"] == "PENALTY"
    assert penalty["collectionScope"] and penalty["collectionPaths"] and penalty["updateCycle"]
    assert penalty["sharingMethod"] == "interface"
    assert (penalty["dishonest"], penalty["listMeaning"], penalty["publicityMonths"]) == (True, "none", 36)
    assert penalty["deadlineWorkingDays"] == 7
    fk = next(f for f in penalty["fields"] if f["name"] == "cf_nr_fk")
    assert (fk["type"], fk["required"]) == ("amount", False)
    zjhm = next(f for f in penalty["fields"] if f["name"] == "cf_fr_zjhm")
    assert zjhm["sensitivity"] == "id_number"
    tax = by_code(out)["PERSONAL_TAX"]
    assert next(f for f in tax["fields"] if f["name"] == "tax_amount")["sensitivity"] == "consent_only"


async def test_a_change_asked_during_the_year_lands_in_next_years_catalog(gql, state, pool):
    refused = (await gql(PUT, {"year": THIS_YEAR, "item": NEW_ITEM, "reason": "食品安全监管需要"},
                         as_="credit_office"))["data"]["putCatalogItem"]
    assert (refused["code"], refused["rule"]) == ("INVALID_INPUT", "catalog_published")

    draft = (await gql(DRAFT, {"year": NEXT_YEAR}, as_="credit_office"))["data"]["draftCatalog"]
    assert draft == {"year": NEXT_YEAR, "status": "draft"}
    put = (await gql(PUT, {"year": NEXT_YEAR, "item": NEW_ITEM, "reason": "食品安全监管需要"},
                     as_="credit_office"))["data"]["putCatalogItem"]
    assert put["code"] == "FOOD_SAFETY_RATING"
    removed = (await gql(REMOVE, {"year": NEXT_YEAR, "code": "CREDIT_COMMITMENT", "reason": "并入其他事项"},
                         as_="credit_office"))["data"]["removeCatalogItem"]
    assert removed == {"year": NEXT_YEAR}

    # the draft is the credit office's; the public sees only published catalogs
    assert (await gql(CATALOG, {"year": NEXT_YEAR}))["data"]["catalog"] is None
    office_view = (await gql(CATALOG, {"year": NEXT_YEAR}, as_="credit_office"))["data"]["catalog"]
    assert office_view["status"] == "draft" and "FOOD_SAFETY_RATING" in by_code(office_view)

    published = (await gql(PUBLISH, {"year": NEXT_YEAR}, as_="credit_office"))["data"]["publishCatalog"]
    assert published["status"] == "published" and published["publishedAt"]
    this_year = by_code((await gql(CATALOG, {"year": THIS_YEAR}))["data"]["catalog"])
    next_year = by_code((await gql(CATALOG, {"year": NEXT_YEAR}))["data"]["catalog"])
    assert "FOOD_SAFETY_RATING" not in this_year and "CREDIT_COMMITMENT" in this_year
    assert "FOOD_SAFETY_RATING" in next_year and "CREDIT_COMMITMENT" not in next_year
    # the catalog in force is still this year's, for validation and for disclosure
    assert state.catalog.year_in_force() == THIS_YEAR
    assert state.catalog.item_for("CREDIT_COMMITMENT", china_today()) is not None

    again = (await gql(PUT, {"year": NEXT_YEAR, "item": NEW_ITEM, "reason": "x"}, as_="credit_office"))
    assert again["data"]["putCatalogItem"]["rule"] == "catalog_published"
    async with pool.acquire() as conn:
        acts = await conn.fetch("SELECT operation, details FROM query_log WHERE kind = 'catalog' ORDER BY at, id")
    assert [a["operation"] for a in acts] == ["draftCatalog", "putCatalogItem", "removeCatalogItem", "publishCatalog"]
    assert acts[1]["details"]["reason"] == "食品安全监管需要"


async def test_only_the_credit_office_drafts_and_publishes(gql):
    for role in ("provider", "data_office", "state_organ"):
        out = (await gql(DRAFT, {"year": NEXT_YEAR}, as_=role))["data"]["draftCatalog"]
        assert out["code"] == "FORBIDDEN", role
    assert (await gql(DRAFT, {"year": NEXT_YEAR}))["data"]["draftCatalog"]["code"] == "FORBIDDEN"


async def test_a_bad_item_definition_is_refused_with_every_problem(gql):
    await gql(DRAFT, {"year": NEXT_YEAR}, as_="credit_office")
    bad = {**NEW_ITEM, "code": "lower", "updateCycle": "sometimes",
           "fields": [{"name": "religion", "label": "宗教信仰"}]}
    for language, words in ((None, ("大写字母", "更新周期", "第十一条禁止归集")),
                            ("en", ("upper-case", "update cycle", "forbids"))):
        out = await gql(PUT, {"year": NEXT_YEAR, "item": bad, "reason": "x"}, as_="credit_office",
                        language=language)
        err = out["data"]["putCatalogItem"]
        assert (err["code"], err["rule"]) == ("INVALID_INPUT", "catalog_definition")
        assert all(w in err["message"] for w in words), err["message"]


async def test_a_published_catalog_cannot_be_changed_even_in_the_database(pool):
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE catalog_entries SET name = 'x' WHERE year = $1", THIS_YEAR)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("DELETE FROM catalogs WHERE year = $1", THIS_YEAR)


async def cli(settings, *argv: str):
    args = _parser().parse_args(list(argv))
    return await asyncio.to_thread(args.run, settings, args)


async def test_cli_export_and_import_round_trip(settings, state, tmp_path, pool):
    exported = tmp_path / "this.yaml"
    assert await cli(settings, "catalog", "export", "--year", str(THIS_YEAR), "-o", str(exported)) == 0
    text = exported.read_text(encoding="utf-8")
    assert f"year: {THIS_YEAR}" in text and "cf_jdrq" in text
    assert await cli(settings, "catalog", "import", str(exported), "--year", str(NEXT_YEAR),
                     "--operator-name", "陈静") == 2  # the file says which year it is
    moved = tmp_path / "next.yaml"
    moved.write_text(text.replace(f"year: {THIS_YEAR}", f"year: {NEXT_YEAR}"), encoding="utf-8")
    assert await cli(settings, "catalog", "import", str(moved), "--year", str(NEXT_YEAR),
                     "--operator-name", "陈静", "--publish") == 0
    again = tmp_path / "again.yaml"
    assert await cli(settings, "catalog", "export", "--year", str(NEXT_YEAR), "-o", str(again)) == 0
    assert again.read_text(encoding="utf-8") == moved.read_text(encoding="utf-8")
    async with pool.acquire() as conn:
        act = await conn.fetchrow("SELECT user_name, channel, details FROM query_log WHERE operation = 'importCatalog'")
    assert (act["user_name"], act["channel"]) == ("陈静", "cli")


async def test_cli_import_refuses_a_bad_file_and_names_the_problems(settings, tmp_path, capsys, state):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: credit-catalog/1\nitems:\n  - code: X1\n    name: x\n", encoding="utf-8")
    assert await cli(settings, "catalog", "import", str(bad), "--year", str(NEXT_YEAR), "--operator-name", "陈静") == 2
    err = capsys.readouterr().err
    assert "items[0][X1].category" in err and "items[0][X1].fields" in err


async def test_a_catalog_published_by_another_process_is_picked_up(state, pool, monkeypatch):
    from api import catalog as catalog_module
    from api.catalog_admin import repository as repo
    from api.catalog_admin.definition import load_yaml

    document = load_yaml(demo.DEFAULT_CATALOG.read_text(encoding="utf-8"))
    async with pool.acquire() as conn, conn.transaction():  # as `credit catalog import --publish` does
        await repo.create_draft(conn, NEXT_YEAR, None, "elsewhere")
        await repo.replace_entries(conn, NEXT_YEAR, document.items)
        await repo.publish(conn, NEXT_YEAR, "elsewhere")
    assert NEXT_YEAR not in state.catalog.published_years
    monkeypatch.setattr(catalog_module, "REFRESH_SECONDS", 0)
    async with pool.acquire() as conn:
        assert await state.catalog.get("ADM_PENALTY", conn) is not None
    assert NEXT_YEAR in state.catalog.published_years


async def test_only_the_configured_credit_office_drafts_and_publishes(gql):
    """A credit_office role held by another organisation does not edit the city's catalog."""
    from api import demo

    q = "mutation { publishCatalog(year: 2099) { __typename ... on UserError { code rule } } }"
    out = (await gql(q, as_="credit_office", org=demo.DATA_OFFICE))["data"]["publishCatalog"]
    assert out == {"__typename": "UserError", "code": "FORBIDDEN", "rule": "credit_office_org"}
    out = (await gql(q, as_="credit_office"))["data"]["publishCatalog"]
    assert out.get("rule") != "credit_office_org"  # the real credit office gets past the check
