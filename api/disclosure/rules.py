"""The disclosure decision: what a principal may see of one subject, and why the rest is
withheld (Art. 17-20); with the record states and dates it rests on (Art. 20) and the Art. 29
purposes.

Pure: the facts come in (principal, subject, records, authorizations, purpose, today), the
policy decides, a view comes out (api/disclosure/views.py). No I/O, so every rule is tested
directly."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..auth.policy import Decision, Entitlement, Policy, RecordFacts
from ..auth.principal import Principal
from ..catalog import CatalogItem
from ..identifiers import mask_document_number
from ..publicity import Periods, period_end, periods
from ..publicity import add_months as add_months  # the lists and tests take it from here
from .masking import mask_data, mask_name
from .views import (
    Authorization,
    Reason,
    RecordView,
    StoredRecord,
    StoredSubject,
    SubjectView,
    Withheld,
)

# Art. 29: the duties for which state organs use credit information; a state organ's query
# names one of them.
PURPOSES: dict[str, str] = {
    "administrative_licensing": "行政许可",
    "administrative_inspection": "行政检查",
    "administrative_penalty": "行政处罚",
    "qualification_review": "资质审核",
    "government_procurement": "政府采购",
    "bidding": "招标投标",
    "commendation": "表彰评优",
    "public_resource_trading": "公共资源交易",
    "state_land_transfer": "国有土地出让",
    "financing_approval": "融资审批",
    "government_funding": "政府资金扶持",
    "investment_promotion": "招商引资",
    "employment": "人员招录",
    "social_security": "社会保障",
}
CHINA_TIME = dt.timezone(dt.timedelta(hours=8), "CST")  # decision dates are local dates
MAX_PURPOSE_LENGTH = 200


def purpose_kind(purpose: str | None) -> str:
    if not purpose:
        return "none"
    return "duty" if purpose in PURPOSES else "stated"


def disclosure_ends(decided_on: dt.date, months: int) -> dt.date:
    """The last day of a disclosure period of `months` counted from a decision (Civil Code
    Art. 201-203, see api.publicity.period_end)."""
    return period_end(decided_on, months)


def record_periods(item: CatalogItem, decided_on: dt.date, data: dict[str, Any] | None) -> Periods:
    """publicUntil, repairableFrom, archivesOn of a record (api.publicity.periods), its severity
    read from its (unmasked) data by the item's rule."""
    severity = item.severity.severity_of(data) if item.severity else None
    return periods(decided_on=decided_on, dishonest=item.dishonest,
                   publicity_months=item.publicity_months, policy=item.severity, severity=severity)


def record_state(
    status: str, item: CatalogItem, decided_on: dt.date, today: dt.date,
    data: dict[str, Any] | None = None,
) -> str:
    """live | archived | repaired | deleted. Art. 20: dishonesty information is disclosed for
    five years from the decision, then archived (from the day after the anniversary, see
    disclosure_ends); the item's publicity period (by the record's severity for penalties)
    ends public display earlier: from the day after publicUntil the record is archived."""
    if status in ("deleted", "repaired", "archived"):
        return status
    return _state_in(record_periods(item, decided_on, data), today)


def _state_in(p: Periods, today: dt.date) -> str:
    """live or archived, for a record neither deleted, repaired nor archived, by its periods."""
    if p.public_until is not None and p.public_until < today:
        return "archived"
    return "live"


def _public_period_over(p: Periods, today: dt.date) -> bool:
    """Archived only because its public period is over (before Art. 20's five years)."""
    return (p.public_until is not None and p.public_until < today
            and (p.archives_on is None or today < p.archives_on))


def relation(role: str, principal: Principal, subject_key: str, record: StoredRecord) -> str:
    if role == "subject" and principal.subject_key == subject_key:
        return "self_verified" if principal.real_name_verified else "self_unverified"
    if role == "provider" and principal.org_code == record.provider_org:
        return "own_provider"
    if f"{role}:{principal.org_code}" in record.case_handlers:
        return "case_handler"  # an office handling an open objection on this record (Art. 38)
    return "other"


def _basis(rule: tuple[str, ...]) -> str:
    role, rel, cls, _state, _purpose, authz = rule
    if authz == "yes":
        return "authorization"
    if rel.startswith("self"):
        return "own_data"
    if rel == "own_provider":
        return "own_provision"
    if rel == "case_handler":
        return "case_handling"
    if cls == "public":
        return "public"
    return "government_sharing" if role == "state_organ" else "policy"


