"""Domain errors. Each has a stable code; schema/ turns them into the wire format in one place."""

from __future__ import annotations


class DomainError(Exception):
    code = "DOMAIN_ERROR"

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule


class InvalidInput(DomainError):
    code = "INVALID_INPUT"


class PurposeRequired(DomainError):
    code = "PURPOSE_REQUIRED"


class InvalidPurpose(DomainError):
    code = "INVALID_PURPOSE"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"


class AuditUnavailable(DomainError):
    """Art. 21: no disclosure without its log row. Raised when the log cannot be written."""

    code = "AUDIT_UNAVAILABLE"


class PolicyUnavailable(DomainError):
    code = "POLICY_UNAVAILABLE"


class TooMany(DomainError):
    code = "TOO_MANY"
