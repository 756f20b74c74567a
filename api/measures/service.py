"""Art. 26-28: the registry of joint reward and punishment measures, kept by the credit office,
versioned (a change keeps the version it replaces), public, every change an act in the trail."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import asyncpg

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..disclosure.rules import PURPOSES
from ..errors import Forbidden, InvalidInput
from ..i18n import _
from ..identifiers import IdentifierError, parse_subject_key
from . import repository

CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,39}$")
# Art. 27 lists six kinds of reward, Art. 28 six kinds of punishment (measures.zh.txt), each ending
# with "other measures that laws and regulations allow".
CLAUSES = {**{f"art27_{i}": "reward" for i in range(1, 7)}, **{f"art28_{i}": "punishment" for i in range(1, 7)}}


def _need(value: Any, field: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()) or value == []:
        raise InvalidInput(_("{field} is required", field=field), field=field, rule="required")
    return value.strip() if isinstance(value, str) else value


def check_measure(m: dict[str, Any]) -> dict[str, Any]:
    """Every element the registry must state (Art. 26), or INVALID_INPUT naming it."""
    code = _need(m.get("code"), "code")
    if not CODE.match(code):
        raise InvalidInput(_("code is 2 to 40 capital letters, digits or underscores"), field="code", rule="measure_code")
    clause = _need(m.get("clause"), "clause")
    if CLAUSES.get(clause) != m.get("kind"):
        raise InvalidInput(_("clause is one of Art. 27 (reward, art27_1..6) or Art. 28 (punishment, art28_1..6), matching kind"),
                           field="clause", rule="art27_28_clause")
    for f in ("name", "legal_basis", "originating_name"):
        _need(m.get(f), f)
    try:
        parse_subject_key(_need(m.get("originating_org"), "originating_org"))
    except IdentifierError as e:
        raise InvalidInput(_("originatingOrg: {e}", e=e), field="originatingOrg", rule=e.rule) from None
    bodies = [b.strip() for b in _need(m.get("implementing_bodies"), "implementing_bodies") if b.strip()]
    lists = _need(m.get("target_lists"), "target_lists")
    if not set(lists) <= {"red", "black"}:
        raise InvalidInput(_("targetLists are red, black"), field="targetLists", rule="list_kind")
    if m["kind"] == "punishment" and lists != ["black"] or m["kind"] == "reward" and lists != ["red"]:
        raise InvalidInput(_("punishments target the blacklist, rewards the redlist"), field="targetLists", rule="measure_target")
    scenarios = _need(m.get("scenarios"), "scenarios")
    unknown = [s for s in scenarios if s not in PURPOSES]
    if unknown:
        raise InvalidInput(_("scenarios are Art. 29 duties: {unknown} is not one", unknown=', '.join(unknown)), field="scenarios", rule="art29_purpose")
    if m.get("valid_until") is not None and m["valid_until"] < m["valid_from"]:
        raise InvalidInput(_("validUntil is before validFrom"), field="validUntil", rule="period")
    return {**m, "implementing_bodies": bodies, "target_lists": sorted(set(lists)),
            "target_providers": sorted(set(m.get("target_providers") or [])), "scenarios": sorted(set(scenarios))}


async def put_measure(pool, principal: Principal, request: RequestInfo, credit_office_org: str,
                      measure: dict[str, Any]) -> asyncpg.Record:
    if not principal.has("credit_office") or principal.org_code != credit_office_org:
        raise Forbidden(_("the list of joint rewards and punishments is maintained by the credit office"), rule="credit_office")
    m = check_measure({**measure, "updated_by": principal.user_id})
    async with transaction(pool) as conn:
        row = await repository.put(conn, m)
        await record_act(conn, principal, kind="measure", operation="measure.put", request=request,
                         details={"code": row["code"], "version": row["version"], "kind": row["kind"],
                                  "clause": row["clause"], "scenarios": row["scenarios"]})
    return row


async def measures(pool, *, scenario: str | None, kind: str | None, on: dt.date | None) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await repository.listing(conn, scenario, kind, on)


def applicable(measures: list[asyncpg.Record], entry_kind: str, provider: str) -> list[asyncpg.Record]:
    """The measures that apply to an entry in force (its list kind and provider)."""
    return [m for m in measures if entry_kind in m["target_lists"]
            and (not m["target_providers"] or provider in m["target_providers"])]
