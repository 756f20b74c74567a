"""Art. 19: written authorizations. Granted by the subject itself (real-name verified, through
the self-service channel) or registered by the grantee organisation with the digest and
reference of the signed document; revocable by either."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import asyncpg

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..catalog import DISCLOSURE_CLASSES, Catalog
from ..db import transaction
from ..disclosure.rules import MAX_PURPOSE_LENGTH
from ..errors import Forbidden, InvalidInput, NotFound
from ..identifiers import IdentifierError, parse_subject_key, validate_uscc

MAX_VALIDITY = dt.timedelta(days=366 * 5)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

INSERT = """
INSERT INTO authorizations (subject_key, grantee_org, purpose, scope_items, scope_classes,
    valid_from, valid_until, evidence_kind, evidence_digest, evidence_ref, granted_by,
    granted_by_name)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING *
"""
REVOKE = """
UPDATE authorizations SET revoked_at = now(), revoked_by = $2, revoke_reason = $3
WHERE id = $1 AND revoked_at IS NULL
RETURNING *
"""


@dataclass(frozen=True)
class GrantInput:
    subject_key: str
    grantee_org: str
    purpose: str
    scope_items: list[str]
    scope_classes: list[str]
    valid_from: dt.datetime | None
    valid_until: dt.datetime
    document_digest: str | None = None
    document_ref: str | None = None


def _who_grants(principal: Principal, subject_key: str, grantee_org: str) -> str:
    """'self_service' when the subject grants, 'signed_document' when the grantee registers."""
    if principal.has("subject") and principal.subject_key == subject_key:
        if not principal.real_name_verified:
            raise Forbidden(
                "complete real-name verification before granting an authorization (Art. 19)",
                rule="real_name_verified",
            )
        return "self_service"
    if principal.org_code == grantee_org and (
        principal.has("credit_service") or principal.has("state_organ")
    ):
        return "signed_document"
    raise Forbidden(
        "only the subject itself, or the grantee organisation holding the signed document, "
        "may register an authorization",
        rule="grantor",
    )


async def grant_authorization(
    pool: asyncpg.Pool,
    catalog: Catalog,
    principal: Principal,
    g: GrantInput,
    *,
    legacy_uscc: frozenset[str] = frozenset(),
    request: RequestInfo | None = None,
) -> asyncpg.Record:
    try:
        subject_key = parse_subject_key(g.subject_key, legacy_uscc=legacy_uscc).value
    except IdentifierError as e:
        raise InvalidInput(f"subjectKey: {e}", field="subjectKey", rule=e.rule) from None
    try:
        grantee = validate_uscc(g.grantee_org, legacy_allow=legacy_uscc)
    except IdentifierError as e:
        raise InvalidInput(f"granteeOrg: {e}", field="granteeOrg", rule=e.rule) from None
    purpose = g.purpose.strip()
    if not purpose or len(purpose) > MAX_PURPOSE_LENGTH:
        raise InvalidInput(
            f"purpose is required, at most {MAX_PURPOSE_LENGTH} characters",
            field="purpose",
            rule="required",
        )
    evidence = _who_grants(principal, subject_key, grantee)
    digest = ref = None
    if evidence == "signed_document":
        digest = (g.document_digest or "").strip().lower()
        ref = (g.document_ref or "").strip()
        if not _SHA256.match(digest):
            raise InvalidInput(
                "documentDigest must be the SHA-256 of the signed authorization, 64 hex digits",
                field="documentDigest",
                rule="sha256",
            )
        if not ref:
            raise InvalidInput(
                "documentRef (where the signed authorization is filed) is required",
                field="documentRef",
                rule="required",
            )
    classes = sorted(set(g.scope_classes))
    bad = [c for c in classes if c not in DISCLOSURE_CLASSES]
    if bad:
        raise InvalidInput(f"unknown disclosure classes {bad}", field="scope.classes", rule="class")
    items = sorted(set(g.scope_items))
    if not items and not classes:
        raise InvalidInput(
            "scope must name catalog items or disclosure classes", field="scope", rule="required"
        )
    for code in items:
        if await catalog.get(code) is None:
            raise InvalidInput(
                f"scope item {code!r} is not in the catalog", field="scope.items", rule="catalog"
            )
    async with transaction(pool) as conn:
        now = await conn.fetchval("SELECT now()")
        valid_from = g.valid_from or now
        if g.valid_until <= valid_from:
            raise InvalidInput(
                "validUntil must be after validFrom", field="validUntil", rule="period"
            )
        if g.valid_until <= now:
            raise InvalidInput(
                "validUntil is already past", field="validUntil", rule="period"
            )
        if g.valid_until - valid_from > MAX_VALIDITY:
            raise InvalidInput(
                "an authorization is valid for at most five years", field="validUntil", rule="period"
            )
        if not await conn.fetchval("SELECT true FROM subjects WHERE key = $1", subject_key):
            raise NotFound(f"no subject {subject_key} on the platform", field="subjectKey")
        row = await conn.fetchrow(
            INSERT,
            subject_key,
            grantee,
            purpose,
            items,
            classes,
            valid_from,
            g.valid_until,
            evidence,
            digest,
            ref,
            principal.user_id,
            principal.name,
        )
        await record_act(
            conn, principal, kind="authorization", operation="authorization.grant",
            subject_key=subject_key, request=request, details=_act_details(row),
        )
        return row


def _act_details(row: asyncpg.Record) -> dict:
    return {
        "authorization": str(row["id"]),
        "grantee_org": row["grantee_org"],
        "purpose": row["purpose"],
        "scope_items": list(row["scope_items"]),
        "scope_classes": list(row["scope_classes"]),
        "valid_from": row["valid_from"].isoformat(),
        "valid_until": row["valid_until"].isoformat(),
        "evidence": row["evidence_kind"],
        "document_ref": row["evidence_ref"],
        "revoke_reason": row["revoke_reason"],
    }


async def revoke_authorization(
    pool: asyncpg.Pool,
    principal: Principal,
    authorization_id: str,
    reason: str | None,
    *,
    request: RequestInfo | None = None,
) -> asyncpg.Record:
    async with transaction(pool) as conn:
        try:
            row = await conn.fetchrow(
                "SELECT * FROM authorizations WHERE id = $1::uuid FOR UPDATE", authorization_id
            )
        except asyncpg.DataError:
            row = None
        may = row is not None and (
            (principal.has("subject") and principal.subject_key == row["subject_key"]
             and principal.real_name_verified)
            or principal.org_code == row["grantee_org"]
            and (principal.has("credit_service") or principal.has("state_organ"))
        )
        if not may:  # not found before forbidden: do not reveal that it exists
            raise NotFound(f"no authorization {authorization_id} that you may revoke", field="id")
        if row["revoked_at"] is not None:
            raise InvalidInput(
                f"authorization {authorization_id} was already revoked at {row['revoked_at']:%Y-%m-%d %H:%M}",
                field="id",
                rule="already_revoked",
            )
        revoked = await conn.fetchrow(REVOKE, row["id"], principal.user_id, reason)
        await record_act(
            conn, principal, kind="authorization", operation="authorization.revoke",
            subject_key=revoked["subject_key"], request=request, details=_act_details(revoked),
        )
        return revoked
