"""The floor under any Python HTTP server for the lookup: `python bench/lookup.py --app
bench.floor:app` serves this instead of the platform.

A bare ASGI app (no framework, no GraphQL, no token check, no policy, no masking) that answers
the bench's POST with the raw phase's work: BEGIN, the LOOKUP read, the signed log row through
`record_queries`, COMMIT with the session reset (api.db.lean_transaction), on the same pool set-up
as the server's, and the subject's records as JSON. What it costs per lookup is what uvicorn,
the JSON body and asyncpg's four round trips cost before the platform does anything of its own;
its lookups/s against the raw ceiling bounds what any platform on this stack can reach."""

from __future__ import annotations

import os
import uuid

import orjson

from api.audit.repository import LogEntry, record_queries
from api.auth.principal import Principal, RequestInfo
from api.db import create_pool, lean_transaction
from api.disclosure.repository import LOOKUP

PRINCIPAL = Principal(user_id="bench", name="floor", org_code="91130900MA0CRD1T4K",
                      org_name="floor", roles=("credit_service",))
_state: dict = {}


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["method"] == "GET":  # /health
        await _answer(send, 200, b'{"status":"ok"}')
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    variables = orjson.loads(body)["variables"]
    key, purpose = variables["k"], variables["p"]
    async with lean_transaction(_state["pool"]) as conn:
        rows = await conn.fetch(LOOKUP, [key], PRINCIPAL.org_code, purpose)
        row = rows[0]
        records = [{"id": str(r[0]), "item": {"code": r[1]}, "decidedOn": r[3].isoformat(),
                    "data": orjson.loads(r[4]), "status": r[5]} for r in row["records"]]
        entry = LogEntry("subject", key, purpose, "disclosed",
                         disclosed=[{"record": r["id"], "item": r["item"]["code"],
                                     "basis": "authorization"} for r in records],
                         authorization_ids=[str(a[0]) for a in row["auths"]])
        request = RequestInfo(request_id=str(uuid.uuid4()), client_addr=scope["client"][0])
        await record_queries(conn, PRINCIPAL, request, [entry], at=row["now"])
    answer = {"data": {"subject": {"key": key, "name": row["name"], "records": records,
                                   "withheld": []}}}
    await _answer(send, 200, orjson.dumps(answer))


async def _answer(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _state["pool"] = await create_pool(
                os.environ["DATABASE_URL"], audit_key=os.environ["CREDIT_AUDIT_KEY"].encode(),
                max_size=int(os.environ.get("CREDIT_POOL_MAX_SIZE", "10")),
            )
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await _state["pool"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return
