"""Bulk file formats, read as a stream: a chunk of bytes in, the complete rows it finishes out,
so a file of millions of rows is never held in memory.

NDJSON (`application/x-ndjson`): one JSON object per line, with the keys of submitRecords'
RecordInput: subjectKey, subjectType, subjectName, itemCode, sourceRef, decidedOn, data, and
optionally documentType, consentRef, changeReason. subjectType is written as in GraphQL
(LEGAL_PERSON) or in lower case. decidedOn may be left out when the item's decision-date field
(cf_jdrq, xk_jdrq, ...) is in data.

CSV (`text/csv`, UTF-8, header row, RFC 4180 quoting): the same columns by the same names;
every other column is a data field named as in the catalog. An empty cell is an absent value."""

from __future__ import annotations

import csv
from collections.abc import Iterator

import orjson

from .validation import RecordInput, Rejection

MAX_LINE_BYTES = 1 << 20
BASE_KEYS = {
    "subjectKey": "subject_key",
    "subjectType": "subject_type",
    "subjectName": "subject_name",
    "itemCode": "item_code",
    "sourceRef": "source_ref",
    "decidedOn": "decided_on",
    "documentType": "document_type",
    "consentRef": "consent_ref",
    "changeReason": "change_reason",
}
_NDJSON_KEYS = frozenset({*BASE_KEYS, "data"})
Row = tuple[int, RecordInput | Rejection]


class FormatError(ValueError):
    """The file as a whole cannot be read (e.g. a CSV without the required columns)."""


def _record(values: dict, data) -> RecordInput:
    return RecordInput(
        subject_key=values.get("subject_key"),
        subject_type=values.get("subject_type"),
        subject_name=values.get("subject_name"),
        item_code=values.get("item_code"),
        source_ref=values.get("source_ref"),
        decided_on=values.get("decided_on") or None,
        data=data,
        document_type=values.get("document_type") or None,
        consent_ref=values.get("consent_ref") or None,
        change_reason=values.get("change_reason") or None,
    )


class _Lines:
    """Split a byte stream into numbered lines; a line longer than the limit comes out as None."""

    def __init__(self) -> None:
        self._buf = b""
        self._line = 0
        self._skipping = False

    def feed(self, chunk: bytes) -> Iterator[tuple[int, bytes | None]]:
        data = self._buf + chunk
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            self._line += 1
            if self._skipping or end - start > MAX_LINE_BYTES:
                self._skipping = False
                yield self._line, None
            else:
                yield self._line, data[start:end]
            start = end + 1
        self._buf = data[start:]
        if len(self._buf) > MAX_LINE_BYTES:
            self._buf = b""
            self._skipping = True

    def finish(self) -> Iterator[tuple[int, bytes | None]]:
        if self._skipping or len(self._buf) > MAX_LINE_BYTES:
            self._line += 1
            yield self._line, None
        elif self._buf.strip():
            self._line += 1
            yield self._line, self._buf
        self._buf = b""


_TOO_LONG = Rejection("line", "line_too_long", f"a line is longer than {MAX_LINE_BYTES} bytes")


def _text(raw: bytes, first: bool) -> str:
    text = raw.decode("utf-8")
    if first and text.startswith("\ufeff"):
        text = text[1:]
    return text.rstrip("\r")


