"""Looking up subjects: validate the request, read, decide, log, all in one transaction.

Art. 21: no data leaves without its log row. The log rows are written in the transaction that
read the data; if they cannot be written the transaction rolls back and the caller gets an
error instead of data. Refused requests are logged too."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from ..audit.repository import LogEntry, record_queries
from ..auth.policy import Policy
from ..auth.principal import Principal, RequestInfo
from ..catalog import Catalog
from ..db import json_loads, lean_transaction, transaction
from ..errors import (
    AuditUnavailable,
    DomainError,
    Forbidden,
    InvalidInput,
    InvalidPurpose,
    PolicyUnavailable,
    PurposeRequired,
    TooMany,
)
from ..guard.errors import Busy, ClientGone, ensure_client_waiting
from ..i18n import _
from ..identifiers import IdentifierError, parse_subject_key
from ..observe.metrics import count_lookups, trail_write_timer
from . import repository
from .masking import MaskSpec
from .rules import MAX_PURPOSE_LENGTH, PURPOSES, disclose
from .views import Authorization, StoredRecord, StoredSubject, SubjectView

log = logging.getLogger("credit.disclosure")

Within = Callable[[asyncpg.Connection, dict[str, SubjectView], dt.datetime], Awaitable[None]]


@dataclass
class Disclosure:
    """Everything a lookup needs that lives as long as the app."""

    pool: asyncpg.Pool
    policy: Policy
    catalog: Catalog
    batch_max: int = 100
    legacy_uscc: frozenset[str] = frozenset()  # pilot-era codes that fail the standard check


def normalise_keys(
    raw_keys: list[str], batch_max: int, legacy_uscc: frozenset[str] = frozenset()
) -> list[str]:
    """Each key validated and normalised, in the order given (duplicates kept)."""
    if not raw_keys:
        raise InvalidInput(_("give at least one subject key"), field="keys", rule="required")
    if len(raw_keys) > batch_max:
        raise TooMany(
            _("a batch query takes at most {batch_max} subject keys; {n} were given", batch_max=batch_max, n=len(raw_keys)),
            field="keys",
            rule="batch_size",
        )
    keys: list[str] = []
    for i, raw in enumerate(raw_keys):
        try:
            key = parse_subject_key(raw, legacy_uscc=legacy_uscc).value
        except IdentifierError as e:
            where = "key" if len(raw_keys) == 1 else f"keys[{i}]"
            raise InvalidInput(_("{where} {raw}: {e}", where=where, raw=repr(raw), e=e), field=where, rule=e.rule) from None
        keys.append(key)
    return keys


def parseable_keys(raw_keys: list[str], legacy_uscc: frozenset[str] = frozenset()) -> list[str]:
    """The keys of a refused request that name a subject, canonical and distinct, so that the
    refusal is logged against them; at most one batch's worth, the rest name no one yet."""
    keys: dict[str, None] = {}
    for raw in raw_keys[:BATCH_LOG_MAX]:
        try:
            keys[parse_subject_key(raw if isinstance(raw, str) else "", legacy_uscc=legacy_uscc).value] = None
        except IdentifierError:
            continue
    return list(keys)


BATCH_LOG_MAX = 100
BATCH_ROLES = ("credit_service", "state_organ")


def _check_batch_role(principal: Principal, operation: str) -> None:
    """Art. 23: batch queries are for credit service agencies and state organs."""
    if operation == "subjects" and not any(principal.has(r) for r in BATCH_ROLES):
        raise Forbidden(
            _("batch queries are for credit service agencies and state organs (Art. 23)"),
            rule="batch_role",
        )


def _check_purpose(principal: Principal, purpose: str | None, keys: list[str]) -> str | None:
    """State organs query in performance of a duty and name it (Art. 17, 29)."""
    purpose = (purpose or "").strip() or None
    if purpose is not None and len(purpose) > MAX_PURPOSE_LENGTH:
        raise InvalidInput(
            _("purpose is at most {max_purpose_length} characters", max_purpose_length=MAX_PURPOSE_LENGTH), field="purpose", rule="length"
        )
    acting_for_self = principal.subject_key is not None and keys == [principal.subject_key]
    if principal.has("state_organ") and not acting_for_self:
        if purpose is None:
            raise PurposeRequired(
                _("a state organ must state the duty it queries for: purpose is one of {purposes}",
                  purposes=", ".join(PURPOSES)),
                field="purpose",
                rule="art29_purpose_required",
            )
        if purpose not in PURPOSES:
            raise InvalidPurpose(
                _("purpose {purpose} is not an Art. 29 duty; choose one of {purposes}",
                  purpose=repr(purpose), purposes=", ".join(PURPOSES)),
                field="purpose",
                rule="art29_purpose",
            )
    return purpose


