"""LocaleMiddleware negotiates each Accept-Language value once (api/i18n.py `_negotiated`): the
answers are negotiate()'s, and a client sending ever new values does not grow the cache."""

from __future__ import annotations

from api import i18n


def test_cached_answers_are_negotiates():
    for header in ("en-US,en;q=0.9", "zh-CN", "fr, en;q=0.5", "de", "EN", "en;q=0"):
        first = i18n._negotiated(header.encode("latin-1"))
        assert first == i18n._negotiated(header.encode("latin-1")) == i18n.negotiate(header)


def test_the_cache_stays_bounded():
    for n in range(1000):
        assert i18n._negotiated(f"x-{n}, en;q=0.{n % 9 + 1}".encode()) == "en"
    assert len(i18n._seen) <= 256
