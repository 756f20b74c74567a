"""Penalty publicity by severity (行政处罚信息公示期, RULES.md "Use"): pure.

A penalty record carries a severity (轻微 minor, 一般 general, 严重 serious) in the data field
its catalog item names. The item's rule gives, per severity, how long the record is public and
how long after the decision the subject must wait before applying for credit repair (Art. 39).
The national defaults (2025): minor public up to 3 months, general 3 months to 1 year, serious
1 to 3 years; repair only after the minimum period. Every period ends as the Civil Code counts
(Art. 201-203, see `period_end`): decided 2025-11-30, three months: public through 2026-02-28.

    periods(...)   publicUntil, repairableFrom and archivesOn (Art. 20) of one record
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .i18n import _

SEVERITIES: dict[str, str] = {"minor": "轻微", "general": "一般", "serious": "严重"}
# what a provider may send in the severity field: the English code or the Chinese name
ACCEPTED: dict[str, str] = {**{k: k for k in SEVERITIES}, **{v: k for k, v in SEVERITIES.items()}}
# national ranges of the public period, in months, and the shortest wait before repair
PUBLIC_RANGE: dict[str, tuple[int, int]] = {"minor": (1, 3), "general": (3, 12), "serious": (12, 36)}
MIN_REPAIR_AFTER: dict[str, int] = {"minor": 0, "general": 3, "serious": 12}
DISHONESTY_DISCLOSURE_MONTHS = 60  # Art. 20: five years


@dataclass(frozen=True)
class SeverityRule:
    public_months: int
    repair_after_months: int  # 0: repair may be applied for from the decision day


NATIONAL: dict[str, SeverityRule] = {
    "minor": SeverityRule(3, 0),
    "general": SeverityRule(12, 3),
    "serious": SeverityRule(36, 12),
}


@dataclass(frozen=True)
class SeverityPolicy:
    """An item's rule: the data field carrying the severity and the periods of each."""

    field: str
    rules: tuple[tuple[str, SeverityRule], ...]  # (severity, rule), hashable like the item

    def rule(self, severity: str | None) -> SeverityRule | None:
        return dict(self.rules).get(severity) if severity else None

    def severity_of(self, data: dict[str, Any] | None) -> str | None:
        """The record's severity, or None when its data does not state one (older records)."""
        value = (data or {}).get(self.field)
        return ACCEPTED.get(value.strip()) if isinstance(value, str) else None

    def as_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            **{s: {"public_months": r.public_months, "repair_after_months": r.repair_after_months}
               for s, r in self.rules},
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> SeverityPolicy | None:
        if not doc:
            return None
        return cls(
            field=doc["field"],
            rules=tuple((s, SeverityRule(int(doc[s]["public_months"]), int(doc[s]["repair_after_months"])))
                        for s in SEVERITIES if s in doc),
        )


@dataclass(frozen=True)
class Periods:
    severity: str | None
    public_until: dt.date | None  # the last day the record is public; None: no end
    repairable_from: dt.date | None  # the first day repair may be applied for; None: no repair
    archives_on: dt.date | None  # Art. 20: the first day after five years; None: not dishonesty


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def period_end(decided_on: dt.date, months: int) -> dt.date:
    """The last day of a period of `months` counted from a decision. Civil Code Art. 201-203:
    the period starts the day after the decision and ends at the end of the corresponding day
    of the last month (the anniversary for years), or of that month's last day when it has no
    such day. Decided 2021-11-29, five years: the last day is 2026-11-29."""
    return add_months(decided_on, months)


def periods(
    *, decided_on: dt.date, dishonest: bool, publicity_months: int | None,
    policy: SeverityPolicy | None, severity: str | None,
) -> Periods:
    """A record's dates. With a severity the item's rule for it decides the public period and
    the wait before repair; without one (records from before severities were collected) the
    item's fixed publicity period applies and repair may be applied for at once, as before."""
    archives_on = (
        period_end(decided_on, DISHONESTY_DISCLOSURE_MONTHS) + dt.timedelta(days=1) if dishonest else None
    )
    rule = policy.rule(severity) if policy is not None else None
    months = rule.public_months if rule else publicity_months
    ends = [d for d in (
        period_end(decided_on, months) if months else None,
        archives_on - dt.timedelta(days=1) if archives_on else None,
    ) if d is not None]
    if rule is not None:
        wait = rule.repair_after_months
        repairable_from = period_end(decided_on, wait) + dt.timedelta(days=1) if wait else decided_on
    else:
        repairable_from = decided_on if dishonest else None
    return Periods(
        severity=severity if rule else None,
        public_until=min(ends) if ends else None,
        repairable_from=repairable_from,
        archives_on=archives_on,
    )


def check_policy(doc: Any, path: str, field_codes: dict[str, tuple[str, ...]]) -> tuple[SeverityPolicy | None, list[str]]:
    """A catalog item's `severity` block, strictly: the field names a code field of the item
    whose codes are all severities (English or Chinese); each severity's public period lies in
    the national range; repair waits at least the national minimum and not past the public
    period. A missing severity takes the national default. Returns (policy, problems)."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return None, [_("{path}: a mapping with field and minor/general/serious periods", path=path)]
    for k in sorted(set(doc) - {"field", *SEVERITIES}):
        problems.append(_("{path}: unknown key (allowed: {allowed})", path=f"{path}.{k}",
                          allowed=", ".join(("field", *SEVERITIES))))
    fname = doc.get("field")
    codes = field_codes.get(fname) if isinstance(fname, str) else None
    if codes is None:
        problems.append(_("{path}: {name} must name a code field of the item", path=path + ".field",
                          name=repr(fname)))
    else:
        bad = [c for c in codes if c not in ACCEPTED]
        if bad:
            problems.append(_("{path}: codes {codes} are not severities ({allowed})", path=path + ".field",
                              codes=", ".join(bad), allowed=", ".join(ACCEPTED)))
    rules: dict[str, SeverityRule] = {}
    for s, default in NATIONAL.items():
        raw = doc.get(s)
        if raw is None:
            rules[s] = default
            continue
        p = f"{path}.{s}"
        if not isinstance(raw, dict) or set(raw) - {"public_months", "repair_after_months"}:
            problems.append(_("{path}: a mapping {{public_months, repair_after_months}}", path=p))
            continue
        pub = raw.get("public_months", default.public_months)
        wait = raw.get("repair_after_months", default.repair_after_months)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (pub, wait)):
            problems.append(_("{path}: public_months and repair_after_months are whole months", path=p))
            continue
        lo, hi = PUBLIC_RANGE[s]
        if not lo <= pub <= hi:
            problems.append(_("{path}: a {severity} ({name}) penalty is public {lo} to {hi} months under "
                              "the national rules, not {months}", path=p + ".public_months", severity=s,
                              name=SEVERITIES[s], lo=lo, hi=hi, months=pub))
        if not MIN_REPAIR_AFTER[s] <= wait <= pub:
            problems.append(_("{path}: {lo} to the public period ({public}) months, not {months}",
                              path=p + ".repair_after_months", lo=MIN_REPAIR_AFTER[s], public=pub, months=wait))
        rules[s] = SeverityRule(pub, wait)
    if problems:
        return None, problems
    return SeverityPolicy(field=fname, rules=tuple(rules.items())), []
