"""Auditors' read of the query log (Art. 41). Auditors see log rows, never record content."""

from __future__ import annotations

import base64

import asyncpg

from ..auth.principal import Principal
from ..errors import Forbidden, InvalidInput
from .repository import LogFilter, read_log

MAX_PAGE = 500


def encode_cursor(log_id: int) -> str:
    return base64.urlsafe_b64encode(f"log:{log_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "log":
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("after is not a cursor this API gave out", field="after", rule="cursor") from None


async def query_log_page(
    pool: asyncpg.Pool, principal: Principal, f: LogFilter, *, first: int, after: str | None
) -> tuple[list[asyncpg.Record], bool]:
    """A page of log rows (newest first) and whether more follow."""
    if not principal.has("auditor"):
        raise Forbidden("only auditors read the query log", rule="auditor_role")
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE}", field="first", rule="range")
    after_id = decode_cursor(after) if after else None
    async with pool.acquire() as conn:
        rows = await read_log(conn, f, first=first + 1, after_id=after_id)
    return rows[:first], len(rows) > first
