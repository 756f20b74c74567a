"""The platform under attack (bench/abuse.py): uvicorn started as `credit serve` does, its
health waited for, the throw-away database seeded with the demo and a long trail, tokens."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

from abuse_attacks import exchange

from api import demo
from api.audit.repository import LogEntry, record_queries
from api.auth.principal import Principal, RequestInfo
from api.auth.tokens import mint_token
from api.cli import TOKEN_PRESETS
from api.config import Settings
from api.db import create_pool
from api.db_migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
AUDIT_KEY = "bench-audit-key-" + "a" * 40
TRAIL_ROWS = 60_000


def start_server(env: dict[str, str], port: int, log_path: Path):
    import subprocess

    code = ("import uvicorn; from api.guard.protocol import BoundedHttpToolsProtocol as P; "
            f"uvicorn.run('api.asgi:app', host='127.0.0.1', port={port}, log_level='warning', "
            "access_log=False, http=P)")
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)


async def healthy(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = await exchange(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                           timeout=max(0.2, deadline - time.monotonic()))
        if r.get("status") == 200:
            return True
        await asyncio.sleep(0.2)  # polling for health, bounded by `seconds`
    return False


async def seed(dsn: str, settings: Settings) -> None:
    await migrate(dsn, settings.migrations_dir)
    pool = await create_pool(dsn, audit_key=settings.audit_key)
    try:
        await demo.seed_demo(pool)
        who = Principal(user_id="bench-trail", name="bench", org_code=None, org_name=None,
                        roles=("credit_service",))
        entries = [LogEntry("subject", demo.COMPANY, "loan_review", "not_found", reason="x" * 200)] * 1000
        async with pool.acquire() as conn:
            for _ in range(TRAIL_ROWS // len(entries)):
                async with conn.transaction():
                    await record_queries(conn, who, RequestInfo(str(uuid.uuid4()), "127.0.0.1"),
                                         entries, at=await conn.fetchval("SELECT now()"))
    finally:
        await pool.close()


def tokens(settings: Settings) -> dict[str, str]:
    def mint(role: str) -> str:
        claims = {**TOKEN_PRESETS[role], "roles": [role], "sub": f"bench-{role}"}
        return mint_token(settings, {k: v for k, v in claims.items() if v is not None}, ttl_seconds=7200)

    return {"agency": mint("credit_service"), "provider": mint("provider"), "auditor": mint("auditor")}
