"""What the disclosure decision reads and what it gives out (Art. 17-20).

In: the stored subject, its records and the caller's written authorizations (with Art. 19's
test of whether one covers a record). Out: the subject's view, the records shown and the counts
withheld, each with its reason and what the requester can do about it. Plain data, no I/O;
`rules.disclose` makes the view."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..catalog import CatalogItem
from ..i18n import N_, _
from ..publicity import Periods
from .masking import MaskSpec


class Reason:
    """Why something was withheld, and what the requester can do about it."""

    NEEDS_AUTHORIZATION = "NEEDS_AUTHORIZATION"
    NEEDS_VERIFICATION = "NEEDS_VERIFICATION"
    STATE_ORGANS_ONLY = "STATE_ORGANS_ONLY"
    NOT_FOR_ROLE = "NOT_FOR_ROLE"
    NOT_ENTITLED = "NOT_ENTITLED"
    FIELDS_NOT_ENTITLED = "FIELDS_NOT_ENTITLED"
    PUBLICITY_ENDED = "PUBLICITY_ENDED"

    TEXT = {  # English msgids; Withheld.reason gives them in the request's language
        NEEDS_AUTHORIZATION: N_(
            "Disclosed only under the subject's written authorization naming your organisation, "
            "this purpose and this item or class (Art. 19). Ask the subject to grant one in the "
            "self-service portal, or register the signed authorization with grantAuthorization."
        ),
        NEEDS_VERIFICATION: N_(
            "Complete real-name verification to see your own non-public records (Art. 19)."
        ),
        STATE_ORGANS_ONLY: N_(
            "Government-shared information: disclosed only to state organs performing a duty "
            "named by an Art. 29 purpose (Art. 17)."
        ),
        NOT_FOR_ROLE: N_("Not disclosed to your role under the platform's disclosure rules."),
        NOT_ENTITLED: N_(
            "Your organisation is not entitled to this catalog item; the data office can extend "
            "its entitlement."
        ),
        PUBLICITY_ENDED: N_(
            "The record's public period (by its severity, per the catalog item) is over: it is "
            "no longer public and is disclosed only under the subject's written authorization "
            "(Art. 19, 20)."
        ),
        FIELDS_NOT_ENTITLED: N_(
            "Fields of this item outside your organisation's entitlement were left out; the data "
            "office can extend its entitlement."
        ),
    }


@dataclass(frozen=True)
class Authorization:
    id: str
    grantee_org: str
    purpose: str
    scope_items: frozenset[str]
    scope_classes: frozenset[str]
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoked_at: dt.datetime | None

    def covers(self, *, org: str | None, purpose: str | None, item: CatalogItem, at: dt.datetime) -> bool:
        """Art. 19: grantee, purpose, scope and time all match, and it was not revoked."""
        return (
            org is not None
            and self.grantee_org == org
            and purpose is not None
            and self.purpose == purpose
            and (item.code in self.scope_items or item.disclosure in self.scope_classes)
            and self.valid_from <= at < self.valid_until
            and (self.revoked_at is None or self.revoked_at > at)
        )


@dataclass(frozen=True)
class StoredRecord:
    id: str
    item: CatalogItem
    provider_org: str
    decided_on: dt.date
    data: dict[str, Any]
    status: str
    # 'role:org' of the offices handling an open objection on this record (api/rights)
    case_handlers: frozenset[str] = frozenset()
    # the item's field tags as collected; masks use them with today's (a later catalog may
    # drop or retag a field that older records still carry)
    collected_masks: MaskSpec = MaskSpec()


@dataclass(frozen=True)
class StoredSubject:
    key: str
    key_type: str
    subject_type: str
    name: str
    status: str


@dataclass(frozen=True)
class RecordView:
    id: str
    item: CatalogItem
    decided_on: dt.date
    data: dict[str, Any]
    status: str
    state: str
    basis: str  # the right it was disclosed under: public, government_sharing, authorization, ...
    fields_withheld: int
    periods: Periods | None = None  # publicUntil, repairableFrom, archivesOn (api/publicity.py)


@dataclass(frozen=True)
class Withheld:
    disclosure: str
    count: int
    reason_code: str
    scope: str  # "records" or "fields"
    item_code: str | None = None

    @property
    def reason(self) -> str:
        return _(Reason.TEXT[self.reason_code])


@dataclass
class SubjectView:
    subject: StoredSubject
    name: str
    key: str = ""  # as shown: a natural person's ID number masked like its name
    records: list[RecordView] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    authorization_ids: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if not self.withheld:
            return "disclosed"
        return "partial" if self.records else "refused"

    def log_disclosed(self) -> list[dict[str, Any]]:
        return [
            {
                "record": r.id,
                "item": r.item.code,
                "basis": r.basis,
                **({"fields": sorted(r.data)} if r.fields_withheld else {}),
            }
            for r in self.records
        ]

    def log_withheld(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {"records": {}, "fields": {}}
        for w in self.withheld:
            bucket = out[w.scope]
            bucket[w.disclosure] = bucket.get(w.disclosure, 0) + w.count
        return {k: v for k, v in out.items() if v}
