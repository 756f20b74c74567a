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
from ..i18n import _
from ..rights.notifications import Notice, send
from ..rights.offices import Offices
from . import repository
from .common import act_details, is_grantee, is_self, log_refusal, storable, tell_subject, write_act

Step = Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[asyncpg.Record]]
FINDINGS = ("forged", "signed", "undetermined")


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
        await tell_subject(conn, done, "authorization_confirmed",
                           f"您已确认对机构 {done['grantee_org']} 的授权（用途 {done['purpose']}），现已生效")
        return done
    return await _step(pool, principal, request, authorization_id, "authorization.confirm",
                       lambda r: is_self(principal, r["subject_key"]), step, {})


async def refuse(pool, principal, authorization_id, reason, *, request=None) -> asyncpg.Record:
    async def step(conn, row):
        done = await conn.fetchrow(repository.REFUSE, row["id"], reason)
        if done is None:
            raise _wrong_state(row, "pending")
        await tell_subject(conn, done, "authorization_refused",
                           f"您已拒绝机构 {done['grantee_org']} 登记的授权，该授权不会生效")
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
        who = "您" if is_self(principal, row["subject_key"]) else f"机构 {done['grantee_org']}"
        await tell_subject(conn, done, "authorization_revoked",
                           f"{who}撤销了对机构 {done['grantee_org']} 的授权（用途 {done['purpose']}），不再据此披露")
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
        await tell_subject(conn, done, "authorization_disputed",
                           "您对该授权提出异议（本人未签署），授权已立即中止，信用办将核查",
                           dispute=str(case["id"]))
        await send(conn, [Notice("credit_office", Offices.from_env().credit_office,
                                 "authorization_disputed",
                                 f"主体对机构 {done['grantee_org']} 的授权提出异议（本人未签署），请核查",
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
        await tell_subject(conn, done, "authorization_effective",
                           f"信用办已核验纸质授权书，对机构 {done['grantee_org']} 的授权（用途 {done['purpose']}）已生效；"
                           "如非本人签署，您可提出异议")
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
        await tell_subject(conn, row, "authorization_dispute_closed",
                           f"信用办已核查您的异议，结论：{finding}；该授权不再生效", dispute=str(case["id"]),
                           finding=finding)
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
            await tell_subject(conn, row, "authorization_effective",
                               f"国家机关 {row['grantee_org']} 的授权（用途 {row['purpose']}）依法定职责免于确认，已生效")
    return len(rows)
