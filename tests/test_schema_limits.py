"""The GraphQL edge refuses abusive documents before any resolver (or lookup) runs."""

from __future__ import annotations

from tests.conftest import log_rows


async def test_too_many_aliases_are_refused_even_when_repeated(gql, pool):
    fields = " ".join(f'a{i}: subject(key: "91130902MA0DEM0135") {{ key }}' for i in range(25))
    for _ in range(2):  # the second time the validation comes from the cache
        out = await gql("{ " + fields + " }")
        assert "aliases" in out["errors"][0]["message"]
        assert out.get("data") is None
    assert await log_rows(pool) == []


async def test_too_many_tokens_are_refused(gql):
    q = "{ purposes { " + " ".join(["code"] * 2100) + " } }"
    out = await gql(q)
    assert "token" in out["errors"][0]["message"].lower()
