"""jsonb read through the pool's codec (api.db.json_loads: orjson with json.loads where they
could differ) gives the values json.loads gives, for every kind of number PostgreSQL may return."""

from __future__ import annotations

import json

import pytest

from api.db import json_loads

TEXTS = [
    '{"a": 1.5, "b": [true, false, null], "c": "é\\n\\u4e2d"}',
    "123456789012345678901234567890",  # beyond 64 bits: orjson would give a float
    "-123456789012345678901234567890",
    "9223372036854775807",
    "18446744073709551615",
    "999999999999999999",
    "-0",
    "1E5",
    "[1.0000000000000002, 5e-324, 0.1, 1e308, -0.0]",
    "1e400",
    '{"id": "110101199003074514", "n": 12345678901234567890123}',
]


@pytest.mark.parametrize("text", TEXTS)
def test_same_values_as_json_loads(text):
    got, want = json_loads(text), json.loads(text)
    assert got == want and repr(got) == repr(want)


async def test_jsonb_from_postgresql_keeps_big_integers(pool):
    async with pool.acquire() as conn:
        value = await conn.fetchval(
            "SELECT '{\"n\": 123456789012345678901234567890, \"f\": 0.1, \"s\": \"x\"}'::jsonb"
        )
    assert value == {"n": 123456789012345678901234567890, "f": 0.1, "s": "x"}
    assert isinstance(value["n"], int)
