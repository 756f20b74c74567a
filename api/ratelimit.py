"""Per-caller rate limits (Art. 34: access control per person), with the `limits` library.

A caller is its organisation and user (from the token), or, anonymous, its client address (as
the query log records it). Each role has its limits in `limits` notation (`5/second;60/minute`),
changed with `CREDIT_RATE_LIMIT_<ROLE>` (`none`: no limit for that role); a caller with several
roles gets its most generous role's. Counts live in memory (one process) or, with
`CREDIT_RATE_LIMIT_STORAGE=redis://...`, in Redis, shared by every process using it.

`admit` is called by the TokenGate once the caller is known, before the endpoint reads the body:
a caller over its rate gets 429 with Retry-After and code RATE_LIMITED, nothing else runs. For
/graphql the refused body is read (bounded) and parsed only to log the refusal for each subject
it named, by the disclosure's own refusal log. A counter store that fails refuses (503): fail
closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

import orjson
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from starlette.types import Receive, Scope, Send

from .auth.principal import Principal, RequestInfo
from .config import ConfigError, Settings
from .errors import DomainError
from .http_body import drain
from .i18n import _

log = logging.getLogger("credit.ratelimit")

# per role: public lowest; those who query in the course of their work (state organs, credit
# services, providers uploading) higher; the platform's offices and auditors in between
DEFAULT_LIMITS = {
    "public": "5/second;60/minute",
    "subject": "5/second;120/minute",
    "state_organ": "20/second;1200/minute",
    "credit_service": "20/second;1200/minute",
    "provider": "20/second;1200/minute",
    "credit_office": "10/second;600/minute",
    "data_office": "10/second;600/minute",
    "auditor": "10/second;600/minute",
}
REFUSED_BODY_BYTES = 1 << 20  # a refused /graphql body is read this far to log its subjects
REFUSED_BODY_SECONDS = 2.0
# a refused body is parsed only if one of these root fields may be in it ("subject" covers
# "subjects"; a JSON \u escape could hide a name, so one makes the body parsed too)
SUBJECT_FIELD_NAMES = (b"subject", b"jointPunishmentBasis", b"myCredit", b"\\u")
STORE_TIMEOUT = 1.0  # seconds for the counter store to answer before the request is refused


class RateLimited(DomainError):
    code = "RATE_LIMITED"


class RateLimitUnavailable(DomainError):
    code = "RATE_LIMIT_UNAVAILABLE"


class RateLimiter:
    def __init__(self, settings: Settings):
        roles = {**DEFAULT_LIMITS, **dict(settings.rate_limits)}
        try:
            self.limits: dict[str, list[RateLimitItem]] = {
                role: [] if text.strip().lower() == "none" else parse_many(text)
                for role, text in roles.items()
            }
        except ValueError as e:
            raise ConfigError(f"CREDIT_RATE_LIMIT_<ROLE>: {e}") from e
        self.storage = _storage(settings)
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        # the in-process store never waits on anything: no timeout (asyncio.wait_for makes a
        # task and a timer per request); a network store has it
        self.timeout = None if settings.rate_limit_storage == "memory://" else STORE_TIMEOUT

    def caller(self, principal: Principal, request: RequestInfo) -> tuple[str, list[RateLimitItem]]:
        """Who is counted, and against which limits (the most generous of the caller's roles)."""
        if principal.anonymous:
            who = f"addr:{request.client_addr or 'unknown'}"
        else:
            who = f"user:{principal.org_code or '-'}:{principal.user_id}"
        candidates = [self.limits.get(r, self.limits["public"]) for r in principal.roles]
        return who, max(candidates or [self.limits["public"]], key=_generosity)

    async def retry_after(self, principal: Principal, request: RequestInfo) -> int | None:
        """Count one request; None if it is within the caller's limits, else the seconds to
        wait. Raises if the counter store cannot answer in time."""
        who, items = self.caller(principal, request)
        for item in items:
            hit = self.strategy.hit(item, who)
            if not await (hit if self.timeout is None else asyncio.wait_for(hit, self.timeout)):
                stats = await asyncio.wait_for(
                    self.strategy.get_window_stats(item, who), STORE_TIMEOUT
                )
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None


def _generosity(items: list[RateLimitItem]) -> float:
    """Requests per second allowed by the tightest of a role's limits (no limit: infinite)."""
    if not items:
        return math.inf
    return min(i.amount / i.get_expiry() for i in items)


def _storage(settings: Settings) -> Storage:
    url = settings.rate_limit_storage
    prefix = f"{settings.rate_limit_prefix}:rate"
    if url.startswith(("redis://", "rediss://", "unix://")):
        return storage_from_string(
            "async+" + url.replace("unix://", "redis+unix://"),
            implementation="redispy",
            key_prefix=prefix,
            wrap_exceptions=True,
            socket_timeout=STORE_TIMEOUT,
            socket_connect_timeout=STORE_TIMEOUT,
        )
    if url == "memory://":
        return storage_from_string("async+memory://")
    raise ConfigError(f"CREDIT_RATE_LIMIT_STORAGE {url!r}: use memory:// or redis://host:port/db")


async def open_rate_limiter(settings: Settings) -> RateLimiter | None:
    """At start-up (None when CREDIT_RATE_LIMIT=off): a store that does not answer stops the
    start, as a wrong setting should."""
    if not settings.rate_limit_enabled:
        return None
    limiter = RateLimiter(settings)
    try:
        ok = await asyncio.wait_for(limiter.storage.check(), STORE_TIMEOUT * 5)
    except Exception as e:
        raise ConfigError(f"CREDIT_RATE_LIMIT_STORAGE does not answer: {e!r}") from e
    if not ok:
        raise ConfigError(f"CREDIT_RATE_LIMIT_STORAGE {settings.rate_limit_storage!r} does not answer")
    return limiter


async def admit(scope: Scope, receive: Receive, send: Send) -> bool:
    """True if the request may go on; otherwise the refusal has been sent."""
    app_state = getattr(scope.get("app"), "state", None)
    limiter: RateLimiter | None = getattr(app_state, "rate_limiter", None)
    if limiter is None:  # rate limits turned off (CREDIT_RATE_LIMIT=off)
        return True
    principal: Principal = scope["state"]["principal"]
    request: RequestInfo = scope["state"]["request_info"]
    refusal: DomainError
    try:
        wait = await limiter.retry_after(principal, request)
    except Exception as e:  # the store is down or slow: refuse rather than run uncounted
        log.error("rate limit store unavailable, request refused: %r", e)
        status, wait = 503, 5
        refusal = RateLimitUnavailable(
            _("the rate limit store is unavailable; try again later")
        )
    else:
        if wait is None:
            return True
        status = 429
        refusal = RateLimited(
            _("rate limit exceeded for this caller; retry after {wait} s", wait=wait),
            rule="rate_limit",
        )
    body = None
    if scope["path"] == "/graphql":
        body = await _read_body(receive)
        if body is not None and any(name in body for name in SUBJECT_FIELD_NAMES):
            await _log_named(scope, body, refusal)
    if body is None:  # not read whole: take what is still coming (bounded) before answering
        await drain(receive)
    await _refuse(scope, send, status, refusal, wait)
    return False


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, if it arrives whole within the bounds; else None."""
    chunks: list[bytes] = []
    size = 0

    async def read() -> bool:
        nonlocal size
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return False
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > REFUSED_BODY_BYTES:
                return False
            if not message.get("more_body", False):
                return True

    with contextlib.suppress(TimeoutError):
        if await asyncio.wait_for(read(), REFUSED_BODY_SECONDS):
            return b"".join(chunks)
    return None


# A caller over its rate may repeat a request many times a second: each repeat is refused, but
# only the first refusal per caller and subject within REPEAT_WINDOW is written to the log (in
# this process), so a flood of refused requests cannot turn into a flood of log writes. The
# row says so. Bounded: at most REPEATS_KEPT (caller, subject) pairs are remembered.
REPEAT_WINDOW = 10.0
REPEATS_KEPT = 20_000
_recent: dict[tuple[str, str], float] = {}


def _first_in_window(caller: str, keys: list[str], now: float) -> list[str]:
    if len(_recent) > REPEATS_KEPT:
        for k in [k for k, at in _recent.items() if now - at > REPEAT_WINDOW] or list(_recent)[: REPEATS_KEPT // 2]:
            _recent.pop(k, None)
    fresh = [k for k in keys if now - _recent.get((caller, k), -REPEAT_WINDOW - 1) > REPEAT_WINDOW]
    for k in fresh:
        _recent[(caller, k)] = now
    return fresh


async def _log_named(scope: Scope, body: bytes, refusal: DomainError) -> None:
    """Log the refusal for each subject the refused GraphQL document named (the first refusal
    per caller and subject within REPEAT_WINDOW seconds)."""
    from graphql import GraphQLError, parse

    from schema.context import Context
    from schema.named_subjects import named_subjects

    state = scope["app"].state.credit
    try:
        request = orjson.loads(body)
        document = parse(request["query"], max_tokens=2000)  # the schema's token limit
        ctx = Context(state=state, principal=scope["state"]["principal"],
                      request=scope["state"]["request_info"])
        named = named_subjects(document, request.get("operationName"), request.get("variables"),
                               ctx.principal.subject_key)
    except (orjson.JSONDecodeError, GraphQLError, KeyError, TypeError, AttributeError):
        return  # not a GraphQL request the schema would have run: it named no one
    p, info = ctx.principal, ctx.request
    caller = f"{p.org_code}/{p.user_id}" if p.user_id else f"ip:{info.client_addr}"
    distinct = ctx.distinct(named)
    fresh = set(_first_in_window(caller, list(distinct), asyncio.get_running_loop().time()))
    named = [n for key, n in distinct.items() if key in fresh]
    if not named:
        return
    refusal = type(refusal)(_("{message} (repeats for the same subject within {seconds} s are not logged "
                              "again)", message=refusal.message, seconds=int(REPEAT_WINDOW)),
                            field=refusal.field, rule=refusal.rule)
    with contextlib.suppress(DomainError):  # a log that cannot be written still refuses
        await ctx.refuse(named, refusal)


async def _refuse(scope: Scope, send: Send, status: int, refusal: DomainError, retry_after: int) -> None:
    code, message = refusal.code, refusal.message
    error = {"message": message, "extensions": {"code": code, "retryAfter": retry_after}}
    body = {"data": None, "errors": [error]} if scope["path"] == "/graphql" else {
        "error": code.lower(), "reason": message, "retryAfter": retry_after}
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"retry-after", str(retry_after).encode()),
        ],
    })
    await send({"type": "http.response.body", "body": orjson.dumps(body)})
