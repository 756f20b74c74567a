"""Keyset pages, the one convention for every unbounded list (README: Pagination).

A service fetches `first + 1` rows after a keyset position and hands back a `Page`: the rows
it shows, whether more follow, and one opaque cursor per row (base64 of the row's keyset
position, never an offset). `count`, where counting is cheap, is run only if the client asks
for `totalCount`. Pure: no I/O here."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import InvalidInput
from .i18n import _

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]  # one per item, same order
    has_next: bool
    has_previous: bool  # forward paging: true once an `after` was given
    count: Callable[[], Awaitable[int]] | None = None  # None: no totalCount (not cheap here)


def check_first(first: int, cap: int) -> None:
    """`first` is 1 to the list's cap; above it the request is refused, never silently cut."""
    if not 1 <= first <= cap:
        raise InvalidInput(_("first must be between 1 and {max_page}", max_page=cap), field="first", rule="range")


def page_of(
    rows: Sequence[R], first: int, cursor: Callable[[R], str], *, after: str | None,
    count: Callable[[], Awaitable[int]] | None = None,
) -> Page[R]:
    """The page from `first + 1` fetched rows: the extra row only says that more follow."""
    shown = list(rows[:first])
    return Page(shown, [cursor(r) for r in shown], len(rows) > first, after is not None, count)


def not_a_cursor() -> InvalidInput:
    return InvalidInput(_("after is not a cursor this API gave out"), field="after", rule="cursor")


def encode_cursor(kind: str, *parts: object) -> str:
    """An opaque cursor: `kind:part|part` in URL-safe base64."""
    return base64.urlsafe_b64encode(f"{kind}:{'|'.join(str(p) for p in parts)}".encode()).decode()


def decode_cursor(cursor: str, kind: str, n_parts: int) -> list[str]:
    """The parts of a cursor this API gave out for `kind`; anything else is refused on `after`."""
    try:
        got, _, rest = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        parts = rest.split("|")
        if got != kind or len(parts) != n_parts or not all(parts):
            raise ValueError
        return parts
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise not_a_cursor() from None


def time_key_cursor(kind: str, at: dt.datetime, key: object) -> str:
    """The cursor of a row ordered by (time DESC, key DESC)."""
    return encode_cursor(kind, at.isoformat(), key)


def time_key_after(
    after: str | None, kind: str, key: Callable[[str], object] = str
) -> tuple[dt.datetime | None, object]:
    """The keyset position of `after` (a time_key_cursor), or (None, None) from the start;
    `key` parses the tie-breaking key (e.g. uuid.UUID)."""
    if after is None:
        return None, None
    at, tie = decode_cursor(after, kind, 2)
    try:
        moment, parsed = dt.datetime.fromisoformat(at), key(tie)
        if moment.tzinfo is None:
            raise ValueError
    except ValueError:
        raise not_a_cursor() from None
    return moment, parsed