async def look_up(
    d: Disclosure,
    principal: Principal,
    request: RequestInfo,
    *,
    keys: list[str],
    purpose: str | None,
    operation: str,
    within: Within | None = None,
) -> list[SubjectView | None]:
    """Disclose what the policy allows of each subject; one log row per distinct subject.
    The result is aligned with `keys` (None where no such subject). `within` runs in the same
    transaction after the log rows are written (a credit report is stored there, so it exists
    exactly when its disclosure is logged); if it raises, nothing is disclosed or logged."""
    given = normalise_keys(keys, d.batch_max, d.legacy_uscc)
    keys = list(dict.fromkeys(given))
    try:
        _check_batch_role(principal, operation)
        purpose = _check_purpose(principal, purpose, keys)
    except DomainError as refusal:
        await log_refusal(d, principal, request, keys, purpose, operation, refusal)
        raise
    try:
        # BEGIN, one read, the log rows, COMMIT with the session reset: four round trips
        async with lean_transaction(d.pool) as conn:
            rows = await repository.lookup(conn, keys, principal.org_code, purpose)
            now = rows[0]["now"]  # the transaction's time, which the log rows carry
            views = await _decide(d, conn, principal, rows, purpose, now)
            entries = [
                _log_entry(operation, key, purpose, views.get(key)) for key in keys
            ]
            await _write_log(conn, principal, request, entries, now)
            if within is not None:
                await within(conn, views, now)
            ensure_client_waiting()  # a client gone before the commit: roll back, no log row
    except (AuditUnavailable, PolicyUnavailable, Busy, ClientGone):
        raise
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        log.error("lookup failed, nothing disclosed: %s", e)
        raise AuditUnavailable(
            _("the query could not be recorded, so nothing was disclosed; try again later")
        ) from e
    count_lookups(principal.roles, (e.outcome for e in entries))  # committed: metrics
    return [views.get(key) for key in given]


async def _write_log(conn, principal, request, entries, at) -> None:
    try:
        with trail_write_timer():  # metrics: credit_trail_write_seconds
            await record_queries(conn, principal, request, entries, at=at)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as e:
        log.error("query log write failed, nothing disclosed: %s", e)
        raise AuditUnavailable(
            _("the query log could not be written, so nothing was disclosed (Art. 21); "
            "try again later")
        ) from e


async def _decide(d, conn, principal, rows, purpose, now) -> dict[str, SubjectView]:
    """Each subject found (rows of repository.LOOKUP) as the policy lets this caller see it."""
    views: dict[str, SubjectView] = {}
    catalog = d.catalog
    for row in rows:
        key = row["key"]
        if key is None:  # no subject found: LOOKUP's one row of NULLs
            continue
        subject = StoredSubject(
            key=key,
            key_type=row["key_type"],
            subject_type=row["subject_type"],
            name=row["name"],
            status=row["status"],
        )
        records = []
        for rec_id, item_code, provider_org, decided_on, data, status, handlers in row["records"]:
            item = await catalog.get(item_code, conn)
            if item is None:  # cannot happen with the foreign key; refuse rather than guess
                raise PolicyUnavailable(_("catalog item {item_code} is not loaded", item_code=item_code))
            as_collected = catalog.item_for(item_code, decided_on)
            records.append(
                StoredRecord(
                    id=str(rec_id),
                    item=item,
                    provider_org=provider_org,
                    decided_on=decided_on,
                    data=json_loads(data),  # jsonb text: the values json.loads gives
                    status=status,
                    case_handlers=frozenset(handlers or ()),
                    collected_masks=as_collected.mask_spec if as_collected else MaskSpec(),
                )
            )
        authorizations = [
            Authorization(
                id=str(a_id),
                grantee_org=grantee_org,
                purpose=a_purpose,
                scope_items=frozenset(scope_items),
                scope_classes=frozenset(scope_classes),
                valid_from=valid_from,
                valid_until=valid_until,
                revoked_at=revoked_at,
            )
            for (a_id, grantee_org, a_purpose, scope_items, scope_classes, valid_from,
                 valid_until, revoked_at) in row["auths"]
        ]
        views[key] = disclose(
            policy=d.policy,
            principal=principal,
            subject=subject,
            records=records,
            authorizations=authorizations,
            purpose=purpose,
            now=now,
        )
    return views


def _log_entry(operation: str, key: str, purpose: str | None, view: SubjectView | None) -> LogEntry:
    if view is None:
        return LogEntry(operation, key, purpose, "not_found")
    return LogEntry(
        operation,
        key,
        purpose,
        view.outcome,
        disclosed=view.log_disclosed(),
        withheld=view.log_withheld(),
        authorization_ids=view.authorization_ids,
    )


async def log_refused_keys(
    d: Disclosure,
    principal: Principal,
    request: RequestInfo,
    raw_keys: list[str],
    purpose: str | None,
    operation: str,
    refusal: DomainError,
) -> None:
    """A request refused before its lookup (a malformed key among others, too many keys) is
    still logged against every subject it names."""
    keys = parseable_keys(raw_keys, d.legacy_uscc)
    if keys:
        await log_refusal(d, principal, request, keys, purpose, operation, refusal)


async def log_refusal(d, principal, request, keys, purpose, operation, refusal: DomainError):
    """A refused request that names subjects: one `refused` row per subject, in its own
    transaction (every path that refuses such a request calls this: schema, reports, checks,
    the rate limiter)."""
    purpose = purpose if purpose is None or len(purpose) <= MAX_PURPOSE_LENGTH else purpose[:MAX_PURPOSE_LENGTH]
    entries = [
        LogEntry(operation, key, purpose, "refused", reason=f"{refusal.code}: {refusal.message}")
        for key in keys
    ]
    try:
        async with transaction(d.pool) as conn:
            now = await conn.fetchval("SELECT now()")
            await _write_log(conn, principal, request, entries, now)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        raise AuditUnavailable(_("the refused query could not be recorded")) from e
    count_lookups(principal.roles, ("refused" for _entry in entries))
