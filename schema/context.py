"""Per-request context: who is asking, and the lookups already made in this request, so that
aliases, fragments and repeated fields reuse one decision and leave one log row."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from api.app_state import AppState
from api.auth.principal import Principal, RequestInfo
from api.disclosure.rules import SubjectView
from api.disclosure.service import log_refused_keys, look_up, normalise_keys
from api.errors import DomainError


@dataclass
class Context:
    state: AppState
    principal: Principal
    request: RequestInfo
    _lookups: dict[tuple[str, str | None], SubjectView | None | DomainError] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def subjects(
        self, keys: list[str], purpose: str | None, operation: str
    ) -> list[SubjectView | None]:
        """Look up each subject at most once per request and purpose."""
        d = self.state.disclosure
        try:
            keys = normalise_keys(keys, d.batch_max, d.legacy_uscc)
        except DomainError as refusal:  # still logged against the subjects it names
            await log_refused_keys(d, self.principal, self.request, keys, purpose, operation, refusal)
            raise
        async with self._lock:
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
