"""What every step of the authorization flow shares: input that can be stored, the trail row
(written whatever the outcome), the subject's notifications, and who plays which part."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

import asyncpg

from ..audit.repository import trail_row, write_rows
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..errors import AuditUnavailable, DomainError, InvalidInput
from ..i18n import N_, _
from ..rights.notifications import Notice, send
from ..wording import Wording

STATES = ("pending", "effective", "refused", "revoked", "disputed")
BASIS_WORDS = {  # the subject's notification says why a registered authorization is in effect
    "self_service": N_("granted by the subject in self-service"),
    "subject_confirmed": N_("confirmed by the subject in self-service"),
    "e_signature": N_("the document bears the subject's valid electronic signature"),
    "paper_check": N_("the paper authorization checked by two staff of the credit office"),
    "exempt": N_("a state organ's statutory purpose, exempt from confirmation by configuration"),
}


def storable(value: str | None, field: str, *, multiline: bool = False) -> str | None:
    """Art. 41 and issue 9: text that cannot be stored (NUL, other control characters) is
    refused as INVALID_INPUT before anything is looked up."""
    if value is None:
        return None
    allowed = {"\n", "\t"} if multiline else set()
    for ch in value:
        if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cs"):
            raise InvalidInput(
                _("{field} contains a control character (U+{ch}) and cannot be stored", field=field, ch=f"{ord(ch):04X}"), field=field, rule="control_character"
            )
    return value


def shown(value: str | None, limit: int = 80) -> str | None:
    """A refused input as it may be written to the trail: escaped, bounded."""
    if value is None:
        return None
    return value[:limit].encode("unicode_escape").decode("ascii")


def is_grantee(principal: Principal, org: str) -> bool:
    return principal.org_code == org and (
        principal.has("credit_service") or principal.has("state_organ")
    )


def is_self(principal: Principal, subject_key: str) -> bool:
    return bool(
        principal.has("subject") and principal.subject_key == subject_key
        and principal.real_name_verified
    )


def act_details(row: asyncpg.Record, **extra: Any) -> dict[str, Any]:
    return {
        "authorization": str(row["id"]),
        "grantee_org": row["grantee_org"],
        "purpose": row["purpose"],
        "scope_items": list(row["scope_items"]),
        "scope_classes": list(row["scope_classes"]),
        "valid_from": row["valid_from"].isoformat(),
        "valid_until": row["valid_until"].isoformat(),
        "evidence": row["evidence_kind"],
        "document": str(row["document_id"]) if row["document_id"] else None,
        "document_sha256": row["evidence_digest"],
        "document_ref": row["evidence_ref"],
        "state": row["state"],
        "effective_basis": row["effective_basis"],
        "revoke_reason": row["revoke_reason"],
        **extra,
    }


async def write_act(
    conn: asyncpg.Connection, principal: Principal, request: RequestInfo | None, *,
    operation: str, subject_key: str | None, outcome: str = "recorded", reason: str | None = None,
    details: dict[str, Any] | None = None, kind: str = "authorization",
) -> None:
    row = trail_row(
        principal, request, dt.datetime.now(dt.UTC), kind=kind, operation=operation,
        subject_key=subject_key, outcome=outcome, reason=reason, details=details or {},
        retention="long_term",
    )
    await write_rows(conn, [row])


async def log_refusal(
    pool: asyncpg.Pool, principal: Principal, request: RequestInfo | None, *,
    operation: str, subject_key: str | None, refusal: DomainError, details: dict[str, Any],
) -> None:
    """A refused request is in the trail too, in its own transaction; if even that cannot be
    written the caller gets AUDIT_UNAVAILABLE instead of the refusal."""
    try:
        async with transaction(pool) as conn:
            await write_act(
                conn, principal, request, operation=operation, subject_key=subject_key,
                outcome="refused", reason=f"{refusal.code}: {refusal.message}"[:500],
                details=details,
            )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        raise AuditUnavailable(_("the refused request could not be recorded")) from e


async def tell_subject(
    conn: asyncpg.Connection, row: asyncpg.Record, topic: str, message: Wording, **details: Any
) -> None:
    """The subject hears of every step (Art. 19): through the notifications outbox."""
    await send(
        conn,
        [Notice("subject", row["subject_key"], topic, message,
                {"authorization": str(row["id"]), "grantee_org": row["grantee_org"],
                 "purpose": row["purpose"], "state": row["state"], **details})],
        at=await conn.fetchval("SELECT now()"),
    )


def pending_reason(row: asyncpg.Record) -> str | None:
    """Why a pending authorization is not effective yet, for the grantee's portal."""
    if row["state"] != "pending":
        return None
    parts = [_("waiting for the subject to confirm it in the self-service portal")]
    check = row["signature_check"]
    if check:
        if isinstance(check, str):
            import json

            check = json.loads(check)
        # the check's own words stay as stored (README "Language")
        parts.append(_("the electronic signature is not accepted: {reason}", reason=check.get("message")))
    elif row["document_id"]:
        parts.append(_("the document is an image or carries no electronic signature; the credit office "
                       "can check the signed paper original"))
    if row["paper_recorded_by"]:
        parts.append(_("the credit office recorded its check ({at}); a second officer confirms it",
                       at=f"{row['paper_recorded_at']:%Y-%m-%d %H:%M}"))
    return _("; ").join(parts)
