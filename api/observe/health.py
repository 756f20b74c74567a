"""Liveness and readiness. Live: the process answers. Ready: it can serve a lookup honestly —
the database answers, the trail's current month takes rows of both retention classes, the
policy and the catalog are loaded, and sealing keeps up (CREDIT_AUDIT_SEAL_WINDOW).

Writability is proved, not guessed: one row of each class is inserted into the trail as the
app's own role, signed as any row is, inside a transaction that is then rolled back. A missing
or detached month partition, a revoked grant or a read-only database fail the insert exactly as
they would fail a lookup; nothing is committed, so no row claims a query that did not happen
(an id of the trail's sequence is used up, as by any lookup that rolls back)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from ..audit.repository import trail_row, write_rows
from ..auth.principal import Principal, RequestInfo
from .metrics import SEAL_LAG

PROBE = Principal(user_id="credit-readiness-probe", name="readiness probe", org_code=None,
                  org_name=None, roles=("public",))

# the oldest of (at most) the first 1000 rows not yet covered by a seal, by transaction id: the
# trail's xact index, one short range per month partition
SEAL_LAG_SQL = """
SELECT coalesce(extract(epoch FROM clock_timestamp() - min(at)), 0)::float8 FROM (
    SELECT at FROM query_log
    WHERE xact >= coalesce((SELECT xact_to FROM audit_seals ORDER BY seq DESC LIMIT 1), '0'::xid8)
    ORDER BY xact LIMIT 1000) unsealed
"""


async def seal_lag(conn, timeout: float) -> float:
    lag = float(await conn.fetchval(SEAL_LAG_SQL, timeout=timeout))
    SEAL_LAG.set(lag)
    return lag


async def _probe_trail(conn) -> None:
    """Both classes' partitions for now take a row; rolled back whatever happens."""
    now = dt.datetime.now(dt.UTC)
    request = RequestInfo(request_id="00000000-0000-0000-0000-000000000000", client_addr=None,
                          channel="health")
    rows = [trail_row(PROBE, request, now, kind="query", operation="readiness", subject_key=None,
                      outcome="not_found", retention=retention)
            for retention in ("three_years", "long_term")]
    tx = conn.transaction()
    await tx.start()
    try:
        await write_rows(conn, rows)
    finally:
        await tx.rollback()


async def readiness(state, limits, seal_window: int) -> tuple[bool, dict[str, Any]]:
    """(ready, what was checked): each check is "ok" or says what failed."""
    if state is None:
        return False, {"status": "starting", "checks": {"app": "policy, catalog and pool not loaded yet"}}
    checks: dict[str, Any] = {
        "policy": "ok" if state.policy is not None else "not loaded",
        "catalog": "ok" if state.catalog is not None else "not loaded",
    }
    timeout = limits.acquire_timeout_seconds
    try:
        async with asyncio.timeout(timeout * 3), state.pool.acquire(timeout=timeout) as conn:
            await conn.fetchval("SELECT 1", timeout=timeout)
            checks["database"] = "ok"
            try:
                await _probe_trail(conn)
                checks["trail_writable"] = "ok"
            except Exception as e:  # noqa: BLE001 the check reports, it does not raise
                checks["trail_writable"] = _first_line(e)
            lag = await seal_lag(conn, timeout)
            checks["seal_lag_seconds"] = round(lag, 3)
            if lag > seal_window:
                checks["sealing"] = f"oldest unsealed trail row is {lag:.0f} s old (window {seal_window} s)"
            else:
                checks["sealing"] = "ok"
    except Exception as e:  # noqa: BLE001
        what = _first_line(e) or "timed out"
        checks.setdefault("database", what)
        checks.setdefault("trail_writable", "not checked" if checks["database"] != "ok" else what)
        checks.setdefault("sealing", "not checked" if checks["database"] != "ok" else what)
    failed = [k for k, v in checks.items() if k != "seal_lag_seconds" and v != "ok"]
    body: dict[str, Any] = {"status": "ok" if not failed else "unavailable", "checks": checks}
    if failed:
        body["failed"] = failed
    return not failed, body


class SharedReadiness:
    """/health/ready is open to anyone and outside admission (it must answer when busy), so one
    check serves every caller: requests arriving while it runs wait for it and get its answer
    (reused `fresh_for` seconds more if set; the app reuses none, so a failure shows at once).
    However hard it is polled, readiness holds at most one pool connection, and the rows it
    writes and rolls back are two per check, never two per request."""

    def __init__(self, check, fresh_for: float = 0.0):
        self.check = check  # async () -> (ready, body)
        self.fresh_for = fresh_for
        self.checks_run = 0
        self._running: asyncio.Task | None = None
        self._last: tuple[float, tuple[bool, dict[str, Any]]] | None = None

    async def __call__(self) -> tuple[bool, dict[str, Any]]:
        loop = asyncio.get_running_loop()
        if self._last is not None and loop.time() - self._last[0] < self.fresh_for:
            return self._last[1]
        if self._running is None:
            self._running = loop.create_task(self._run())
        # shielded: a caller that leaves does not cancel the check the others wait for
        return await asyncio.shield(self._running)

    async def _run(self) -> tuple[bool, dict[str, Any]]:
        try:
            self.checks_run += 1
            result = await self.check()
            self._last = (asyncio.get_running_loop().time(), result)
            return result
        finally:
            self._running = None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".strip()
