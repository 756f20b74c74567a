"""Per-request context: who is asking, and the lookups already made in this request, so that
aliases, fragments and repeated fields reuse one decision and leave one log row. The batch
maximum counts the distinct subjects of the whole request, whatever field or alias names them."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from api.app_state import AppState
from api.auth.principal import Principal, RequestInfo
from api.disclosure.rules import MAX_PURPOSE_LENGTH
from api.disclosure.service import log_refusal, log_refused_keys, look_up, normalise_keys
from api.disclosure.views import SubjectView
from api.errors import DomainError, TooMany
from api.i18n import _
from api.identifiers import IdentifierError, parse_subject_key

if TYPE_CHECKING:
    from api.operations import PersistedOperations

    from .named_subjects import NamedSubject


def too_many(batch_max: int, count: int) -> TooMany:
    return TooMany(
        _("a request looks up at most {batch_max} subjects across all its fields and aliases; this one names {count}", batch_max=batch_max, count=count),
        field="keys",
        rule="batch_size",
    )


@dataclass
class Context:
    state: AppState
    principal: Principal
    request: RequestInfo
    _lookups: dict[tuple[str, str | None], SubjectView | None | DomainError] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _keys: set[str] = field(default_factory=set)  # distinct subjects asked for in this request
    # persisted operations (api/operations.py) and their refusal of this request's document
    operations: PersistedOperations | None = None
    operation_refusal: DomainError | None = None

    async def subjects(
        self, keys: list[str], purpose: str | None, operation: str
    ) -> list[SubjectView | None]:
        """Look up each subject at most once per request and purpose."""
        d = self.state.disclosure
        # each key checked here (a malformed one still logged against the subjects named); the
        # batch maximum (per field and per request) below, logged
        try:
            keys = normalise_keys(keys, max(len(keys), 1), d.legacy_uscc)
        except DomainError as refusal:
            await log_refused_keys(d, self.principal, self.request, keys, purpose, operation, refusal)
            raise
        async with self._lock:
            distinct = list(dict.fromkeys(keys))
            new = [k for k in distinct if k not in self._keys]
            count = max(len(keys), len(self._keys) + len(new))
            if count > d.batch_max:
                refusal = too_many(d.batch_max, count)
                await log_refusal(d, self.principal, self.request, distinct, purpose, operation, refusal)
                raise refusal
            self._keys.update(new)
            wanted = [k for k in dict.fromkeys(keys) if (k, purpose) not in self._lookups]
            if wanted:
                try:
                    found = await look_up(
                        self.state.disclosure,
                        self.principal,
                        self.request,
                        keys=wanted,
                        purpose=purpose,
                        operation=operation,
                    )
                except DomainError as e:
                    for k in wanted:
                        self._lookups[(k, purpose)] = e
                    raise
                for key, view in zip(wanted, found, strict=True):
                    self._lookups[(key, purpose)] = view
            results: list[Any] = [self._lookups[(k, purpose)] for k in keys]
        for r in results:
            if isinstance(r, DomainError):
                raise r
        return results

    def distinct(self, named: list[NamedSubject], stop_after: int | None = None) -> dict[str, NamedSubject]:
        """The valid subject keys among those a document names, normalised, first naming kept
        (a key that is not valid names no one: its field is refused as INVALID_INPUT); with
        `stop_after`, no more keys are parsed once that many are found."""
        legacy = self.state.settings.legacy_uscc
        out: dict[str, NamedSubject] = {}
        seen: set[str] = set()  # each spelling parsed once: 20 fields naming the same 100 keys
        for n in named:
            if n.key in seen:
                continue
            if stop_after is not None and len(out) >= stop_after:
                break
            seen.add(n.key)
            try:
                key = parse_subject_key(n.key, legacy_uscc=legacy).value
            except IdentifierError:
                continue
            out.setdefault(key, n)
        return out

    def over_batch(self, named: list[NamedSubject]) -> TooMany | None:
        """Refuse, before it runs, a request whose fields together name too many subjects, or
        one field that gives too many keys (repeated or not)."""
        per_field = Counter(n.at for n in named)
        batch_max = self.state.disclosure.batch_max
        spellings = len({n.key for n in named})
        valid = len(self.distinct(named, stop_after=batch_max + 1)) if spellings > batch_max else 0
        count = max(valid if valid > batch_max else 0, max(per_field.values(), default=0))
        if count <= batch_max:
            return None
        return too_many(batch_max, max(count, spellings))

    async def refuse(self, named: list[NamedSubject], refusal: DomainError) -> None:
        """A request refused before it ran still leaves one refusal row per subject it named,
        written by the disclosure's own refusal log (grouped by field and purpose), for at most
        the batch maximum of subjects: a refused request costs no more log rows than a lookup
        may; the rows say how many more it named."""
        groups: dict[tuple[str, str | None], list[str]] = {}
        batch_max = self.state.disclosure.batch_max
        distinct = self.distinct(named, stop_after=batch_max)  # the rest is not even parsed
        spellings = len({n.key for n in named})
        if spellings > len(distinct) and len(distinct) == batch_max:
            more = spellings - batch_max
            refusal = type(refusal)(
                f"{refusal.message}（另有 {more} 个主体未逐一记录；{more} more subjects named, not logged one by one）",
                field=refusal.field, rule=refusal.rule)
        for key, n in distinct.items():
            purpose = n.purpose[:MAX_PURPOSE_LENGTH] if n.purpose else None
            groups.setdefault((n.operation, purpose), []).append(key)
        d = self.state.disclosure
        for (operation, purpose), keys in groups.items():
            await log_refusal(d, self.principal, self.request, keys, purpose, operation, refusal)