def _withheld_reason(policy: Policy, tried: list[RecordFacts]) -> str | None:
    """Ask the policy what would have disclosed it. None: the requester could not obtain it
    at all and it is no longer public (archived, repaired), so even its existence stays hidden."""
    for facts in tried:
        if facts.authz == "no" and policy.decide(facts._replace(authz="yes")).allowed:
            return Reason.NEEDS_AUTHORIZATION
        if facts.rel == "self_unverified" and policy.decide(facts._replace(rel="self_verified")).allowed:
            return Reason.NEEDS_VERIFICATION
    facts = tried[0]
    if facts.state != "live":
        return None
    if facts.cls == "shared":
        return Reason.STATE_ORGANS_ONLY
    if facts.cls == "authorized":
        return Reason.NEEDS_AUTHORIZATION
    return Reason.NOT_FOR_ROLE


def _withheld_order(entry: tuple[tuple[str, str, str, str | None], int]) -> tuple[str, ...]:
    cls, reason, scope, item_code = entry[0]
    return (cls, reason, scope, item_code or "")


def disclose(
    *,
    policy: Policy,
    principal: Principal,
    subject: StoredSubject,
    records: Iterable[StoredRecord],
    authorizations: Iterable[Authorization],
    purpose: str | None,
    now: dt.datetime,
) -> SubjectView:
    """The whole disclosure decision for one subject in one request."""
    today = now.astimezone(CHINA_TIME).date()
    kind = purpose_kind(purpose)
    auths = list(authorizations)
    roles = principal.roles
    is_self = principal.subject_key == subject.key
    self_rel = "self_verified" if principal.real_name_verified else "self_unverified"
    unmask = any(
        policy.may_unmask(role, self_rel if role == "subject" and is_self else "other")
        for role in roles
    )
    shown_name, shown_key = subject.name, subject.key
    if subject.subject_type == "natural_person" and not unmask:
        shown_name, shown_key = mask_name(subject.name), mask_document_number(subject.key)
    view = SubjectView(subject=subject, name=shown_name, key=shown_key)
    withheld: Counter[tuple[str, str, str, str | None]] = Counter()
    used_auths: dict[str, None] = {}

    for rec in records:
        item = rec.item
        if rec.status == "deleted":
            continue
        # record_state(), its dates worked out once for the state, a withheld reason and the view
        rec_periods = (None if rec.status in ("repaired", "archived")
                       else record_periods(item, rec.decided_on, rec.data))
        state = rec.status if rec_periods is None else _state_in(rec_periods, today)
        covering = next(
            (a for a in auths if a.covers(org=principal.org_code, purpose=purpose, item=item, at=now)),
            None,
        )
        tried = [
            RecordFacts(
                role=role,
                rel=relation(role, principal, subject.key, rec),
                cls=item.disclosure,
                state=state,
                purpose=kind,
                authz="yes" if covering else "no",
            )
            for role in roles
        ]
        allowed: tuple[str, Decision] | None = None
        for facts in tried:
            decision = policy.decide(facts)
            if decision.allowed:
                allowed = (facts.role, decision)
                break
        if allowed is None:
            reason = _withheld_reason(policy, tried)
            if reason == Reason.NEEDS_AUTHORIZATION and rec.status in (
                "active", "disputed"
            ) and _public_period_over(rec_periods, today):  # archived only by its public period
                reason = Reason.PUBLICITY_ENDED
            if reason is not None:
                withheld[(item.disclosure, reason, "records", None)] += 1
            continue
        role, decision = allowed
        ent: Entitlement = policy.entitlement(principal.org_code, role, item.code)
        if not ent.item_allowed:
            withheld[(item.disclosure, Reason.NOT_ENTITLED, "records", item.code)] += 1
            continue
        data = rec.data
        hidden = 0
        if ent.fields is not None:
            hidden = sum(1 for k in data if k not in ent.fields)
            data = {k: v for k, v in data.items() if k in ent.fields}
            if hidden:
                withheld[(item.disclosure, Reason.FIELDS_NOT_ENTITLED, "fields", item.code)] += hidden
        if not unmask:
            data = mask_data(
                data,
                item.mask_spec | rec.collected_masks,
                natural_person=subject.subject_type == "natural_person",
                subject_name=subject.name,
                today=today,
            )
        if decision.used_authorization and covering is not None:
            used_auths[covering.id] = None
        view.records.append(
            RecordView(
                id=rec.id,
                item=item,
                decided_on=rec.decided_on,
                data=data,
                status=rec.status,
                state=state,
                basis=_basis(decision.rule),
                fields_withheld=hidden,
                periods=(rec_periods if rec_periods is not None
                         else record_periods(item, rec.decided_on, rec.data)),
            )
        )
    view.withheld = [
        Withheld(disclosure=cls, count=n, reason_code=reason, scope=scope, item_code=item_code)
        for (cls, reason, scope, item_code), n in sorted(withheld.items(), key=_withheld_order)
    ]
    view.authorization_ids = list(used_auths)
    return view
