"""create_app(): the ASGI application. The lifespan migrates the database, opens the pool and
loads the policy and the catalog; a token is checked before GraphQL sees the request."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .app_state import AppState
from .audit.http import ExportEndpoint
from .audit.records_check import seal_legacy_records
from .audit.upkeep import (
    ensure_partitions,
    keep_partitions_ahead,
    record_policy_version,
    seal_periodically,
)
from .auth.policy import Policy
from .auth.policy_reload import follow_policy
from .auth.request_info import request_info
from .auth.tokens import TokenError, TokenVerifier
from .authorizations.evidence import DocumentRead, DocumentUpload
from .authorizations.lifecycle import apply_exemptions
from .catalog import Catalog
from .config import Settings
from .cors import cors_middleware
from .db import create_pool
from .db_login import app_login_dsn
from .db_migrate import migrate
from .db_server import resolve_database_url
from .guard.middleware import Guard
from .http_body import drain
from .i18n import LocaleMiddleware
from .ingestion.upload import BulkUpload
from .operations import PersistedOperations
from .observe import metrics as observe_metrics
from .observe import tracing
from .observe.access import Observe
from .observe.health import SharedReadiness, readiness
from .observe.logs import access_log_on
from .observe.scrape import MetricsAccess, metrics_endpoint
from .ratelimit import admit, open_rate_limiter
from .reports.http import routes as report_routes
from .workdays.service import follow_calendar, open_calendar

log = logging.getLogger("credit.app")


class TokenGate:
    """Resolve the caller before GraphQL runs: no header is the public role; a bad token is a
    401 with the reason, never an anonymous request."""

    def __init__(self, app: ASGIApp, get_state):
        self.app = app
        self.get_state = get_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: AppState = self.get_state()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            principal = state.verifier.principal_from_header(headers.get("authorization"))
        except TokenError as e:
            await drain(receive)  # an uploading client then reads the reason, not a reset
            body = json.dumps({"error": "invalid_token", "reason": e.reason()},  # request's language
                              ensure_ascii=False).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json; charset=utf-8"),
                        (b"www-authenticate", _www_authenticate(str(e))),  # English, ASCII
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})
        scope["state"]["principal"] = principal
        scope["state"]["request_info"] = request_info(scope, headers, state.settings.trusted_proxies)
        if not await admit(scope, receive, send):  # per-caller rate limit: 429 (api/ratelimit.py)
            return
        await self.app(scope, receive, send)


def _www_authenticate(reason: str) -> bytes:
    safe = reason.replace('"', "'").encode("ascii", "replace")
    return b'Bearer error="invalid_token", error_description="' + safe + b'"'


def create_app(settings: Settings | None = None) -> Starlette:
    from schema import build_graphql_app  # schema imports api; keep the edge at the edge
    from schema.graphiql import assets_route

    settings = settings or Settings.from_env()
    holder: dict[str, AppState] = {}
    limits = settings.limits
    guard = Guard(None, limits)
    exports: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        policy = Policy.load(settings.policy_dir, settings.legacy_uscc)  # fail closed: no policy, no start
        dsn = resolve_database_url(settings)
        await migrate(dsn, settings.migrations_dir)
        await ensure_partitions(dsn)
        pool = await create_pool(
            dsn,
            audit_key=settings.audit_key,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            acquire_timeout=limits.acquire_timeout_seconds,
            lock_timeout_ms=limits.lock_timeout_ms,
            statement_timeout_ms=limits.statement_timeout_ms,
        )
        # exports (long readers) get their own few connections, never the lookups' and sealer's
        exports["pool"] = await create_pool(
            dsn, audit_key=settings.audit_key, min_size=0, max_size=limits.max_exports,
            acquire_timeout=limits.acquire_timeout_seconds, lock_timeout_ms=limits.lock_timeout_ms,
            application_name="credit-export",
        )
        unhook = guard.hook_signals()
        async with pool.acquire() as conn:
            await record_policy_version(conn, policy)
        await seal_legacy_records(pool)  # once, for rows written before migration 0007
        sealer = asyncio.create_task(seal_periodically(pool, settings.audit_key))
        ahead = asyncio.create_task(keep_partitions_ahead(dsn))
        sampler = asyncio.create_task(_sample_pool(pool))  # metrics: pool gauges (all workers)
        try:
            await apply_exemptions(pool, settings.authorizations.exempt_purposes)  # Art. 19
            catalog = Catalog(pool)
            await catalog.reload()
            state = AppState(
                settings=settings,
                pool=pool,
                policy=policy,
                catalog=catalog,
                verifier=TokenVerifier(settings),
                calendar=await open_calendar(pool),
            )
            holder["state"] = state
            app.state.credit = state
            app.state.rate_limiter = await open_rate_limiter(settings)
            async with (
                follow_calendar(app_login_dsn(dsn), state) as app.state.calendar_follower,
                follow_policy(app_login_dsn(dsn), state, settings) as app.state.policy_follower,
            ):
                # what start-up built lives as long as the process: kept out of the collector's
                # way, a full collection during a large upload takes ~2 ms instead of ~60 ms
                gc.collect()
                gc.freeze()
                yield
        finally:
            holder.pop("state", None)
            for task in (sealer, ahead, sampler):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            unhook()
            await exports.pop("pool").close()
            await pool.close()
            observe_metrics.process_exited()

    def get_state() -> AppState:
        return holder["state"]

    shared_readiness = SharedReadiness(
        lambda: readiness(holder.get("state"), limits, settings.audit_seal_window_seconds))

    metrics_access = MetricsAccess.from_env()

    async def ready(request: Request) -> JSONResponse:  # README "Watching it run"
        ok, body = await shared_readiness()
        if not metrics_access.sees_details(request.scope, settings.trusted_proxies):
            body = {k: v for k, v in body.items() if k != "checks"}  # no database error texts
        return JSONResponse(body, status_code=200 if ok else 503)

    async def live(request: Request) -> JSONResponse:
        return JSONResponse({"status": "live"})

    operations = PersistedOperations.from_settings(settings)  # a broken manifest: no start
    graphql = TokenGate(build_graphql_app(get_state, operations), get_state)
    return Starlette(
        routes=[
            Route("/", lambda request: RedirectResponse("/graphql")),
            Route("/health", ready),  # the old name: readiness
            Route("/health/ready", ready),
            Route("/health/live", live),
            Route("/metrics", metrics_endpoint(lambda: holder.get("state"), metrics_access)),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            assets_route(),
            Route("/audit/export", TokenGate(ExportEndpoint(get_state, lambda: exports["pool"], guard.stopping), get_state), methods=["GET"]),
            Route("/upload/records", TokenGate(BulkUpload(get_state), get_state), methods=["POST"]),
            Route("/authorizations/documents", TokenGate(DocumentUpload(get_state), get_state), methods=["POST"]),
            Route("/authorizations/{id}/document", TokenGate(DocumentRead(get_state), get_state), methods=["GET"]),
            *report_routes(get_state, lambda endpoint: TokenGate(endpoint, get_state)),
        ],
        lifespan=lifespan,
        # outermost: request id, X-Request-Id, access line and metrics for every answer; then the
        # locale (the guard's refusals are in the asker's language), the guard's limits and
        # admission; CORS inside the guard
        middleware=[Middleware(Observe, access=access_log_on(), tracer=tracing.setup()),
                    Middleware(LocaleMiddleware), Middleware(guard.wrap), *cors_middleware(settings)],
    )


async def _sample_pool(pool, every: float = 5.0) -> None:
    """The pool's gauges, kept current in each process (multiprocess mode reads them from files;
    a scrape also samples the process it reaches)."""
    while True:
        observe_metrics.sample_pool(pool)
        await asyncio.sleep(every)
