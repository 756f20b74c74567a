"""The language of user-facing messages: Chinese (zh_CN) unless the request asks for English.

Messages are gettext messages: the msgid in code is English, `api/locale/zh_CN/LC_MESSAGES/
messages.po` translates every one of them, English is the msgid itself. The .po files are the
only source: they are compiled in memory (Babel) the first time a locale is used, so a fresh
clone, `pip install -e .` and a wheel all work without a build step, and no stale .mo exists.

The locale is per request: LocaleMiddleware picks it from Accept-Language (q-values honoured,
Babel's negotiate_locale) and sets a context variable that `_()` reads. Outside a request
(CLI, jobs) it is the default, zh_CN, or what `use_locale` sets."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import io
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from babel import negotiate_locale
from babel.dates import format_date
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.types import ASGIApp, Receive, Scope, Send

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"
DEFAULT = "zh_CN"
SOURCE = "en"  # the language of the msgids: needs no catalog
SUPPORTED = (DEFAULT, SOURCE)
MAX_TAGS = 32  # Accept-Language tags read; browsers send a handful

_current: contextvars.ContextVar[str] = contextvars.ContextVar("credit_locale", default=DEFAULT)


@cache
def translations(locale: str) -> NullTranslations:
    """The catalog of a locale, compiled from its .po once per process."""
    if locale == SOURCE:
        return NullTranslations()
    buf = io.BytesIO()
    write_mo(buf, _catalog(locale))
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def _param(value: object, locale: str) -> object:
    # dates as each language writes them; numbers stay as written (years, counts, limits)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return format_date(value, format="long", locale=locale)
    return value


def _(message: str, /, **params: object) -> str:
    """The message in the current request's language, its {params} filled in."""
    return _translated(message, params)


def _translated(message: str, params: dict[str, object]) -> str:
    locale = _current.get()
    text = translations(locale).gettext(message)
    if not params:
        return text
    return text.format(**{k: _param(v, locale) for k, v in params.items()})


def stored_(msgid: str, /, **params: object) -> str:
    """`_()` for a msgid held in a variable (written earlier with N_(), kept, read back): only
    one of this version's messages is formatted, since a format string from anywhere else could
    read attributes of its parameters (`{0.__class__}`). Any other raises ValueError."""
    if not is_message(msgid):
        raise ValueError(f"not a message of this version: {msgid[:80]!r}")
    return _translated(msgid, params)


def is_message(msgid: str) -> bool:
    """Whether `msgid` is one of this version's messages (the default catalog holds them all:
    tests/test_i18n.py keeps it so)."""
    return msgid in _catalog_ids()


@cache
def _catalog_ids() -> frozenset[str]:
    return frozenset(m.id for m in _catalog(DEFAULT) if m.id)


@cache
def _catalog(locale: str) -> Catalog:
    """A locale's .po, read once per process (its translations and its msgids)."""
    with (LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as f:
        return read_po(f, locale=locale, domain=DOMAIN)


def current_locale() -> str:
    """The locale messages are written in now (the request's, or the default)."""
    return _current.get()


def N_(message: str, /) -> str:
    """Marks a message translated later (a constant, a table): extracted, returned as is."""
    return message


def negotiate(accept_language: str | None) -> str:
    """The locale for an Accept-Language header (RFC 9110 12.5.4): its tags by q-value, then
    Babel's negotiate_locale against the catalogs. Any Chinese tag reads zh_CN; no header, or
    none that matches, is the default (zh_CN). Only the first MAX_TAGS tags are read: 8,000
    one-letter tags (a 16 KiB header) cost 6 ms a request once the cache had been flushed."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",", MAX_TAGS)[:MAX_TAGS]):
        tag, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _eq, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and tag != "*" and q > 0:
            ranked.append((-q, i, tag.replace("-", "_")))
    preferred = [DEFAULT if tag.lower().startswith("zh") else tag for _q, _i, tag in sorted(ranked)]
    found = negotiate_locale(preferred, list(SUPPORTED), aliases=None)
    if found is None:
        return DEFAULT
    # negotiate_locale answers with the client's spelling (`en-US` gave `en`, `EN` stays `EN`)
    language = found.lower().split("_")[0]
    return next(s for s in SUPPORTED if s.lower().split("_")[0] == language)


@contextlib.contextmanager
def use_locale(locale: str) -> Iterator[None]:
    token = _current.set(locale if locale in SUPPORTED else DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


class LocaleMiddleware:
    """Outermost: every answer of the request, the guard's refusals included, is in its locale."""

    def __init__(self, app: ASGIApp):
        self.app = app
        translations(DEFAULT)  # compiled while the app starts, not in the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k.lower() == b"accept-language"), None)
        token = _current.set(DEFAULT if header is None else _negotiated(header))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


_seen: dict[bytes, str] = {}  # Accept-Language values seen, negotiated once (bounded below)


def _negotiated(header: bytes) -> str:
    locale = _seen.get(header)
    if locale is None:
        if len(_seen) >= 256:  # a client making up headers: start again rather than grow
            _seen.clear()
        locale = _seen[header] = negotiate(header.decode("latin-1"))
    return locale
