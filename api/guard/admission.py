"""Admission control: a bounded number of requests in flight per class (ordinary, uploads,
exports), a bounded wait for a place and a bounded number waiting. Past any bound the caller is
told BUSY (503, Retry-After) before anything is read or looked up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..config import Limits
from ..i18n import N_


@dataclass
class Gate:
    name: str
    limit: int
    wait: float
    max_waiting: int

    def __post_init__(self) -> None:
        self.active = 0
        self.waiting = 0
        self._free = asyncio.Condition()

    async def enter(self) -> bool:
        """Take a place, waiting at most `wait` seconds; False when none came free."""
        if self.active < self.limit and not self.waiting:
            self.active += 1
            return True
        if self.wait <= 0 or self.waiting >= self.max_waiting:
            return False
        self.waiting += 1
        try:
            async with self._free:
                await asyncio.wait_for(
                    self._free.wait_for(lambda: self.active < self.limit), self.wait
                )
                self.active += 1
                return True
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1

    async def leave(self) -> None:
        self.active -= 1
        if self.waiting:
            async with self._free:
                self._free.notify_all()


class Admission:
    def __init__(self, limits: Limits):
        self.gates = {
            "/upload/records": Gate(N_("uploads"), limits.max_uploads, 0.0, 0),
            "/audit/export": Gate(N_("exports"), limits.max_exports, 0.0, 0),
        }
        self.default = Gate(
            N_("requests"), limits.max_in_flight, limits.admission_wait_seconds, limits.max_in_flight
        )

    def gate(self, path: str) -> Gate | None:
        if path.startswith("/health") or path == "/metrics":
            return None  # cheap, bounded by the acquire timeout; must answer when busy
        return self.gates.get(path, self.default)
