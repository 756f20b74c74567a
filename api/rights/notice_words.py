"""The words notifications are made of (api/wording.py parts): a record named by its item and
subject, the due day of a case's open step, and the codes a step records (a ground, an answer,
a pause, a finding) in the reader's words instead of as codes (the grounds' and pauses' words
are workflow's, where the codes are defined)."""

from __future__ import annotations

from typing import Any

from ..i18n import N_
from ..wording import Wording, wording

# what a provider answered: the verification (Art. 38 ¶3), a list entry (Art. 37)
RESULT_WORDS = {
    "verified": N_("verified: the record is true"),
    "unverifiable": N_("its truth cannot be verified"),
    "removed": N_("the list entry is wrong and is removed"),
    "stands": N_("the list entry stands"),
}



def coded(words: dict[str, str], code: str | None) -> Wording | str:
    """A recorded code in the reader's words; a code without words is shown as recorded."""
    msgid = words.get(code or "")
    return wording(msgid) if msgid else (code or "")


def record_of(item: str, subject_key: str) -> Wording:
    """A record named by its item and its subject, in the reader's words."""
    return wording(N_("{item} of {subject}"), item=item, subject=subject_key)


def due_words(case: Any) -> Wording:
    """" by <day>" of a case's open step (with "(provisional)" while its calendar year is not
    published), or nothing when no step is open."""
    if case.due_on is None:
        return Wording(())
    if case.due_provisional:
        return wording(N_(" by {due} (provisional)"), due=case.due_on)
    return wording(N_(" by {due}"), due=case.due_on)
