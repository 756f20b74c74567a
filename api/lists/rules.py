"""Whether a list entry is in force (Art. 25, 39): pure.

An entry is made by a provider under its published identification rule and rests on named
records. It is in force from `listed_from` through `listed_until` (inclusive) while its state is
`listed` and every basis record still stands as it was listed: a basis record repaired (Art. 39)
or deleted (Art. 38, 40) removes the ground of the entry, and one corrected since (a new version,
Art. 38) suspends it until the provider lists it again on the corrected record. A disputed basis
record does not suspend it (the objection is shown with its mark)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

KINDS = {"red": "守信红名单", "black": "失信黑名单"}
END_STATES = ("exited", "removed")


@dataclass(frozen=True)
class BasisRecord:
    id: str
    status: str | None  # None: no such record any more
    version: int | None
    listed_version: int


@dataclass(frozen=True)
class EntryFacts:
    state: str
    listed_from: dt.date
    listed_until: dt.date | None
    basis: tuple[BasisRecord, ...]


def standing(facts: EntryFacts, today: dt.date) -> tuple[str, str | None]:
    """(status, why): `in_force`, `pending` (not yet from), `expired`, `exited`, `removed`,
    `basis_repaired`, `basis_deleted`, `basis_corrected`."""
    if facts.state in END_STATES:
        return facts.state, None
    for b in facts.basis:
        if b.status in (None, "deleted"):
            return "basis_deleted", f"依据记录 {b.id} 已删除"
        if b.status == "repaired":
            return "basis_repaired", f"依据记录 {b.id} 已信用修复"
    for b in facts.basis:
        if b.version != b.listed_version:
            return "basis_corrected", f"依据记录 {b.id} 已更正为第 {b.version} 版，待认定单位重新认定"
    if today < facts.listed_from:
        return "pending", None
    if facts.listed_until is not None and today > facts.listed_until:
        return "expired", None
    return "in_force", None


def in_force(facts: EntryFacts, today: dt.date) -> bool:
    return standing(facts, today)[0] == "in_force"
