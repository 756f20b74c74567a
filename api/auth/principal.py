"""The caller, resolved once per request from its token."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = (
    "public",
    "subject",
    "state_organ",
    "credit_service",
    "provider",
    "credit_office",
    "data_office",
    "auditor",
)
# Art. 22, 33: state organs' and the platform's own staff's query logs are kept long-term.
LONG_TERM_ROLES = frozenset({"state_organ", "provider", "credit_office", "data_office", "auditor"})


@dataclass(frozen=True)
class Principal:
    user_id: str | None
    name: str | None
    org_code: str | None
    org_name: str | None
    roles: tuple[str, ...]
    subject_key: str | None = None
    real_name_verified: bool = False

    @property
    def anonymous(self) -> bool:
        return self.user_id is None

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def retention(self) -> str:
        return "long_term" if LONG_TERM_ROLES & set(self.roles) else "three_years"


ANONYMOUS = Principal(user_id=None, name=None, org_code=None, org_name=None, roles=("public",))


@dataclass(frozen=True)
class RequestInfo:
    """What the query log needs to know about the HTTP request itself."""

    request_id: str  # made by the server (api/auth/request_info.py)
    client_addr: str | None
    channel: str = "graphql"
    client_request_id: str | None = None  # the client's own X-Request-Id, as a claim
