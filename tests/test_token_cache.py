"""Verified tokens are remembered until they expire; nothing else is."""

from __future__ import annotations

import time

import pytest

from api.auth.tokens import TokenError, TokenVerifier
from tests.conftest import token


def test_a_verified_token_is_remembered_until_it_expires(settings):
    verifier = TokenVerifier(settings)
    good = token(settings, "auditor")
    principal = verifier.verify(good)
    assert verifier._verified[good][0] is principal
    assert verifier.verify(good) is principal
    assert verifier._verified[good][1] <= time.time() + 3600


def test_a_refused_token_is_never_remembered(settings):
    verifier = TokenVerifier(settings)
    bad = token(settings, "auditor")[:-4] + "AAAA"
    for _ in range(2):
        with pytest.raises(TokenError):
            verifier.verify(bad)
    assert bad not in verifier._verified


def test_an_expired_entry_is_checked_again(settings):
    verifier = TokenVerifier(settings)
    forged = "not.a.token"
    principal = verifier.verify(token(settings, "auditor"))
    verifier._verified[forged] = (principal, time.time() - 1)  # as if it had just expired
    with pytest.raises(TokenError):
        verifier.verify(forged)
    assert forged not in verifier._verified


def test_the_cache_is_bounded(settings):
    verifier = TokenVerifier(settings, cache_size=3)
    tokens = [token(settings, "auditor", sub=f"u{i}") for i in range(5)]
    for t in tokens:
        verifier.verify(t)
    assert list(verifier._verified) == tokens[-3:]
