"""The limits are read from the environment once, with defaults; a bad value stops start-up."""

from __future__ import annotations

import pytest

from api.config import ConfigError, Limits


def test_defaults_hold_without_variables():
    limits = Limits.from_env({})
    assert limits == Limits()
    assert limits.max_body_graphql == 1 << 20 and limits.max_header_bytes == 16 << 10


def test_each_limit_is_read_from_its_variable():
    limits = Limits.from_env({"CREDIT_MAX_BODY_GRAPHQL": "2048", "CREDIT_BODY_IDLE_SECONDS": "2.5",
                              "CREDIT_MAX_EXPORTS": "3"})
    assert (limits.max_body_graphql, limits.body_idle_seconds, limits.max_exports) == (2048, 2.5, 3)


@pytest.mark.parametrize("raw", ["0", "-1", "lots", "1.5"])
def test_a_limit_that_is_not_a_positive_number_of_its_kind_is_refused(raw):
    with pytest.raises(ConfigError, match="CREDIT_MAX_IN_FLIGHT"):
        Limits.from_env({"CREDIT_MAX_IN_FLIGHT": raw})
