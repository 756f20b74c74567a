"""create_app(): the ASGI application. The lifespan migrates the database, opens the pool and
loads the policy and the catalog; a token is checked before GraphQL sees the request."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .app_state import AppState
from .audit.http import ExportEndpoint
from .audit.upkeep import (
    ensure_partitions,
    keep_partitions_ahead,
    record_policy_version,
    seal_periodically,
)
from .auth.policy import Policy
from .auth.principal import RequestInfo
from .auth.tokens import TokenError, TokenVerifier
from .catalog import Catalog
from .config import Settings
from .db import create_pool, migrate, resolve_database_url
from .http_body import drain
from .ingestion.upload import BulkUpload
from .ratelimit import admit, open_rate_limiter
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
            body = json.dumps({"error": "invalid_token", "reason": str(e)}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", _www_authenticate(str(e))),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})
        scope["state"]["principal"] = principal
        scope["state"]["request_info"] = RequestInfo(
            request_id=_request_id(headers.get("x-request-id")),
            client_addr=_client_addr(scope, headers, state.settings.trusted_proxies),
        )
        if not await admit(scope, receive, send):  # per-caller rate limit: 429 (api/ratelimit.py)
            return
        await self.app(scope, receive, send)


def _www_authenticate(reason: str) -> bytes:
    safe = reason.replace('"', "'").encode("ascii", "replace")
    return b'Bearer error="invalid_token", error_description="' + safe + b'"'


def _request_id(given: str | None) -> str:
    if given:
        try:
            return str(uuid.UUID(given))
        except ValueError:
            pass
    return str(uuid.uuid4())


def _client_addr(scope: Scope, headers: dict[str, str], trusted: frozenset[str]) -> str | None:
    peer = scope.get("client")[0] if scope.get("client") else None
    forwarded = headers.get("x-forwarded-for")
    if peer in trusted and forwarded:
        first = forwarded.split(",")[0].strip()
        try:
            return str(ipaddress.ip_address(first))
        except ValueError:
            return peer
    return peer


def create_app(settings: Settings | None = None) -> Starlette:
    from schema import build_graphql_app  # schema imports api; keep the edge at the edge

    settings = settings or Settings.from_env()
    holder: dict[str, AppState] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        policy = Policy.load(settings.policy_dir)  # fail closed: no policy, no start
        dsn = resolve_database_url(settings)
        await migrate(dsn, settings.migrations_dir)
        await ensure_partitions(dsn)
        pool = await create_pool(
            dsn,
            audit_key=settings.audit_key,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
        )
        async with pool.acquire() as conn:
            await record_policy_version(conn, policy)
        sealer = asyncio.create_task(seal_periodically(pool, settings.audit_key))
        ahead = asyncio.create_task(keep_partitions_ahead(dsn))
        try:
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
            async with follow_calendar(dsn, state) as app.state.calendar_follower:
                yield
        finally:
            holder.pop("state", None)
            for task in (sealer, ahead):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await pool.close()

    def get_state() -> AppState:
        return holder["state"]

    async def health(request: Request) -> JSONResponse:
        state = holder.get("state")
        if state is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        try:
            async with state.pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        except Exception as e:  # report, do not raise: this is the health check
            return JSONResponse({"status": "database unavailable", "detail": str(e)}, status_code=503)
        return JSONResponse({"status": "ok"})

    graphql = TokenGate(build_graphql_app(get_state), get_state)
    return Starlette(
        routes=[
            Route("/", lambda request: RedirectResponse("/graphql")),
            Route("/health", health),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/audit/export", TokenGate(ExportEndpoint(get_state), get_state), methods=["GET"]),
            Route("/upload/records", TokenGate(BulkUpload(get_state), get_state), methods=["POST"]),
        ],
        lifespan=lifespan,
    )
