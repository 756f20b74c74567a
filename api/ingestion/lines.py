"""A byte stream cut into numbered lines, however its chunks fall (formats.py reads them)."""

from __future__ import annotations

from collections.abc import Iterator

MAX_LINE_BYTES = 1 << 20  # a line, or a row whose quoted values span lines

Line = tuple[int, bytes | None, int]  # number, bytes (None: too long), offset in the file


class Lines:
    """Split a byte stream into numbered lines; a line longer than the limit comes out as None.
    Linear however the bytes are cut: a partial line is kept in pieces and only the new chunk is
    searched for its end."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._line = 0
        self._skipping = False
        self._fed = 0  # bytes before the chunk being split
        self._start = 0  # file offset of the line being read

    def feed(self, chunk: bytes) -> Iterator[Line]:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            self._line += 1
            if self._skipping or self._size + end - start > MAX_LINE_BYTES:
                yield self._line, None, self._start
            elif self._parts:
                self._parts.append(chunk[start:end])
                yield self._line, b"".join(self._parts), self._start
            else:
                yield self._line, chunk[start:end], self._start
            self._parts, self._size, self._skipping = [], 0, False
            start = end + 1
            self._start = self._fed + start
        self._fed += len(chunk)
        rest = len(chunk) - start
        if self._skipping or self._size + rest > MAX_LINE_BYTES:
            self._parts, self._size, self._skipping = [], 0, True
        elif rest:
            self._parts.append(chunk[start:])
            self._size += rest

    def finish(self) -> Iterator[Line]:
        if self._skipping:
            self._line += 1
            yield self._line, None, self._start
        elif self._parts:
            tail = b"".join(self._parts)
            if tail.strip():
                self._line += 1
                yield self._line, tail, self._start
        self._parts, self._size, self._skipping = [], 0, False
