"""Penalty publicity by severity (api/publicity.py): publicUntil, repairableFrom, archivesOn,
and the catalog rule that sets them, checked strictly."""

from __future__ import annotations

import datetime as dt

import pytest

from api.catalog import CatalogItem
from api.catalog_admin.definition import DefinitionError, parse_item
from api.disclosure.rules import record_state
from api.i18n import use_locale
from api.publicity import NATIONAL, SeverityPolicy, check_policy, periods

D = dt.date.fromisoformat
POLICY = SeverityPolicy("cf_yzcd", tuple(NATIONAL.items()))


def p(decided: str, severity: str | None, *, dishonest: bool = True, months: int | None = 36,
      policy: SeverityPolicy | None = POLICY):
    return periods(decided_on=D(decided), dishonest=dishonest, publicity_months=months,
                   policy=policy, severity=severity)


@pytest.mark.parametrize("decided,severity,public_until,repairable_from", [
    ("2025-11-30", "minor", "2026-02-28", "2025-11-30"),  # month end: Feb has no 30th
    ("2023-11-30", "minor", "2024-02-29", "2023-11-30"),  # leap year
    ("2026-01-31", "minor", "2026-04-30", "2026-01-31"),
    ("2026-03-15", "minor", "2026-06-15", "2026-03-15"),  # repairable at once
    ("2025-11-30", "general", "2026-11-30", "2026-03-01"),  # 3 months end 02-28; from the day after
    ("2025-08-31", "general", "2026-08-31", "2025-12-01"),  # 3 months: 11-30 (no 31st), then 12-01
    ("2024-02-29", "general", "2025-02-28", "2024-05-30"),
    ("2025-12-31", "general", "2026-12-31", "2026-04-01"),  # crosses the year
    ("2025-11-30", "serious", "2028-11-30", "2026-12-01"),
    ("2024-02-29", "serious", "2027-02-28", "2025-03-01"),  # leap day: the year's end is 02-28
    ("2026-06-30", "serious", "2029-06-30", "2027-07-01"),
])
def test_the_periods_of_each_severity(decided, severity, public_until, repairable_from):
    got = p(decided, severity)
    assert (got.severity, got.public_until, got.repairable_from) == (severity, D(public_until), D(repairable_from))


@pytest.mark.parametrize("decided,archives_on", [
    ("2021-11-29", "2026-11-30"),  # Art. 20: public through the anniversary, archived the day after
    ("2020-02-29", "2025-03-01"),
    ("2025-11-30", "2030-12-01"),
])
def test_art20_archives_dishonesty_the_day_after_five_years(decided, archives_on):
    assert p(decided, "serious").archives_on == D(archives_on)


def test_without_a_severity_the_item_fixed_period_applies_and_repair_is_open_as_before():
    got = p("2025-11-30", None, months=36)
    assert (got.severity, got.public_until, got.repairable_from) == (None, D("2028-11-30"), D("2025-11-30"))
    assert p("2025-11-30", None, months=None).public_until == D("2030-11-30")  # Art. 20 only


def test_a_severity_the_item_has_no_rule_for_counts_as_none():
    assert p("2025-11-30", "serious", policy=None).public_until == D("2028-11-30")


def test_not_dishonesty_has_no_archive_day_nor_repair():
    got = p("2025-11-30", None, dishonest=False, months=None, policy=None)
    assert (got.public_until, got.repairable_from, got.archives_on) == (None, None, None)


def test_the_office_rule_of_an_item_replaces_the_national_default():
    own = SeverityPolicy("cf_yzcd", (("general", NATIONAL["general"].__class__(6, 4)),))
    got = p("2026-01-10", "general", policy=own)
    assert (got.public_until, got.repairable_from) == (D("2026-07-10"), D("2026-05-11"))


ITEM = CatalogItem(code="ADM_PENALTY", name="行政处罚信息", category="penalty", disclosure="public",
                   provider_org="111309000000020224", provider_name="市监局", dishonest=True,
                   list_meaning="none", publicity_months=36, fields=(), severity=POLICY)


