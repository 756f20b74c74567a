"""Text the platform can store. PostgreSQL text and jsonb cannot hold NUL, and other control
characters have no business in a key, a name, a reference or a value: tab, line feed and
carriage return are text; every other C0/C1 control character and lone surrogates are not.
Used by the GraphQL input check (schema/text_input.py) and by record validation for uploads
(api/ingestion/validation.py), so a file cannot carry what a request may not."""

from __future__ import annotations

import re
from typing import Any

ALLOWED_CONTROLS = frozenset("\t\n\r")

# every C0/C1 control character but tab, line feed and carriage return, and lone surrogates
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def bad_character(text: str) -> tuple[int, str] | None:
    """The first character that cannot be stored, with its position, or None (one regular
    expression search: C speed over every string of a large submission)."""
    m = _UNSTORABLE.search(text)
    return (m.start(), m.group()) if m else None


def first_unstorable(value: Any, path: str) -> tuple[str, int, str] | None:
    """(path, position, character) of the first unstorable character in a JSON-like value, keys
    included; iterative, linear in the value."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, v = stack.pop()
        if v.__class__ is str:
            if (found := bad_character(v)) is not None:
                return (where, *found)
        elif isinstance(v, dict):
            for k, item in v.items():
                key = str(k)
                if (found := bad_character(key)) is not None:
                    return (f"{where}.{key.encode('unicode_escape').decode()}", *found)
                stack.append((f"{where}.{key}", item))
        elif isinstance(v, (list, tuple)):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(v))
    return None
