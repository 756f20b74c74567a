"""Art. 19: written authorizations (书面授权). Registering one: by the subject itself (real-name
verified, self-service: effective at once) or by the grantee organisation with the uploaded
signed document (pending until the subject's agreement is shown: the subject confirms, the PDF
carries the subject's valid e-signature, or the credit office checks the paper with two people;
or a state organ's purpose is exempt by configuration). Every request naming a subject is in
the trail whatever its outcome, and the answer never depends on whether the platform holds
that subject (a registration names a key, stored or not)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from ..auth.principal import Principal, RequestInfo
from ..catalog import DISCLOSURE_CLASSES, Catalog
from ..db import transaction
from ..disclosure.rules import MAX_PURPOSE_LENGTH
from ..errors import DomainError, Forbidden, InvalidInput, NotFound
from ..i18n import N_, _
from ..identifiers import USCC, IdentifierError, parse_subject_key, validate_uscc
from ..wording import wording
from . import repository
from .common import (
    BASIS_WORDS,
    act_details,
    is_grantee,
    log_refusal,
    shown,
    storable,
    tell_subject,
    write_act,
)
from .config import AuthorizationSettings
from .signatures import SignatureCheck, check_signature, load_trust_roots

MAX_VALIDITY = dt.timedelta(days=366 * 5)
MAX_REF_LENGTH = 200


@dataclass(frozen=True)
class GrantInput:
    subject_key: str
    grantee_org: str
    purpose: str
    scope_items: list[str]
    scope_classes: list[str]
    valid_from: dt.datetime | None
    valid_until: dt.datetime
    document_id: str | None = None
    document_ref: str | None = None


def _check_text(g: GrantInput) -> None:
    for value, field in ((g.subject_key, "subjectKey"), (g.grantee_org, "granteeOrg"),
                         (g.purpose, "purpose"), (g.document_id, "documentId"),
                         (g.document_ref, "documentRef")):
        storable(value, field)
    for code in g.scope_items:
        storable(code, "scope.items")


def _grantor(principal: Principal, subject_key: str, grantee_org: str) -> str:
    """'self_service' when the subject grants, 'signed_document' when the grantee registers."""
    if principal.has("subject") and principal.subject_key == subject_key:
        if not principal.real_name_verified:
            raise Forbidden(_("complete real-name verification before granting an authorization (Art. 19)"), rule="real_name_verified")
        return "self_service"
    if is_grantee(principal, grantee_org):
        return "signed_document"
    raise Forbidden(
        _("only the subject itself, or the grantee organisation with the signed document, "
        "may register an authorization"), rule="grantor",
    )


async def grant_authorization(
    pool: asyncpg.Pool, catalog: Catalog, principal: Principal, g: GrantInput, *,
    settings: AuthorizationSettings | None = None, legacy_uscc: frozenset[str] = frozenset(),
    request: RequestInfo | None = None,
) -> asyncpg.Record:
    """Register an authorization; every refusal is written to the trail before it is answered."""
    settings = settings or AuthorizationSettings()
    subject_key: str | None = None
    try:
        storable(g.subject_key, "subjectKey")
        try:
            key = parse_subject_key(g.subject_key, legacy_uscc=legacy_uscc)
        except IdentifierError as e:
            raise InvalidInput(_("subjectKey: {e}", e=e), field="subjectKey", rule=e.rule) from None
        subject_key = key.value  # from here on the trail names the subject
        _check_text(g)  # before anything is looked up
        return await _grant(pool, catalog, principal, g, key.value, key.kind != USCC,
                            settings, legacy_uscc, request)
    except DomainError as refusal:
        await log_refusal(
            pool, principal, request, operation="authorization.grant", subject_key=subject_key,
            refusal=refusal,
            details={"subject_key_given": None if subject_key else shown(g.subject_key),
                     "grantee_org": shown(g.grantee_org), "purpose": shown(g.purpose),
                     "document": shown(g.document_id)},
        )
        raise


async def _grant(pool, catalog, principal, g, subject_key, natural_person, settings,
                 legacy_uscc, request) -> asyncpg.Record:
    try:
        grantee = validate_uscc(g.grantee_org, legacy_allow=legacy_uscc)
    except IdentifierError as e:
        raise InvalidInput(_("granteeOrg: {e}", e=e), field="granteeOrg", rule=e.rule) from None
    purpose = g.purpose.strip()
    if not purpose or len(purpose) > MAX_PURPOSE_LENGTH:
        raise InvalidInput(_("purpose is required, at most {max_purpose_length} characters", max_purpose_length=MAX_PURPOSE_LENGTH),
                           field="purpose", rule="required")
    evidence = _grantor(principal, subject_key, grantee)
    classes = sorted(set(g.scope_classes))
    bad = [c for c in classes if c not in DISCLOSURE_CLASSES]
    if bad:
        raise InvalidInput(_("unknown disclosure classes {bad}", bad=bad), field="scope.classes", rule="class")
    items = sorted(set(g.scope_items))
    if not items and not classes:
        raise InvalidInput(_("scope must name catalog items or disclosure classes"), field="scope",
                           rule="required")
    for code in items:
        if await catalog.get(code) is None:
            raise InvalidInput(_("scope item {code} is not in the catalog", code=repr(code)), field="scope.items",
                               rule="catalog")
    ref = (g.document_ref or "").strip() or None
    if ref and len(ref) > MAX_REF_LENGTH:
        raise InvalidInput(_("documentRef is at most {max_ref_length} characters", max_ref_length=MAX_REF_LENGTH), field="documentRef",
                           rule="length")
    check: SignatureCheck | None = None
    document = None
    if evidence == "signed_document":
        document = await _own_document(pool, principal, g.document_id)
        if document["media_type"] == "application/pdf":  # no connection held meanwhile
            check = await check_signature(
                document["content"], subject_key, load_trust_roots(settings.trust_roots_file))
    grantee_role = None
    if evidence == "signed_document":
        grantee_role = "state_organ" if principal.has("state_organ") and not principal.has(
            "credit_service") else "credit_service"
    state, basis = "pending", None
    if evidence == "self_service":
        state, basis = "effective", "self_service"
    elif grantee_role == "state_organ" and purpose in settings.exempt_purposes:
        state, basis = "effective", "exempt"  # never a credit agency, never by request
    elif check is not None and check.valid:
        state, basis = "effective", "e_signature"
    async with transaction(pool) as conn:
        now = await conn.fetchval("SELECT now()")
        valid_from = g.valid_from or now
        if g.valid_until <= valid_from:
            raise InvalidInput(_("validUntil must be after validFrom"), field="validUntil", rule="period")
        if g.valid_until <= now:
            raise InvalidInput(_("validUntil is already past"), field="validUntil", rule="period")
        if g.valid_until - valid_from > MAX_VALIDITY:
            raise InvalidInput(_("an authorization is valid for at most five years"),
                               field="validUntil", rule="period")
        if document is not None:
            attached = await conn.fetchval(
                "SELECT true FROM authorizations WHERE document_id = $1", document["id"])
            if attached:
                raise InvalidInput(_("this document is already attached to an authorization"),
                                   field="documentId", rule="document_used")
        row = await repository.insert(
            conn, subject_key=subject_key, grantee_org=grantee, purpose=purpose,
            scope_items=items, scope_classes=classes, valid_from=valid_from,
            valid_until=g.valid_until, evidence_kind=evidence,
            evidence_digest=document["sha256"] if document else None,
            evidence_ref=(ref or str(document["id"])) if document else None,
            granted_by=principal.user_id, granted_by_name=principal.name or principal.user_id,
            grantee_role=grantee_role, document_id=document["id"] if document else None,
            signature_check=check.as_json() if check else None, state=state, effective_basis=basis,
        )
        await write_act(conn, principal, request, operation="authorization.grant",
                        subject_key=subject_key,
                        details=act_details(row, natural_person=natural_person))
        if evidence == "signed_document":
            words = (wording(N_("in effect ({basis})"), basis=wording(BASIS_WORDS[basis]))
                     if state == "effective" else
                     wording(N_("awaiting your confirmation: your information is not queried on it "
                                "without your consent; confirm or refuse it in self-service")))
            await tell_subject(conn, row, "authorization_registered", wording(
                N_("Organisation {grantee} registered your written authorization for {purpose}; "
                   "{state}"), grantee=grantee, purpose=purpose, state=words))
        else:
            await tell_subject(conn, row, "authorization_granted", wording(
                N_("You authorized organisation {grantee} for {purpose}, valid until {until}"),
                grantee=grantee, purpose=purpose, until=f"{g.valid_until:%Y-%m-%d}"))
        return row


async def _own_document(pool, principal: Principal, document_id: str | None) -> asyncpg.Record:
    if not document_id:
        raise InvalidInput(_("documentId is required: upload the signed authorization first "
                           "(POST /authorizations/documents)"), field="documentId", rule="required")
    async with pool.acquire() as conn:
        doc = await repository.document_for_grant(conn, document_id)
    if doc is None or doc["uploaded_org"] != principal.org_code:
        raise NotFound(_("no document {document_id} uploaded by your organisation", document_id=document_id), field="documentId")
    if doc["attached"]:
        raise InvalidInput(_("this document is already attached to an authorization"),
                           field="documentId", rule="document_used")
    return doc
