"""Bulk file formats, read as a stream: a chunk of bytes in, the complete rows it finishes out,
so a file of millions of rows is never held in memory.

NDJSON (`application/x-ndjson`): one JSON object per line, with the keys of submitRecords'
RecordInput: subjectKey, subjectType, subjectName, itemCode, sourceRef, decidedOn, data, and
optionally documentType, consentRef, changeReason. subjectType is written as in GraphQL
(LEGAL_PERSON) or in lower case. decidedOn may be left out when the item's decision-date field
(cf_jdrq, xk_jdrq, ...) is in data.

CSV (`text/csv`, header row, RFC 4180 quoting): the same columns by the same names, or by their
Chinese names (api/ingestion/columns.py); every other column is a data field named by its code
or by its label in the catalog. An empty cell is an absent value.

Either is UTF-8 (a byte-order mark allowed), GBK or GB18030, declared or detected
(api/ingestion/encoding.py)."""

from __future__ import annotations

import csv
from collections.abc import Callable

import orjson

from ..i18n import _
from .columns import SUBJECT_TYPE_LABELS, base_key
from .encoding import FormatError, TextEncoding, charset_of, position
from .lines import MAX_LINE_BYTES, Lines
from .record import RecordInput, Rejection

# A file's columns: the record keys and the data fields of every item it may carry. A row's own
# fields are bounded by its item (validation: `too_many_fields`).
MAX_COLUMNS = 1000
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
FieldNames = Callable[[str], dict[str, str]]  # item code -> column name -> field name
__all__ = ["FormatError", "CsvReader", "NdjsonReader", "reader_for"]


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


def _too_long() -> Rejection:
    return Rejection("line", "line_too_long", _(
        "a line (or a quoted value spanning lines) is longer than {max} bytes", max=MAX_LINE_BYTES))


def _undecodable(encoding: TextEncoding, n: int, start: int, e: UnicodeDecodeError) -> Rejection:
    return Rejection("line", "encoding", _(
        "{where}: not {encoding} text (the encoding the file's start was read in, or declared: "
        "declare charset= if the file mixes encodings)", where=position(n, start + e.start),
        encoding=encoding.name))


def _show(names, limit: int = 5) -> str:
    """A few names for a message, each cut short: a message never grows with the input."""
    shown = [n if len(n) <= 40 else n[:40] + "…" for n in names[:limit]]
    more = f" (+{len(names) - limit})" if len(names) > limit else ""
    return ", ".join(shown) + more


class _Reader:
    """`feed` takes the file's bytes as they come; `read` those `encoding.take` handed on (the
    upload calls the two apart, to read a released sample a slice at a time)."""

    def __init__(self, encoding: TextEncoding | None = None) -> None:
        self.encoding = encoding or TextEncoding()
        self._lines = Lines()

    def feed(self, chunk: bytes) -> list[Row]:
        return self.read(self.encoding.take(chunk))

    def read(self, data: bytes) -> list[Row]:
        raise NotImplementedError


class NdjsonReader(_Reader):
    def read(self, data: bytes) -> list[Row]:
        return [r for n, raw, at in self._lines.feed(data) if (r := self._row(n, raw, at))]

    def finish(self) -> list[Row]:
        rows = self.read(self.encoding.finish())
        return rows + [r for n, raw, at in self._lines.finish() if (r := self._row(n, raw, at))]

    def _row(self, n: int, raw: bytes | None, at: int) -> Row | None:
        if raw is None:
            return n, _too_long()
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a byte-order mark
        if not raw.strip():
            return None
        if self.encoding.codec != "utf-8":
            try:
                raw = raw.decode(self.encoding.codec)
            except UnicodeDecodeError as e:
                return n, _undecodable(self.encoding, n, at, e)
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            return n, Rejection("line", "syntax", _("the line is not a UTF-8 JSON object: {error}", error=e))
        if obj.__class__ is not dict:
            return n, Rejection("line", "syntax", _("each line is one JSON object"))
        if obj.keys() - _NDJSON_KEYS:
            unknown = [k for k in obj if k not in _NDJSON_KEYS]  # in file order; never sorted
            return n, Rejection(
                unknown[0][:200], "unknown_field",
                _("{names} is not a record key (known: {known})", names=_show(unknown),
                  known=", ".join(sorted(_NDJSON_KEYS))),
            )
        for k in BASE_KEYS:
            v = obj.get(k)
            if v is not None and v.__class__ is not str:
                return n, Rejection(k, "text", _("{key} must be text", key=k))
        get = obj.get
        return n, RecordInput(
            subject_key=get("subjectKey"), subject_type=get("subjectType"),
            subject_name=get("subjectName"), item_code=get("itemCode"), source_ref=get("sourceRef"),
            decided_on=get("decidedOn") or None, data=get("data"),
            document_type=get("documentType") or None, consent_ref=get("consentRef") or None,
            change_reason=get("changeReason") or None,
        )


