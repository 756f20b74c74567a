"""The steps after registration (Art. 19): the subject confirms, refuses, revokes or disputes;
the credit office checks the paper document with two people and closes disputes. Each step is
one transaction with its trail row and the subject's notification; a refused step is in the
trail too when the authorization exists (it names a subject)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..errors import DomainError, Forbidden, InvalidInput, NotFound
from ..i18n import N_, _
from ..rights.notifications import Notice, send
from ..rights.offices import Offices
from ..wording import wording
from . import repository
from .common import act_details, is_grantee, is_self, log_refusal, storable, tell_subject, write_act

Step = Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[asyncpg.Record]]
FINDINGS = ("forged", "signed", "undetermined")
FINDING_WORDS = {  # the subject reads the finding in words, not as the code
    "forged": N_("forged: not signed by you"),
    "signed": N_("signed by you"),
    "undetermined": N_("it could not be established who signed it"),
}


async def _step(pool, principal: Principal, request: RequestInfo | None, authorization_id: str,
                operation: str, may: Callable[[asyncpg.Record], bool], step: Step,
                texts: dict[str, str | None]) -> asyncpg.Record:
    for field, value in texts.items():
        storable(value, field, multiline=True)
    storable(authorization_id, "id")
    subject_key = None
    try:
        async with transaction(pool) as conn:
            row = await repository.lock(conn, authorization_id)
            if row is not None:
                subject_key = row["subject_key"]
            if row is None or not may(row):  # not found before forbidden
                raise NotFound(_("no authorization {authorization_id} for you to act on", authorization_id=authorization_id), field="id")
            done = await step(conn, row)
            await write_act(conn, principal, request, operation=operation,
                            subject_key=row["subject_key"], details=act_details(done))
            return done
    except DomainError as refusal:
        if subject_key is not None:
            await log_refusal(pool, principal, request, operation=operation,
                              subject_key=subject_key, refusal=refusal,
                              details={"authorization": authorization_id})
        raise


def _wrong_state(row, wanted: str) -> InvalidInput:
    return InvalidInput(_("the authorization is {state}, not {wanted}", state=row['state'], wanted=wanted), field="id",
                        rule="state")


async def confirm(pool, principal, authorization_id, *, request=None) -> asyncpg.Record:
    """The subject confirms a pending registration through the self-service channel."""
    async def step(conn, row):
        done = await conn.fetchrow(repository.MAKE_EFFECTIVE, row["id"], "subject_confirmed")
        if done is None:
            raise _wrong_state(row, "pending")
        await tell_subject(conn, done, "authorization_confirmed", wording(
            N_("You confirmed your authorization of organisation {org} (purpose {purpose}); it is "
               "now in effect"), org=done["grantee_org"], purpose=done["purpose"]))
        return done
    return await _step(pool, principal, request, authorization_id, "authorization.confirm",
                       lambda r: is_self(principal, r["subject_key"]), step, {})


async def refuse(pool, principal, authorization_id, reason, *, request=None) -> asyncpg.Record:
    async def step(conn, row):
        done = await conn.fetchrow(repository.REFUSE, row["id"], reason)
        if done is None:
            raise _wrong_state(row, "pending")
        await tell_subject(conn, done, "authorization_refused", wording(
            N_("You refused the authorization registered by organisation {org}; it will not take "
               "effect"), org=done["grantee_org"]))
        return done
    return await _step(pool, principal, request, authorization_id, "authorization.refuse",
                       lambda r: is_self(principal, r["subject_key"]), step, {"reason": reason})


async def revoke(pool, principal, authorization_id, reason, *, request=None) -> asyncpg.Record:
    """The subject (at any time) or the grantee revokes a pending or effective one."""
    async def step(conn, row):
        done = await conn.fetchrow(repository.REVOKE, row["id"], principal.user_id, reason)
        if done is None:
            raise InvalidInput(_("authorization {id} is already {state}", id=row['id'], state=row['state']), field="id",
                               rule="already_revoked" if row["state"] == "revoked" else "state")
        text = (N_("You revoked your authorization of organisation {org} (purpose {purpose}); "
                   "nothing is disclosed on it any more")
                if is_self(principal, row["subject_key"]) else
                N_("Organisation {org} revoked your authorization of it (purpose {purpose}); "
                   "nothing is disclosed on it any more"))
        await tell_subject(conn, done, "authorization_revoked",
                           wording(text, org=done["grantee_org"], purpose=done["purpose"]))
        return done
    return await _step(
        pool, principal, request, authorization_id, "authorization.revoke",
        lambda r: is_self(principal, r["subject_key"]) or is_grantee(principal, r["grantee_org"]),
        step, {"reason": reason})


async def dispute(pool, principal, authorization_id, statement, *, request=None) -> asyncpg.Record:
    """"I did not sign this": suspended at once for good, and a case for the credit office."""
    async def step(conn, row):
        done = await conn.fetchrow(repository.DISPUTE, row["id"])
        if done is None:
            raise _wrong_state(row, "pending or effective")
        case = await conn.fetchrow(repository.OPEN_DISPUTE, row["id"], row["subject_key"],
                                   statement, principal.user_id)
        await tell_subject(conn, done, "authorization_disputed", wording(
            N_("You disputed this authorization (not signed by you): it is suspended at once and "
               "the credit office will look into it")), dispute=str(case["id"]))
        await send(conn, [Notice("credit_office", Offices.from_env().credit_office,
                                 "authorization_disputed",
                                 wording(N_("The subject disputes its authorization of "
                                            "organisation {org} (not signed by the subject): "
                                            "look into it"), org=done["grantee_org"]),
                                 {"authorization": str(done["id"]), "dispute": str(case["id"])})],
                   at=await conn.fetchval("SELECT now()"))
        return done
    return await _step(pool, principal, request, authorization_id, "authorization.dispute",
                       lambda r: is_self(principal, r["subject_key"]), step,
                       {"statement": statement})


def _credit_office(principal: Principal) -> bool:
    return principal.has("credit_office") and principal.org_code == Offices.from_env().credit_office


async def record_paper_check(pool, principal, authorization_id, note, *, request=None):
    """The credit office's first person: the paper original was seen and matches."""
    async def step(conn, row):
        if row["paper_recorded_by"]:
            raise InvalidInput(_("the paper check is already recorded; a second person confirms it"),
                               field="id", rule="paper_recorded")
        done = await conn.fetchrow(repository.PAPER_RECORD, row["id"], principal.user_id,
                                   principal.name or principal.user_id, note)
        if done is None:
            raise _wrong_state(row, "pending")
        return done
    return await _step(pool, principal, request, authorization_id, "authorization.paper_record",
                       lambda r: _credit_office(principal), step, {"note": note})


