"""The committed schema.graphql is the schema the code serves (a portal builds against it)."""

from __future__ import annotations

from schema.contract import CONTRACT, sdl


def test_the_committed_contract_is_the_served_schema():
    assert CONTRACT.exists(), "schema.graphql is missing: python3 dev.py credit schema export"
    assert CONTRACT.read_text(encoding="utf-8") == sdl(), (
        "schema.graphql differs from the code: run `python3 dev.py credit schema export` and "
        "review the change (a removed or renamed field breaks portals)")


def test_the_contract_names_the_root_operations():
    text = CONTRACT.read_text(encoding="utf-8")
    for field in ("subject(", "subjects(", "queryLog(", "submitRecords("):
        assert field in text
