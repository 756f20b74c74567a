"""Masks applied to record data for viewers who may not see identity numbers unmasked (the
policy's `p3` lines): what to mask comes from the catalog's field tags, what an identity number
looks like from GB 11643. Pure; every place record data leaves the platform calls `mask_data`.

- `id_number` fields: the whole value masked (`110102********0078`).
- `person_name` fields (a natural person whatever the subject, e.g. 法定代表人): `张*`.
- `subject_name` fields (the counterpart's own name, 行政相对人名称): `张*` when the subject is a
  natural person, as `Subject.name` is.
- the names above, repeated in another field's prose, masked there too (exact spelling only).
- every other text: each 18-digit resident ID number with a valid check character is masked
  wherever it appears, in any script's digits (full-width ０-９ included); in `free_text` fields
  and fields the catalog does not define, so is each 15-digit legacy number (a run of exactly
  15 digits that reads as region, 19YYMMDD and sequence)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from ..identifiers import mask_document_number, mask_resident_id, resident_id_check_char

ID_NUMBER = "id_number"
PERSON_NAME = "person_name"
SUBJECT_NAME = "subject_name"
FREE_TEXT = "free_text"


@dataclass(frozen=True)
class MaskSpec:
    """Which fields of an item hold what; `known` is every field the catalog defines."""

    id_numbers: frozenset[str] = frozenset()
    person_names: frozenset[str] = frozenset()
    subject_names: frozenset[str] = frozenset()
    free_text: frozenset[str] = frozenset()
    known: frozenset[str] = frozenset()

    @classmethod
    def of(cls, tags: dict[str, str | None]) -> MaskSpec:
        """From field name -> sensitivity tag."""
        pick = lambda tag: frozenset(k for k, t in tags.items() if t == tag)  # noqa: E731
        return cls(pick(ID_NUMBER), pick(PERSON_NAME), pick(SUBJECT_NAME), pick(FREE_TEXT),
                   frozenset(tags))

    def __or__(self, other: MaskSpec) -> MaskSpec:
        """Both definitions' masks (the item now and as collected): a retag never unmasks."""
        return MaskSpec(
            self.id_numbers | other.id_numbers,
            self.person_names | other.person_names,
            self.subject_names | other.subject_names,
            self.free_text | other.free_text,
            self.known | other.known,
        )


def mask_name(name: str) -> str:
    """张伟 -> 张*: the surname only."""
    return name[:1] + "*" * max(len(name) - 1, 1)


def _digit(c: str) -> str | None:
    """The ASCII digit a character stands for (any script's decimal digit), X for x/X/ｘ/Ｘ."""
    if c in "xXｘＸ":
        return "X"
    d = unicodedata.decimal(c, None)
    return None if d is None else str(d)


def _plausible_birth(yyyymmdd: str, today: dt.date) -> bool:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return born.year >= 1880 and born <= today


def is_resident_id(ascii18: str, today: dt.date) -> bool:
    """17 ASCII digits and a digit or X, a real birth date and the right check character."""
    return (
        len(ascii18) == 18
        and ascii18[:17].isdigit()
        and ascii18[0] != "0"
        and (ascii18[17].isdigit() or ascii18[17] == "X")
        and _plausible_birth(ascii18[6:14], today)
        and resident_id_check_char(ascii18[:17]) == ascii18[17]
    )


def is_legacy_id(ascii15: str, today: dt.date) -> bool:
    """A 15-digit first-generation number: region (first digit 1-8), 19YYMMDD, sequence."""
    return (
        len(ascii15) == 15
        and ascii15.isdigit()
        and ascii15[0] in "12345678"
        and _plausible_birth("19" + ascii15[6:12], today)
    )


# A run of digits (any script: `\d` is Unicode category Nd), maybe ending in an X, long enough
# to hold an ID number: X is only ever a check character, so no number spans one.
_RUN = re.compile(r"\d{15,}[XxＸｘ]?")
_X = "XxＸｘ"
# Where an 18-character window of a normalised run could start: region, a birth date of
# 1880-2099 shape, sequence, check character. is_resident_id decides.
_CANDIDATE = re.compile(
    r"(?=[1-9]\d{5}(?:18[89]\d|19\d\d|20\d\d)(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX])",
    re.ASCII,
)