async def confirm_paper_check(pool, principal, authorization_id, *, request=None):
    """A second person of the credit office confirms: the authorization takes effect."""
    async def step(conn, row):
        if not row["paper_recorded_by"]:
            raise InvalidInput(_("no paper check recorded yet"), field="id", rule="paper_not_recorded")
        if row["paper_recorded_by"] == principal.user_id:
            raise Forbidden(_("a paper authorization is confirmed by a second member of staff (two-person check)"), rule="two_people")
        done = await conn.fetchrow(repository.PAPER_CONFIRM, row["id"], principal.user_id,
                                   principal.name or principal.user_id)
        if done is None:
            raise _wrong_state(row, "pending")
        await tell_subject(conn, done, "authorization_effective", wording(
            N_("The credit office checked the paper authorization: your authorization of "
               "organisation {org} (purpose {purpose}) is in effect; if you did not sign it, you "
               "may dispute it"), org=done["grantee_org"], purpose=done["purpose"]))
        return done
    return await _step(pool, principal, request, authorization_id, "authorization.paper_confirm",
                       lambda r: _credit_office(principal), step, {})


async def close_dispute(pool, principal, dispute_id, finding, note, *, request=None):
    """The credit office records what it found. The authorization stays suspended whatever the
    finding: the subject may revoke at any time, so a dispute ends its effect for good."""
    if finding not in FINDINGS:
        raise InvalidInput(_("finding is one of {findings}", findings=FINDINGS), field="finding", rule="finding")
    storable(note, "note", multiline=True)
    if not _credit_office(principal):
        raise Forbidden(_("disputes are closed by the credit office"), rule="credit_office")
    async with transaction(pool) as conn:
        try:
            case = await conn.fetchrow(repository.CLOSE_DISPUTE, uuid.UUID(dispute_id),
                                       principal.user_id, principal.name, finding, note)
        except ValueError:
            case = None
        if case is None:
            raise NotFound(_("no open dispute {dispute_id}", dispute_id=dispute_id), field="id")
        row = await conn.fetchrow("SELECT * FROM authorizations WHERE id = $1", case["authorization_id"])
        await write_act(conn, principal, request, operation="authorization.dispute_closed",
                        subject_key=row["subject_key"],
                        details=act_details(row, dispute=str(case["id"]), finding=finding, note=note))
        await tell_subject(conn, row, "authorization_dispute_closed", wording(
            N_("The credit office looked into your dispute, finding: {finding}; the authorization "
               "is no longer in effect"), finding=wording(FINDING_WORDS[finding])),
            dispute=str(case["id"]), finding=finding)
        return case


async def apply_exemptions(pool: asyncpg.Pool, exempt: frozenset[str]) -> int:
    """At start-up: pending registrations by state organs for a purpose now exempt take effect
    (and are in the trail and told to the subject). Credit agencies' never do."""
    actor = Principal(user_id="system", name="credit-platform", org_code=None, org_name=None,
                      roles=("system",))
    async with transaction(pool) as conn:
        rows = await conn.fetch(
            "UPDATE authorizations SET state = 'effective', effective_basis = 'exempt', "
            "effective_at = now() WHERE state = 'pending' AND grantee_role = 'state_organ' "
            "AND purpose = ANY($1::text[]) AND valid_until > now() RETURNING *", sorted(exempt))
        for row in rows:
            await write_act(conn, actor, None, operation="authorization.exempt",
                            subject_key=row["subject_key"], details=act_details(row))
            await tell_subject(conn, row, "authorization_effective", wording(
                N_("The authorization of state organ {org} (purpose {purpose}) is exempt from "
                   "confirmation by its statutory duty and is in effect"),
                org=row["grantee_org"], purpose=row["purpose"]))
    return len(rows)
