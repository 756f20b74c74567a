"""Messages written now and read later, in the reader's language: the notifications outbox.

A `Wording` is a sequence of gettext parts (an N_()-marked msgid and its parameters), stored as
JSON beside the English text and rendered with `_()` when someone reads it, so the credit office
reads Chinese and an English-speaking reader English, whoever wrote it in whichever language.
A parameter is plain JSON (text, numbers, booleans, null), a date (shown as the reader's
language writes dates) or another Wording (a translated fragment: "record X of Y", an outcome).
Text someone typed (a reason, a note) is a parameter and is shown as typed, never translated.

    wording(N_("Objection {n}: the provider answered."), n="YY-2026-0001")
        + wording(N_(" Inform the subject by {due}."), due=dt.date(2026, 10, 9))"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .i18n import SOURCE, stored_, use_locale

Part = tuple[str, dict[str, Any]]
MAX_DEPTH = 4  # wordings inside wordings: code nests two deep ("record X of Y" in a repair text)
MAX_PARTS = 16


@dataclass(frozen=True)
class Wording:
    parts: tuple[Part, ...]

    def __add__(self, other: Wording) -> Wording:
        return Wording(self.parts + other.parts)

    def render(self) -> str:
        """In the current locale (the request's). A part whose msgid the catalog does not hold
        (a stored wording from another version, or one written by hand) is refused: its text
        would be a format string nobody reviewed."""
        return "".join(stored_(msgid, **{k: _shown(v) for k, v in params.items()})
                       for msgid, params in self.parts)

    def english(self) -> str:
        """The text as written in code: what the `message` column keeps."""
        with use_locale(SOURCE):
            return self.render()

    def dump(self) -> list[list[Any]]:
        return [[msgid, {k: _dump(v) for k, v in params.items()}] for msgid, params in self.parts]

    @classmethod
    def load(cls, raw: Any, _depth: int = 0) -> Wording:
        """From `dump()`'s JSON; anything of another shape, or nested deeper than code nests
        (MAX_DEPTH) or longer than MAX_PARTS, is refused with ValueError."""
        if _depth > MAX_DEPTH or not isinstance(raw, list) or len(raw) > MAX_PARTS:
            raise ValueError("not a stored wording")
        parts = []
        for part in raw:
            if not (isinstance(part, list) and len(part) == 2 and isinstance(part[0], str)
                    and isinstance(part[1], dict)):
                raise ValueError("not a stored wording")
            msgid, params = part
            parts.append((msgid, {str(k): _load(v, _depth) for k, v in params.items()}))
        return cls(tuple(parts))


def wording(msgid: str, /, **params: Any) -> Wording:
    """One part; `msgid` marked with N_() where it is written (the extractor finds it there)."""
    for name, value in params.items():
        if isinstance(value, dt.datetime) or not isinstance(value, Wording | dt.date | str | int | float | bool | None):
            raise TypeError(f"{name}: a wording's parameter is text, a number, a day or a wording")
    return Wording(((msgid, params),))


def _shown(value: Any) -> Any:
    if isinstance(value, Wording):
        return value.render()
    return "" if value is None else value


def _dump(value: Any) -> Any:
    if isinstance(value, Wording):
        return {"wording": value.dump()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    return value


def _load(value: Any, depth: int) -> Any:
    if isinstance(value, dict):
        if "wording" in value:
            return Wording.load(value["wording"], depth + 1)
        if "date" in value:
            return dt.date.fromisoformat(value["date"])
    return value