class NdjsonReader:
    def __init__(self) -> None:
        self._lines = _Lines()

    def feed(self, chunk: bytes) -> list[Row]:
        return [r for n, raw in self._lines.feed(chunk) if (r := self._row(n, raw))]

    def finish(self) -> list[Row]:
        return [r for n, raw in self._lines.finish() if (r := self._row(n, raw))]

    @staticmethod
    def _row(n: int, raw: bytes | None) -> Row | None:
        if raw is None:
            return n, _TOO_LONG
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a byte-order mark
        if not raw.strip():
            return None
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            return n, Rejection("line", "syntax", f"the line is not a UTF-8 JSON object: {e}")
        if obj.__class__ is not dict:
            return n, Rejection("line", "syntax", "each line is one JSON object")
        if obj.keys() - _NDJSON_KEYS:
            unknown = sorted(obj.keys() - _NDJSON_KEYS)
            return n, Rejection(
                unknown[0], "unknown_field",
                f"{', '.join(unknown)} is not a record key (known: {', '.join(sorted(_NDJSON_KEYS))})",
            )
        for k in BASE_KEYS:
            v = obj.get(k)
            if v is not None and v.__class__ is not str:
                return n, Rejection(k, "text", f"{k} must be text")
        get = obj.get
        return n, RecordInput(
            subject_key=get("subjectKey"), subject_type=get("subjectType"),
            subject_name=get("subjectName"), item_code=get("itemCode"), source_ref=get("sourceRef"),
            decided_on=get("decidedOn") or None, data=get("data"),
            document_type=get("documentType") or None, consent_ref=get("consentRef") or None,
            change_reason=get("changeReason") or None,
        )


class CsvReader:
    def __init__(self) -> None:
        self._lines = _Lines()
        self._header: list[str] | None = None
        self._pending: list[str] = []
        self._pending_from = 0

    def feed(self, chunk: bytes) -> list[Row]:
        return self._rows(self._lines.feed(chunk))

    def finish(self) -> list[Row]:
        rows = self._rows(self._lines.finish())
        if self._pending:
            rows.append((self._pending_from, Rejection("line", "syntax", "a quoted value is never closed")))
            self._pending = []
        if self._header is None:
            raise FormatError("the CSV file is empty; the first line names the columns")
        return rows

    def _rows(self, lines) -> list[Row]:
        out: list[Row] = []
        for n, raw in lines:
            if raw is None:
                self._pending = []
                out.append((n, _TOO_LONG))
                continue
            try:
                text = _text(raw, n == 1)
            except UnicodeDecodeError:
                out.append((n, Rejection("line", "encoding", "the line is not UTF-8 text")))
                continue
            if not self._pending:
                self._pending_from = n
            self._pending.append(text)
            joined = "\n".join(self._pending)
            if joined.count('"') % 2:  # inside a quoted value that goes on on the next line
                if len(joined) > MAX_LINE_BYTES:
                    self._pending = []
                    out.append((self._pending_from, _TOO_LONG))
                continue
            self._pending = []
            if not joined.strip():
                continue
            try:
                cells = next(csv.reader([joined], strict=True))
            except csv.Error as e:
                out.append((self._pending_from, Rejection("line", "syntax", f"not a CSV row: {e}")))
                continue
            if self._header is None:
                self._set_header(cells)
                continue
            out.append((self._pending_from, self._record(cells)))
        return out

    def _set_header(self, cells: list[str]) -> None:
        header = [c.strip() for c in cells]
        missing = [k for k in ("subjectKey", "subjectType", "subjectName", "itemCode", "sourceRef") if k not in header]
        if missing:
            raise FormatError(f"the CSV header lacks the columns {', '.join(missing)}")
        if len(set(header)) != len(header) or "" in header:
            raise FormatError("the CSV header names each column once")
        self._header = header

    def _record(self, cells: list[str]) -> RecordInput | Rejection:
        if len(cells) != len(self._header):
            return Rejection(
                "line", "columns", f"the row has {len(cells)} cells but the header names {len(self._header)}"
            )
        values, data = {}, {}
        for name, cell in zip(self._header, cells, strict=True):
            if name in BASE_KEYS:
                values[BASE_KEYS[name]] = cell
            elif cell != "":
                data[name] = cell
        return _record(values, data)


def reader_for(content_type: str | None) -> NdjsonReader | CsvReader | None:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"):
        return NdjsonReader()
    if kind in ("text/csv", "application/csv"):
        return CsvReader()
    return None
