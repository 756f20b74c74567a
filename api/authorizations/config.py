"""Settings of the authorization flow (Art. 19), read with the platform's settings: their
variables are declared here and listed in README "Configuration"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import PositiveInt, field_validator

from ..env_base import CommaList, EnvModel, read, var


class AuthorizationEnvironment(EnvModel):
    signature_trust_roots: Path | None = var(
        None, "path of an existing file of PEM certificates",
        "trust roots of subjects' e-signatures; unset: no e-signature is accepted")
    authorization_exempt_purposes: CommaList = var(
        [], "comma-separated Art. 29 purposes",
        "purposes for which a state organ's registration is effective without the subject's "
        "agreement (statutory basis)")
    authorization_document_max_bytes: PositiveInt = var(
        10 * 1024 * 1024, "whole number >= 1", "authorization document upload size cap, bytes")
    authorization_burst: PositiveInt = var(
        50, "whole number >= 1", "anomaly: registrations by one organisation within the window")
    authorization_burst_hours: PositiveInt = var(24, "whole number >= 1", "that window, hours")
    authorization_pending_days: PositiveInt = var(
        7, "whole number >= 1", "anomaly: pending longer than this many days")
    authorization_quick_use_minutes: PositiveInt = var(
        10, "whole number >= 1", "anomaly: archived dishonesty read this soon after taking effect")

    @field_validator("signature_trust_roots")
    @classmethod
    def _roots_exist(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"no file {path}")
        return path

    @field_validator("authorization_exempt_purposes")
    @classmethod
    def _art29(cls, purposes: list[str]) -> list[str]:
        from ..disclosure.rules import PURPOSES

        unknown = sorted(set(purposes) - set(PURPOSES))
        if unknown:  # only a state organ's statutory duty can be exempt (Art. 29)
            raise ValueError(f"{unknown} are not Art. 29 purposes")
        return purposes


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
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthorizationSettings:
        return cls.from_environment(read(AuthorizationEnvironment, env))

    @classmethod
    def from_environment(cls, e: AuthorizationEnvironment) -> AuthorizationSettings:
        return cls(
            trust_roots_file=e.signature_trust_roots,
            exempt_purposes=frozenset(e.authorization_exempt_purposes),
            document_max_bytes=e.authorization_document_max_bytes,
            burst_threshold=e.authorization_burst,
            burst_hours=e.authorization_burst_hours,
            pending_days=e.authorization_pending_days,
            quick_use_minutes=e.authorization_quick_use_minutes,
        )
