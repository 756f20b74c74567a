"""The guard's refusals as domain errors (schema/ maps them like any other)."""

from __future__ import annotations

from ..errors import DomainError
from ..i18n import _
from .context import current


class Busy(DomainError, TimeoutError):
    """Retryable: no place or no database connection was free in time. Also a TimeoutError, so
    code that already survives a timed-out acquire (the sealer, upkeep) survives this."""

    code = "BUSY"


class ClientGone(DomainError):
    """The client left before the commit: the unit of work rolls back, nothing is disclosed and
    no log row claims a disclosure nobody received."""

    code = "CLIENT_GONE"


def busy(message: str) -> Busy:
    """A Busy error; the response to the current request then carries Retry-After."""
    guard = current()
    if guard is not None:
        guard.busy = True
    return Busy(message, rule="admission")


def ensure_client_waiting() -> None:
    """Raise ClientGone if the current request's client has disconnected. Called right before a
    lookup commits; outside a request (CLI, tests without HTTP) there is no client to lose."""
    guard = current()
    if guard is not None and guard.client_gone:
        raise ClientGone(_("the client disconnected before the commit; the query was rolled back"))
