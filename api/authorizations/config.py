"""Settings of the authorization flow, from the environment (read with the platform's Settings).

| variable | default | meaning |
|---|---|---|
| CREDIT_SIGNATURE_TRUST_ROOTS | unset: no e-signature is accepted | file of PEM certificates |
| CREDIT_AUTHORIZATION_EXEMPT_PURPOSES | none | comma-separated Art. 29 purposes for which a state organ's registration is effective without the subject's agreement (statutory basis) |
| CREDIT_AUTHORIZATION_DOCUMENT_MAX_BYTES | 10485760 | upload size cap |
| CREDIT_AUTHORIZATION_BURST | 50 | anomaly: registrations by one organisation within the window |
| CREDIT_AUTHORIZATION_BURST_HOURS | 24 | that window |
| CREDIT_AUTHORIZATION_PENDING_DAYS | 7 | anomaly: pending longer than this |
| CREDIT_AUTHORIZATION_QUICK_USE_MINUTES | 10 | anomaly: archived dishonesty read this soon after taking effect |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class AuthorizationConfigError(ValueError):
    pass


@dataclass(frozen=True)
class AuthorizationSettings:
    trust_roots_file: Path | None = None
    exempt_purposes: frozenset[str] = field(default_factory=frozenset)
    document_max_bytes: int = 10 * 1024 * 1024
    burst_threshold: int = 50
    burst_hours: int = 24
    pending_days: int = 7
    quick_use_minutes: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthorizationSettings:
        from ..disclosure.rules import PURPOSES

        roots = env.get("CREDIT_SIGNATURE_TRUST_ROOTS") or None
        if roots and not Path(roots).is_file():
            raise AuthorizationConfigError(f"CREDIT_SIGNATURE_TRUST_ROOTS: no file {roots}")
        exempt = frozenset(
            p.strip() for p in env.get("CREDIT_AUTHORIZATION_EXEMPT_PURPOSES", "").split(",")
            if p.strip()
        )
        unknown = sorted(exempt - set(PURPOSES))
        if unknown:  # only a state organ's statutory duty can be exempt (Art. 29)
            raise AuthorizationConfigError(
                f"CREDIT_AUTHORIZATION_EXEMPT_PURPOSES: {unknown} are not Art. 29 purposes"
            )

        def number(name: str, default: int) -> int:
            raw = env.get(name)
            try:
                value = int(raw) if raw else default
            except ValueError:
                raise AuthorizationConfigError(f"{name} must be a whole number") from None
            if value < 1:
                raise AuthorizationConfigError(f"{name} must be at least 1")
            return value

        return cls(
            trust_roots_file=Path(roots) if roots else None,
            exempt_purposes=exempt,
            document_max_bytes=number("CREDIT_AUTHORIZATION_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024),
            burst_threshold=number("CREDIT_AUTHORIZATION_BURST", 50),
            burst_hours=number("CREDIT_AUTHORIZATION_BURST_HOURS", 24),
            pending_days=number("CREDIT_AUTHORIZATION_PENDING_DAYS", 7),
            quick_use_minutes=number("CREDIT_AUTHORIZATION_QUICK_USE_MINUTES", 10),
        )