@pytest.mark.parametrize("today,data,expected", [
    ("2026-02-28", {"cf_yzcd": "minor"}, "live"),      # publicUntil itself
    ("2026-03-01", {"cf_yzcd": "minor"}, "archived"),  # the day after: out of public view
    ("2026-03-01", {"cf_yzcd": "轻微"}, "archived"),   # the Chinese name reads the same
    ("2026-03-01", {"cf_yzcd": "general"}, "live"),
    ("2026-03-01", {}, "live"),                         # no severity: 36 months as before
    ("2026-03-01", {"cf_yzcd": "unknown"}, "live"),     # not a severity (ingestion refuses it)
])
def test_a_minor_penalty_leaves_public_view_after_its_period(today, data, expected):
    assert record_state("active", ITEM, D("2025-11-30"), D(today), data) == expected


FIELDS = {"cf_yzcd": ("minor", "general", "serious", "轻微", "一般", "严重")}


@pytest.mark.parametrize("doc,problem", [
    ({"field": "cf_yzcd", "minor": {"public_months": 4, "repair_after_months": 0}}, "minor.public_months"),
    ({"field": "cf_yzcd", "general": {"public_months": 2, "repair_after_months": 0}}, "general.public_months"),
    ({"field": "cf_yzcd", "general": {"public_months": 12, "repair_after_months": 2}}, "general.repair_after_months"),
    ({"field": "cf_yzcd", "serious": {"public_months": 24, "repair_after_months": 30}}, "serious.repair_after_months"),
    ({"field": "cf_yzcd", "serious": {"public_months": 37, "repair_after_months": 12}}, "serious.public_months"),
    ({"field": "cf_yzcd", "minor": {"public_months": "3", "repair_after_months": 0}}, "whole months"),
    ({"field": "cf_yzcd", "minor": {"public_months": True, "repair_after_months": 0}}, "whole months"),
    ({"field": "cf_yzcd", "minor": {"months": 3}}, "minor:"),
    ({"field": "cf_other"}, "field"),
    ({"field": "cf_yzcd", "extreme": {}}, "extreme: unknown key"),
    ("minor", "a mapping"),
])
def test_the_catalog_rule_is_checked_strictly(doc, problem):
    with use_locale("en"):
        policy, problems = check_policy(doc, "severity", FIELDS)
    assert policy is None and any(problem in x for x in problems), problems


def test_a_rule_leaving_a_severity_out_takes_the_national_default():
    policy, problems = check_policy({"field": "cf_yzcd", "general": {"public_months": 6,
                                     "repair_after_months": 3}}, "s", FIELDS)
    assert problems == [] and policy is not None
    assert policy.rule("general").public_months == 6 and policy.rule("serious") == NATIONAL["serious"]


def test_an_item_severity_field_must_hold_severities_only_and_only_penalties_have_one():
    base = {"code": "X_PENALTY", "name": "处罚", "category": "penalty", "disclosure": "public",
            "provider": "111309000000020224", "collection_scope": "全部", "collection_paths": ["provider_account"],
            "update_cycle": "on_decision", "sharing_method": "interface", "dishonest": True,
            "fields": [{"name": "lvl", "label": "严重程度", "type": "code", "codes": ["minor", "big"]}],
            "severity": {"field": "lvl"}}
    with pytest.raises(DefinitionError, match="代码 big 不是严重程度"):  # outside a request: zh_CN
        parse_item(base)
    with use_locale("en"), pytest.raises(DefinitionError, match="for administrative penalty items"):
        parse_item({**base, "category": "licensing", "fields": [{**base["fields"][0], "codes": ["minor"]}]})
    ok = parse_item({**base, "fields": [{**base["fields"][0], "codes": ["minor", "一般"]}]})
    assert ok.severity is not None and ok.row(2027)[-1]["general"] == {"public_months": 12, "repair_after_months": 3}
