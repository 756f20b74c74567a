"""What the checks of `credit audit verify` (Art. 41) share: the report with its findings, and
the `Verification` they read once and fill in as they run (api/audit/verify.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg


@dataclass
class Finding:
    # altered_or_forged | removed | inserted | seal_broken | digest_mismatch | unsealed
    # | forged_purge | missing_partition | detached_partition | (other capabilities' kinds)
    what: str
    message: str
    entry_id: int | None = None
    seal_seq: int | None = None
    partition: str | None = None


@dataclass
class Report:
    rows_checked: int = 0
    seals_checked: int = 0
    partitions_purged: int = 0
    unsealed_rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    head: str | None = None  # "SEQ:MAC-HEX" of the newest seal: record it outside the database

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass
class PurgeAct:
    id: int
    details: dict[str, Any]
    mac_ok: bool
    sealed: bool


@dataclass
class Verification:
    """What the checks share: read once, filled in as they run."""

    conn: asyncpg.Connection
    key: bytes
    now: dt.datetime
    window: dt.timedelta
    expect_head: str | None
    report: Report
    seals: list[asyncpg.Record] = field(default_factory=list)
    by_partition: dict[str, list[asyncpg.Record]] = field(default_factory=dict)
    attached: set[str] = field(default_factory=set)
    detached: set[str] = field(default_factory=set)
    purge_records: dict[str, asyncpg.Record] = field(default_factory=dict)
    purge_acts: list[PurgeAct] = field(default_factory=list)
    purged: set[str] = field(default_factory=set)  # partitions whose purge holds
    named: set[str] = field(default_factory=set)  # partitions already reported

    def find(self, what: str, message: str, **where: Any) -> None:
        self.report.findings.append(Finding(what, message, **where))


Check = Callable[[Verification], Awaitable[None]]
