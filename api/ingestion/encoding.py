"""The text encoding of an uploaded file: UTF-8 (with or without a byte-order mark), GBK or
GB18030 — Excel on Chinese Windows saves "CSV" in GBK (code page 936).

Declared (`charset=` on the Content-Type, `credit ingest --encoding`) or detected on the first
`DETECT_BYTES` from its first non-ASCII byte (ASCII reads the same in all three, so it is handed
on undecided): a UTF-8 byte-order mark means UTF-8; else strict UTF-8 if the sample is UTF-8,
else GB18030 (a superset of GBK, so every GBK file reads the same). The sample is held (bounded)
until the choice is made — when it is complete, at the end of the file, or when the upload has
held it for a second (a slow stream is answered as it comes); no row of it is read before, so a
file that declares one encoding and is text in another is refused before any of its non-ASCII
rows is stored. Stray bytes that no supported encoding reads refuse only their rows.

A byte stream can be cut into lines, and a line's quotes counted, before decoding: in UTF-8,
GBK and GB18030 the bytes of a multibyte character are all >= 0x30 (GB18030's digits-range
bytes appear only as 2nd/4th byte), so `\\n`, `\\r`, `"` and `,` never occur inside one. Each
complete line is then decoded on its own; a character cut between two chunks is whole again
once its line is. A line further on that does not decode is refused with its line and byte
offset (the choice made on the sample stands)."""

from __future__ import annotations

import codecs
import time

from ..i18n import _

DETECT_BYTES = 64 << 10
BOM = codecs.BOM_UTF8
# the names a Content-Type may give -> the codec used
_CODECS = {
    "utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8-sig",
    "gbk": "gbk", "cp936": "gbk", "gb2312": "gbk", "x-gbk": "gbk", "gb18030": "gb18030",
}
SUPPORTED = ("utf-8", "utf-8-sig", "gbk", "gb18030")


class FormatError(ValueError):
    """The file as a whole cannot be read (e.g. a CSV without the required columns)."""


def codec_named(name: str | None) -> str | None:
    """The codec for a declared charset; None when none is declared. FormatError when unknown."""
    if name is None or not name.strip():
        return None
    codec = _CODECS.get(name.strip().strip('"').lower())
    if codec is None:
        raise FormatError(_("unsupported charset {name}; use utf-8, gbk or gb18030", name=repr(name[:40])))
    return codec


def charset_of(content_type: str | None) -> str | None:
    """The `charset` parameter of a Content-Type, if any."""
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value
    return None


def position(line: int, offset: int) -> str:
    """Where a byte is, for a message: its line and its byte offset in the file (from 0)."""
    return _("line {line}, byte offset {offset}", line=line, offset=offset)


def _undecodable(sample: bytes, codec: str, final: bool) -> UnicodeDecodeError | None:
    try:
        # incremental: a character cut at the end of the sample is not an error unless final
        codecs.getincrementaldecoder(codec)("strict").decode(sample, final)
    except UnicodeDecodeError as e:
        return e
    return None


class TextEncoding:
    """`take` holds the bytes until the encoding is chosen, then hands them on; `name` is the
    encoding used (reported to the uploader), `codec` the one each line is decoded with."""

    def __init__(self, declared: str | None = None):
        self.declared = codec_named(declared)
        self.name: str | None = None
        self.codec = "utf-8"
        self.held_since: float | None = None  # time.monotonic() when the sample began
        self._held: list[bytes] = []
        self._size = 0
        self._passed = 0  # ASCII bytes handed on before the sample
        self._passed_lines = 0

    def take(self, chunk: bytes) -> bytes:
        if self.name is not None:
            return chunk
        if not self._held and chunk.isascii():
            self._passed += len(chunk)
            self._passed_lines += chunk.count(b"\n")
            return chunk
        if not self._held:
            self.held_since = time.monotonic()
        self._held.append(chunk)
        self._size += len(chunk)
        return self._choose(final=False) if self._size >= DETECT_BYTES else b""

    def decide(self) -> bytes:
        """Choose on what is held so far (the upload's timer); hand it on."""
        return b"" if self.name is not None or not self._held else self._choose(final=False)

    def finish(self) -> bytes:
        return b"" if self.name is not None else self._choose(final=True)

    def _where(self, sample: bytes, offset: int) -> str:
        return position(1 + self._passed_lines + sample.count(b"\n", 0, offset), self._passed + offset)

    def _choose(self, final: bool) -> bytes:
        sample = b"".join(self._held)
        self._held, self._size, self.held_since = [], 0, None
        self.name = self._decide(sample, final)
        self.codec = "utf-8" if self.name == "utf-8-sig" else self.name
        return sample

    def _decide(self, sample: bytes, final: bool) -> str:
        declared = self.declared
        if sample.startswith(BOM):
            if declared not in (None, "utf-8", "utf-8-sig"):
                raise FormatError(_("the file starts with a UTF-8 byte-order mark but declares "
                                    "charset={declared}", declared=declared))
            declared = "utf-8-sig"
        if declared is not None:
            problem = _undecodable(sample, declared, final)
            if problem is None:
                return declared
            other = next((c for c in ("utf-8", "gb18030") if c != declared
                          and _undecodable(sample, c, final) is None), None)
            if other is not None:
                raise FormatError(_("the file declares charset={declared} but is {other} text ({where} is "
                                    "not {declared}); declare charset={other} or leave it out",
                                    declared=declared, other=other, where=self._where(sample, problem.start)))
            return declared  # stray bytes, not another encoding: their rows are refused
        if _undecodable(sample, "utf-8", final) is None:
            return "utf-8"
        if _undecodable(sample, "gb18030", final) is None:
            return "gb18030"
        return "utf-8"  # neither: rows with stray bytes are refused one by one, as UTF-8
