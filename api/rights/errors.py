"""Refusals of the rights workflows. Each has a stable code; `rule` names the article or rule."""

from __future__ import annotations

from ..errors import DomainError


class WrongRole(DomainError):
    """The step is done by another role (or another organisation) under the article."""

    code = "WRONG_ROLE"


class OutOfOrder(DomainError):
    """The case is not at this step: another step is due first, or the case is closed."""

    code = "OUT_OF_ORDER"


class CaseOpen(DomainError):
    """An open case of the same kind already concerns the record."""

    code = "CASE_OPEN"


class NotEligible(DomainError):
    """The record does not qualify for this right (Art. 39 repair, Art. 40 deletion)."""

    code = "NOT_ELIGIBLE"


class RepairTooEarly(DomainError):
    """Art. 39 with the national severity rules: repair is applied for only after the record's
    minimum period (its `repairableFrom`)."""

    code = "REPAIR_TOO_EARLY"