def mask_ids_in_text(text: str, *, legacy: bool = False, today: dt.date | None = None) -> str:
    """Every resident ID number in `text` masked (and, with `legacy`, every 15-digit one).
    Linear in the text: a regular expression finds the runs of digits that could hold one,
    and each position of a run starts at most one 18-character window."""
    if not _RUN.search(text):
        return text
    today = today or dt.date.today()
    return _RUN.sub(lambda m: _mask_run(m.group(), legacy, today), text)


def _mask_run(run: str, legacy: bool, today: dt.date) -> str:
    n = len(run)
    if n < 18 and not (legacy and n - (run[-1] in _X) == 15):
        return run  # too short for either kind of number
    norm = run.upper() if run.isascii() else "".join(_digit(c) or "?" for c in run)
    out: list[str] = list(run)
    free_from = 0
    for m in _CANDIDATE.finditer(norm):  # windows whose birth date could be real, at C speed
        i = m.start()
        if i < free_from:
            continue  # overlaps a masked number: it contains a '*' now
        candidate = norm[i : i + 18]
        if is_resident_id(candidate, today):
            out[i : i + 18] = list(mask_resident_id(candidate))
            free_from = i + 14  # the kept last four digits may begin another number
    masked = "".join(out)
    return _mask_legacy(masked, today) if legacy else masked


_LEGACY_RUN = re.compile(r"(?<!\d)\d{15}(?!\d)")  # exactly 15 digits; X and '*' bound it


def _mask_legacy(text: str, today: dt.date) -> str:
    """Runs of exactly 15 digits (X is not part of a legacy number) that read as an ID."""

    def one(m: re.Match[str]) -> str:
        run = m.group() if m.group().isascii() else "".join(_digit(c) or "?" for c in m.group())
        return run[:6] + "*" * 6 + run[-3:] if is_legacy_id(run, today) else m.group()

    return _LEGACY_RUN.sub(one, text)


def mask_value(value: Any, *, legacy: bool, today: dt.date | None = None) -> Any:
    """Text masked; a whole number long enough to be an ID number is masked as text."""
    if isinstance(value, str):
        return mask_ids_in_text(value, legacy=legacy, today=today)
    if isinstance(value, int) and not isinstance(value, bool) and 15 <= len(str(abs(value))) <= 18:
        text = str(value)
        masked = mask_ids_in_text(text, legacy=True, today=today)
        return value if masked == text else masked
    return value


def mask_data(
    data: dict[str, Any],
    spec: MaskSpec,
    *,
    natural_person: bool,
    subject_name: str | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """A record's data as a viewer without `p3` sees it. The names the record hides (the
    subject's own if it is a natural person, and every person_name value) are also masked
    where the prose of another field repeats them."""
    today = today or dt.date.today()
    hidden: dict[str, str] = {}
    if natural_person and subject_name:
        hidden[subject_name] = mask_name(subject_name)
    for k, v in data.items():
        if isinstance(v, str) and v and (k in spec.person_names or (natural_person and k in spec.subject_names)):
            hidden[v] = mask_name(v)
    repeat = sorted((n for n in hidden if len(n) >= 2), key=len, reverse=True)  # 张伟强 before 张伟
    out: dict[str, Any] = {}
    for k, v in data.items():
        if v is None or v == "":
            out[k] = v
        elif k in spec.id_numbers:
            out[k] = mask_document_number(unicodedata.normalize("NFKC", str(v)).upper())
        elif k in spec.person_names or (natural_person and k in spec.subject_names):
            out[k] = mask_name(str(v))
        else:
            legacy = k in spec.free_text or k not in spec.known
            masked = mask_value(v, legacy=legacy, today=today)
            if isinstance(masked, str):
                for name in repeat:
                    masked = masked.replace(name, hidden[name])
            out[k] = masked
    return out