class CsvReader(_Reader):
    """Rows end where a line ends outside a quoted value. Whether a quote is open is kept as the
    parity of the quotes seen since the row began (counted once per line, on the bytes), so a
    value spanning many lines costs its length once; the row's lines, decoded, then go through
    the standard `csv` reader (strict RFC 4180), which must find exactly one row in them.

    `field_names` (item code -> column -> field name, columns.field_names) lets data columns be
    named by their labels; each item's mapping of the header is made once."""

    def __init__(self, encoding: TextEncoding | None = None, field_names: FieldNames | None = None) -> None:
        super().__init__(encoding)
        self._field_names = field_names
        self._data_names: dict[str, dict[str, str]] = {}  # item code -> column -> field name
        self._header: list[str] | None = None
        self._pending: list[str] = []  # the decoded lines of the row being read
        self._pending_from = 0
        self._pending_bytes = 0
        self._open = False  # a quoted value is open at the end of the last line
        self._bad: Rejection | None = None  # the row being read is already refused

    def read(self, data: bytes) -> list[Row]:
        return self._rows(self._lines.feed(data))

    def finish(self) -> list[Row]:
        rows = self.read(self.encoding.finish())
        rows += self._rows(self._lines.finish())
        if self._open:
            rows.append((self._pending_from, self._bad or Rejection(
                "line", "syntax", _("a quoted value is never closed"))))
            self._reset()
        if self._header is None:
            raise FormatError(_("the CSV file is empty; the first line names the columns"))
        return rows

    def _reset(self) -> None:
        self._pending, self._pending_bytes, self._open, self._bad = [], 0, False, None

    def _rows(self, lines) -> list[Row]:
        out: list[Row] = []
        for n, raw, at in lines:
            if not self._open:
                self._pending_from = n
            if raw is None:
                # an overlong line: the row it belongs to is refused; the next line starts afresh
                self._reset()
                out.append((n, _too_long()))
                continue
            if raw.count(b'"') % 2:
                self._open = not self._open
            self._pending_bytes += len(raw) + 1
            if self._bad is None:
                if self._pending_bytes > MAX_LINE_BYTES:
                    self._bad, self._pending = _too_long(), []
                else:
                    try:
                        text = raw.decode(self.encoding.codec)
                    except UnicodeDecodeError as e:
                        self._bad, self._pending = _undecodable(self.encoding, n, at, e), []
                    else:
                        if n == 1 and text.startswith("\ufeff"):
                            text = text[1:]  # a byte-order mark
                        self._pending.append(text.removesuffix("\r") + "\n")
            if self._open:
                continue  # the quoted value goes on on the next line
            pending, bad, first = self._pending, self._bad, self._pending_from
            self._reset()
            if bad is not None:
                out.append((first, bad))
                continue
            if len(pending) == 1 and not pending[0].strip():
                continue  # a blank line
            try:
                found = list(csv.reader(pending, strict=True))
            except csv.Error as e:
                out.append((first, Rejection("line", "syntax", _("not a CSV row: {error}", error=e))))
                continue
            if len(found) != 1:
                out.append((first, Rejection(
                    "line", "syntax", _("a quote inside an unquoted value: quote the whole value"))))
                continue
            if self._header is None:
                self._set_header(found[0])
                continue
            out.append((first, self._record(found[0])))
        return out

    def _set_header(self, cells: list[str]) -> None:
        header = [base_key(c.strip()) for c in cells]
        missing = [k for k in ("subjectKey", "subjectType", "subjectName", "itemCode", "sourceRef") if k not in header]
        if missing:
            raise FormatError(_("the CSV header lacks the columns {columns}", columns=", ".join(missing)))
        if len(set(header)) != len(header) or "" in header:
            raise FormatError(_("the CSV header names each column once"))
        if len(header) > MAX_COLUMNS:
            raise FormatError(_("too many CSV columns: the header names {count}, at most {max}",
                                count=len(header), max=MAX_COLUMNS))
        self._header = header

    def _record(self, cells: list[str]) -> RecordInput | Rejection:
        if len(cells) != len(self._header):
            return Rejection(
                "line", "columns", _("the row has {cells} cells but the header names {columns}",
                                     cells=len(cells), columns=len(self._header))
            )
        values, data = {}, {}
        for name, cell in zip(self._header, cells, strict=True):
            if name in BASE_KEYS:
                values[BASE_KEYS[name]] = cell
            elif cell != "":
                data[name] = cell
        kind = values.get("subject_type")
        if kind in SUBJECT_TYPE_LABELS:
            values["subject_type"] = SUBJECT_TYPE_LABELS[kind]
        if self._field_names is not None and data:
            mapped = self._by_field_name(values.get("item_code") or "", data)
            if isinstance(mapped, Rejection):
                return mapped
            data = mapped
        return _record(values, data)

    def _by_field_name(self, item_code: str, data: dict[str, str]) -> dict[str, str] | Rejection:
        names = self._data_names.get(item_code)
        if names is None:
            if len(self._data_names) >= MAX_COLUMNS:  # item codes are the file's: bound the cache
                self._data_names.clear()
            known = self._field_names(item_code)
            names = self._data_names[item_code] = {h: known.get(h, h) for h in self._header}
        out: dict[str, str] = {}
        for column, value in data.items():
            field = names[column]
            if field in out:  # a field's label and its code both given: refuse, never pick one
                twin = next(c for c in data if c != column and names[c] == field)
                return Rejection("line", "columns", _(
                    "the columns {first} and {second} both name the field {field}; give only one",
                    first=twin, second=column, field=field))
            out[field] = value
        return out


def reader_for(content_type: str | None, field_names: FieldNames | None = None) -> NdjsonReader | CsvReader | None:
    """The reader for a Content-Type, in its declared charset; FormatError for an unknown one."""
    kind = (content_type or "").split(";")[0].strip().lower()
    encoding = TextEncoding(charset_of(content_type))
    if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"):
        return NdjsonReader(encoding)
    if kind in ("text/csv", "application/csv"):
        return CsvReader(encoding, field_names)
    return None
