"""Pure rules of disclosure: record states (Art. 20), authorization matching (Art. 19)."""

from __future__ import annotations

import datetime as dt

import pytest

from api.catalog import CatalogItem
from api.disclosure.rules import add_months, mask_name, purpose_kind, record_state
from api.disclosure.views import Authorization

T = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


def item(**kw) -> CatalogItem:
    base = dict(code="ADM_PENALTY", name="行政处罚信息", category="penalty", disclosure="public",
                provider_org="111309000000020224", provider_name="市监局", dishonest=False,
                list_meaning="none", publicity_months=None, fields=())
    return CatalogItem(**{**base, **kw})


@pytest.mark.parametrize(
    "day,months,expected",
    [
        ("2021-11-27", 60, "2026-11-27"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2026-01-31", 1, "2026-02-28"),
        ("2025-12-15", 1, "2026-01-15"),
        ("2026-08-31", 3, "2026-11-30"),
    ],
)
def test_add_months_clamps_to_the_end_of_a_shorter_month(day, months, expected):
    assert add_months(dt.date.fromisoformat(day), months) == dt.date.fromisoformat(expected)


TODAY = dt.date(2026, 11, 27)


@pytest.mark.parametrize(
    "decided,dishonest,publicity,status,expected",
    [
        ("2021-11-28", True, None, "active", "live"),  # five years less a day
        ("2021-11-27", True, None, "active", "live"),  # Art. 20: the anniversary is the last day
        ("2021-11-26", True, None, "active", "archived"),  # the day after the anniversary
        ("2015-01-01", False, None, "active", "live"),  # not dishonesty: no five-year limit
        ("2023-11-28", False, 36, "active", "live"),
        ("2023-11-27", False, 36, "active", "live"),  # the publicity period's last day
        ("2023-11-26", False, 36, "active", "archived"),  # the item's own publicity period
        ("2026-11-01", True, None, "disputed", "live"),  # disputed is shown, with its mark
        ("2026-11-01", True, None, "repaired", "repaired"),
        ("2026-11-01", True, None, "archived", "archived"),
        ("2026-11-01", True, None, "deleted", "deleted"),
    ],
)
def test_record_state(decided, dishonest, publicity, status, expected):
    it = item(dishonest=dishonest, publicity_months=publicity)
    assert record_state(status, it, dt.date.fromisoformat(decided), TODAY) == expected


def auth(**kw) -> Authorization:
    base = dict(id="a1", grantee_org="ORG", purpose="loan_review", scope_items=frozenset(),
                scope_classes=frozenset({"authorized"}), valid_from=T - dt.timedelta(days=1),
                valid_until=T + dt.timedelta(days=1), revoked_at=None)
    return Authorization(**{**base, **kw})


AUTH_ITEM = item(code="UTILITY_PAYMENT", disclosure="authorized")


@pytest.mark.parametrize(
    "a,org,purpose,it,covered",
    [
        (auth(), "ORG", "loan_review", AUTH_ITEM, True),
        (auth(), "OTHER", "loan_review", AUTH_ITEM, False),
        (auth(), None, "loan_review", AUTH_ITEM, False),
        (auth(), "ORG", "insurance", AUTH_ITEM, False),
        (auth(), "ORG", None, AUTH_ITEM, False),
        (auth(), "ORG", "loan_review", item(disclosure="public"), False),  # class not in scope
        (auth(scope_classes=frozenset(), scope_items=frozenset({"UTILITY_PAYMENT"})), "ORG",
         "loan_review", AUTH_ITEM, True),
        (auth(valid_until=T), "ORG", "loan_review", AUTH_ITEM, False),  # ends exclusive
        (auth(valid_from=T), "ORG", "loan_review", AUTH_ITEM, True),  # starts inclusive
        (auth(valid_from=T + dt.timedelta(seconds=1)), "ORG", "loan_review", AUTH_ITEM, False),
        (auth(revoked_at=T - dt.timedelta(seconds=1)), "ORG", "loan_review", AUTH_ITEM, False),
    ],
)
def test_authorization_covers_only_when_grantee_purpose_scope_and_time_match(a, org, purpose, it, covered):
    assert a.covers(org=org, purpose=purpose, item=it, at=T) is covered


@pytest.mark.parametrize(
    "purpose,kind",
    [(None, "none"), ("", "none"), ("bidding", "duty"), ("social_security", "duty"), ("loan_review", "stated")],
)
def test_purpose_kind(purpose, kind):
    assert purpose_kind(purpose) == kind


def test_mask_name_keeps_only_the_surname():
    assert mask_name("张伟") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"


def test_fields_tagged_when_collected_stay_masked_after_a_catalog_drops_the_tag():
    from pathlib import Path

    from api.auth.policy import Policy
    from api.auth.principal import ANONYMOUS
    from api.config import ROOT
    from api.disclosure.masking import MaskSpec
    from api.disclosure.rules import disclose
    from api.disclosure.views import StoredRecord, StoredSubject

    policy = Policy.load(Path(ROOT) / "policies")
    subject = StoredSubject("91130902MA0DEM0135", "uscc", "legal_person", "某公司", "active")
    rid = "130903199207080465"
    record = StoredRecord(
        id="r1", item=item(), provider_org="111309000000020224", decided_on=dt.date(2026, 11, 1),
        data={"old_id_field": "A1234567", "cf_wsh": "x"}, status="active",
        collected_masks=MaskSpec.of({"old_id_field": "id_number"}),
    )
    view = disclose(policy=policy, principal=ANONYMOUS, subject=subject, records=[record],
                    authorizations=(), purpose=None, now=T)
    assert view.records[0].data == {"old_id_field": "A*****67", "cf_wsh": "x"}
    record2 = StoredRecord(**{**record.__dict__, "data": {"note": rid}, "collected_masks": MaskSpec()})
    view = disclose(policy=policy, principal=ANONYMOUS, subject=subject, records=[record2],
                    authorizations=(), purpose=None, now=T)
    assert view.records[0].data == {"note": "130903********0465"}  # caught wherever it appears
