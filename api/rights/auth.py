"""Who sees a case, and who may ask for what: the subject its own cases (real-name verified, as
for its own non-public data); the offices the cases they handle; a provider the cases about
its records. Callers fetch first and answer "not found" for a case they may not see, so a
refusal does not reveal that it exists."""

from __future__ import annotations

from typing import Any

from ..auth.principal import Principal
from ..errors import Forbidden
from ..i18n import _


def require_verified_subject(principal: Principal) -> str:
    """Art. 19, 37: a right of the subject itself, exercised after real-name verification."""
    if not principal.has("subject") or not principal.subject_key:
        raise Forbidden(_("only the subject itself exercises this right"), rule="subject_role")
    if not principal.real_name_verified:
        raise Forbidden(
            _("complete real-name verification first (Art. 19)"), rule="real_name_verification"
        )
    return principal.subject_key


def may_see(principal: Principal, case: Any) -> bool:
    """`case` is a rights_cases row (or anything with its keys)."""
    if (
        principal.has("subject")
        and principal.real_name_verified
        and principal.subject_key == case["subject_key"]
    ):
        return True
    org = principal.org_code
    if org is None:
        return False
    if principal.has("provider") and org == case["provider_org"]:
        return True
    if principal.has("credit_office") and org == case["credit_office_org"]:
        return True
    return principal.has("data_office") and org == case["data_office_org"] and case["kind"] == "objection"


def visibility_sql(principal: Principal) -> tuple[str, list[Any]]:
    """The same rule as may_see, as SQL over rights_cases c (with its arguments)."""
    conds: list[str] = []
    args: list[Any] = []

    def add(sql: str, value: Any) -> None:
        args.append(value)
        conds.append(sql.format(f"${len(args)}"))

    if principal.has("subject") and principal.real_name_verified and principal.subject_key:
        add("c.subject_key = {}", principal.subject_key)
    if principal.org_code:
        if principal.has("provider"):
            add("c.provider_org = {}", principal.org_code)
        if principal.has("credit_office"):
            add("c.credit_office_org = {}", principal.org_code)
        if principal.has("data_office"):
            add("(c.data_office_org = {} AND c.kind = 'objection')", principal.org_code)
    return ("(" + " OR ".join(conds) + ")") if conds else "false", args


def require_case_reader(principal: Principal) -> None:
    if visibility_sql(principal)[0] == "false":
        raise Forbidden(
            _("cases are for the subject (real-name verified), the offices and providers"),
            rule="case_reader",
        )
