"""CORS: the browser origins in CREDIT_CORS_ORIGINS may call the API (README "CORS"). Placed
inside the guard, so a preflight passes the guard's header limits and admission like any
request; tokens travel in the Authorization header, never in cookies, so no credentials mode."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from .config import Settings

MAX_AGE_SECONDS = 600  # how long a browser may reuse a preflight's answer


def cors_middleware(settings: Settings) -> list[Middleware]:
    """None when no origin is configured: a cross-origin preflight then gets 405, as before."""
    if not settings.cors_origins:
        return []
    return [Middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type"],
        expose_headers=["retry-after", "content-disposition"],
        max_age=MAX_AGE_SECONDS,
    )]
