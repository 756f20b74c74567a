"""A batch of submitted records between the two steps of collection (service.py): `Prepared`
once validated, an `Outcome` per record once written (with its NDJSON form), or a `Conflict`
when another transaction touched its records in between and it runs again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .record import Rejection, ValidRecord

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one submitted record; `line` is its index (submitRecords) or its line in
    the uploaded file."""

    line: int
    source_ref: str | None
    status: str
    record_id: str | None = None
    version: int | None = None
    rejection: Rejection | None = None
    due_on: dt.date | None = None
    provisional: bool = False
    late: bool | None = None

    def wire(self) -> dict[str, Any]:
        """The NDJSON form streamed back by the bulk upload."""
        out: dict[str, Any] = {"line": self.line, "sourceRef": self.source_ref, "status": self.status}
        if self.record_id:
            out["recordId"] = self.record_id
            out["version"] = self.version
        if self.rejection:
            out["field"] = self.rejection.field
            out["rule"] = self.rejection.rule
            out["message"] = self.rejection.message
        if self.due_on:
            out["dueOn"] = self.due_on.isoformat()
            out["late"] = self.late
            if self.provisional:
                out["provisional"] = True
        return out


class Conflict(RuntimeError):
    """Another transaction changed a record of this batch meanwhile: run the batch again."""


@dataclass
class Prepared:
    """A batch after validation (pure work), ready to be written."""

    lines: list[tuple[int, str | None]]
    rejected: dict[int, Rejection]
    valid: list[tuple[int, ValidRecord, tuple[dt.date, bool] | None]]
    received_on: dt.date
    number: int = 0  # the batch's number in the submission, for the collection log
