"""Results that depend on a document's text alone, kept per text in a small bounded cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# the longest document text a cache keeps (the parser's, and the TextCaches below): a body may
# carry a 1 MiB document (a comment, a long string: the token limit does not bound its length),
# and 256 of them held 540 MB in each process; longer documents are parsed and checked each time
MAX_CACHED_TEXT = 32 << 10


class TextCache:
    """Results that depend on a document alone, keyed by its text and whatever else they
    depend on. Not keyed by the parsed document: graphql-core's nodes are frozen dataclasses,
    whose hash walks the whole tree on every call (~20 us for a small lookup query). A text
    longer than MAX_CACHED_TEXT is not kept."""

    def __init__(self, maxsize: int = 256):
        self.maxsize = maxsize
        self.entries: dict[Any, Any] = {}

    def get(self, key: Any, compute: Callable[[], Any], text: str) -> Any:
        if len(text) > MAX_CACHED_TEXT:
            return compute()
        try:
            return self.entries[key]
        except KeyError:
            pass
        value = compute()
        if len(self.entries) >= self.maxsize:
            self.entries.pop(next(iter(self.entries)))  # the oldest
        self.entries[key] = value
        return value
