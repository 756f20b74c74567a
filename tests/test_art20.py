"""Art. 20 and catalog publicity periods end after the anniversary day (Civil Code Art. 201-203:
a period counted in years or months starts the day after the decision and ends at the end of
the corresponding day; a month without that day ends on its last day)."""

from __future__ import annotations

import datetime as dt

import pytest

from api.catalog import CatalogItem
from api.disclosure.rules import disclosure_ends, record_state


def item(*, dishonest: bool = False, publicity_months: int | None = None) -> CatalogItem:
    return CatalogItem(
        code="ITEM", name="信息", category="penalty", disclosure="public",
        provider_org="111309000000020224", provider_name="市监局", dishonest=dishonest,
        list_meaning="none", publicity_months=publicity_months, fields=(),
    )


def state(decided: str, today: str, **kw) -> str:
    return record_state("active", item(**kw), dt.date.fromisoformat(decided), dt.date.fromisoformat(today))


@pytest.mark.parametrize(
    "decided,today,expected",
    [
        # decided 2021-11-29: still within its five years on the anniversary, archived the day after
        ("2021-11-29", "2026-11-28", "live"),
        ("2021-11-29", "2026-11-29", "live"),
        ("2021-11-29", "2026-11-30", "archived"),
        # leap day: 2025 has no 29 February, so the last day is 28 February
        ("2020-02-29", "2025-02-28", "live"),
        ("2020-02-29", "2025-03-01", "archived"),
        # decided on 31 December: the last day is 31 December five years on
        ("2020-12-31", "2025-12-31", "live"),
        ("2020-12-31", "2026-01-01", "archived"),
    ],
)
def test_art20_five_years_end_after_the_anniversary_day(decided, today, expected):
    assert state(decided, today, dishonest=True) == expected


@pytest.mark.parametrize(
    "decided,months,today,expected",
    [
        # 2025-08-31 + 6 months: February 2026 has no 31st, so its last day ends the period
        ("2025-08-31", 6, "2026-02-28", "live"),
        ("2025-08-31", 6, "2026-03-01", "archived"),
        ("2025-05-15", 6, "2025-11-15", "live"),
        ("2025-05-15", 6, "2025-11-16", "archived"),
        # 36 months (national practice for penalties) from a leap day
        ("2024-02-29", 36, "2027-02-28", "live"),
        ("2024-02-29", 36, "2027-03-01", "archived"),
        ("2023-11-29", 36, "2026-11-29", "live"),
        ("2023-11-29", 36, "2026-11-30", "archived"),
    ],
)
def test_publicity_period_ends_after_its_last_day(decided, months, today, expected):
    assert state(decided, today, publicity_months=months) == expected


def test_the_shorter_of_art20_and_the_publicity_period_archives():
    assert state("2023-11-29", "2026-11-30", dishonest=True, publicity_months=36) == "archived"
    assert state("2021-11-29", "2026-11-29", dishonest=True, publicity_months=120) == "live"


@pytest.mark.parametrize(
    "decided,months,last",
    [("2021-11-29", 60, "2026-11-29"), ("2020-02-29", 60, "2025-02-28"), ("2025-08-31", 6, "2026-02-28")],
)
def test_disclosure_ends_names_the_last_day(decided, months, last):
    assert disclosure_ends(dt.date.fromisoformat(decided), months) == dt.date.fromisoformat(last)
