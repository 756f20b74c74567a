"""Settings from the environment, read once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .auth.principal import ROLES
from .authorizations.config import AuthorizationSettings
from .env_base import ConfigError, read
from .environment import Environment, LimitsEnvironment

ROOT = Path(__file__).resolve().parent.parent
SYMMETRIC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"})

__all__ = ["ConfigError", "Limits", "Settings"]


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    jwt_algorithms: tuple[str, ...]
    jwt_secret: str | None
    jwt_public_key_file: Path | None
    jwt_jwks_url: str | None
    jwt_issuer: str
    jwt_audience: str
    jwt_leeway_seconds: int = 30
    policy_dir: Path = ROOT / "policies"
    policy_poll_seconds: float = 2.0  # how often a running server looks for a changed policy file
    migrations_dir: Path = ROOT / "migrations"
    batch_max_subjects: int = 100
    submit_max_records: int = 500
    pool_min_size: int = 2
    pool_max_size: int = 10
    trusted_proxies: frozenset[str] = field(default_factory=frozenset)
    legacy_uscc: frozenset[str] = field(default_factory=frozenset)
    # HMAC key for the audit trail (Art. 41); the database never holds it
    audit_key: bytes = b""
    # Art. 19: trust roots, exempt purposes, upload cap, anomaly thresholds (api/authorizations)
    authorizations: AuthorizationSettings = field(default_factory=AuthorizationSettings)
    # credit reports: where the public check is reached, and the platform's signing keys
    public_url: str = "http://127.0.0.1:8000"
    report_signing_key_file: Path | None = None
    report_pdf_key_file: Path | None = None
    report_pdf_cert_file: Path | None = None
    # a trail row older than this and still not sealed is an error for `credit audit verify`
    audit_seal_window_seconds: int = 60
    # request limits and admission control (api/guard; README "Limits and overload")
    limits: Limits = field(default_factory=lambda: Limits())
    # GraphQL introspection and "Did you mean" suggestions (schema/validation.py); on for the demo
    graphql_introspection: bool = False
    # per-caller rate limits (api/ratelimit.py): (role, "limits" notation) overrides, storage
    rate_limit_enabled: bool = True
    rate_limits: tuple[tuple[str, str], ...] = ()
    rate_limit_storage: str = "memory://"
    rate_limit_prefix: str = "credit"
    # development or deployment (README "Deployment mode"); browser origins (README "CORS")
    mode: str = "development"
    cors_origins: tuple[str, ...] = ()
    # the operations portals ship, and the APQ cache's bound (README "Persisted operations")
    persisted_operations: Path = ROOT / "operations" / "manifest.json"
    apq_cache_size: int = 1000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check every variable (api/environment.py); a bad one is a one-line
        ConfigError. In deployment mode nothing is generated locally (api/deployment.py)."""
        e = read(Environment, env)
        env = os.environ if env is None else env
        if e.mode == "deployment":
            from .deployment import refuse_environment

            refuse_environment(e)
        secret = e.jwt_secret
        key_file, jwks = e.jwt_public_key_file, e.jwt_jwks_url
        if not (secret or key_file or jwks):
            secret = _local_secret(e.data_dir, "jwt-secret")
        audit_key = e.audit_key or _local_secret(e.data_dir, "audit-key")
        default_algs = ("HS256",) if secret and not (key_file or jwks) else ("RS256", "ES256")
        algorithms = tuple(e.jwt_algorithms) if e.jwt_algorithms is not None else default_algs
        if env.get("CREDIT_JWT_ALGORITHMS") == "":  # set but empty: refused below, not defaulted
            algorithms = ()
        settings = cls(
            authorizations=AuthorizationSettings.from_environment(e),
            database_url=e.database_url,
            data_dir=e.data_dir,
            jwt_algorithms=algorithms,
            jwt_secret=secret,
            jwt_public_key_file=key_file,
            jwt_jwks_url=jwks,
            jwt_issuer=e.jwt_issuer,
            jwt_audience=e.jwt_audience,
            pool_max_size=e.pool_max_size,
            policy_dir=e.policy_dir,
            trusted_proxies=frozenset(e.trusted_proxies),
            audit_key=audit_key.encode(),
            public_url=e.public_url.rstrip("/"),
            report_signing_key_file=e.report_signing_key_file,
            report_pdf_key_file=e.report_pdf_key_file,
            report_pdf_cert_file=e.report_pdf_cert_file,
            audit_seal_window_seconds=e.audit_seal_window,
            legacy_uscc=frozenset(c.upper() for c in e.legacy_uscc),
            limits=Limits.from_environment(e),
            graphql_introspection=e.graphql_introspection,
            rate_limit_enabled=e.rate_limit,
            rate_limits=tuple(
                (role, getattr(e, f"rate_limit_{role}"))
                for role in ROLES
                if getattr(e, f"rate_limit_{role}")
            ),
            rate_limit_storage=e.rate_limit_storage,
            rate_limit_prefix=e.rate_limit_prefix,
            mode=e.mode,
            cors_origins=tuple(e.cors_origins),
            persisted_operations=e.persisted_operations,
            apq_cache_size=e.apq_cache_size,
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse a token set-up that could be confused or bypassed."""
        algs = set(self.jwt_algorithms)
        unknown = algs - SYMMETRIC_ALGORITHMS - ASYMMETRIC_ALGORITHMS
        if not algs or unknown:
            raise ConfigError(
                f"CREDIT_JWT_ALGORITHMS must name algorithms from "
                f"{sorted(SYMMETRIC_ALGORITHMS | ASYMMETRIC_ALGORITHMS)}; got {sorted(unknown) or 'none'}"
            )
        if algs & SYMMETRIC_ALGORITHMS and algs & ASYMMETRIC_ALGORITHMS:
            raise ConfigError(
                "CREDIT_JWT_ALGORITHMS mixes HMAC and public-key algorithms; "
                "that allows key-confusion attacks, choose one family"
            )
        if algs & SYMMETRIC_ALGORITHMS:
            if not self.jwt_secret or len(self.jwt_secret) < 32:
                raise ConfigError("HS* tokens need CREDIT_JWT_SECRET of at least 32 characters")
        elif not (self.jwt_public_key_file or self.jwt_jwks_url):
            raise ConfigError(
                "public-key tokens need CREDIT_JWT_PUBLIC_KEY_FILE or CREDIT_JWT_JWKS_URL"
            )


@dataclass(frozen=True)
class Limits:
    """Request limits and admission control; each is `CREDIT_` + the field name upper-cased
    (README "Limits and overload")."""

    max_body_graphql: int = 1 << 20  # bytes
    max_body_upload: int = 1 << 30
    max_body_other: int = 64 << 10
    max_header_bytes: int = 16 << 10  # request line excluded, all header names and values
    body_idle_seconds: float = 10.0  # longest wait for the next piece of a request body
    body_min_rate: int = 100  # bytes/s a body must average over each window of waiting
    body_rate_window: float = 10.0
    shutdown_grace_seconds: float = 10.0  # after SIGTERM, open uploads end at a batch boundary
    max_in_flight: int = 64  # requests at once per process (not counting exports and uploads)
    max_uploads: int = 4
    max_exports: int = 2  # also the size of the exports' own pool
    admission_wait_seconds: float = 0.5  # longest wait for a place before 503 BUSY
    acquire_timeout_seconds: float = 2.0  # longest wait for a pool connection before BUSY
    lock_timeout_ms: int = 2000  # PostgreSQL lock_timeout of the app's connections
    statement_timeout_ms: int = 30000
    export_min_rate: int = 4096  # bytes/s an export reader must take over each window
    export_rate_window: float = 15.0
    export_max_seconds: float = 600.0
    retry_after_seconds: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        return cls.from_environment(read(LimitsEnvironment, env))

    @classmethod
    def from_environment(cls, e: LimitsEnvironment) -> Limits:
        return cls(**{name: getattr(e, name) for name in cls.__dataclass_fields__})


def _local_secret(data_dir: Path, name: str) -> str:
    """For local use only: a random secret kept in the data folder (`jwt-secret` so that
    `credit token` and `credit serve` agree, `audit-key` for the trail's macs). Deployments set
    their keys explicitly. The file appears whole or not at all (written aside, then linked)."""
    path = data_dir / name
    if not path.exists():
        import secrets

        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".{name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process made it first; use theirs
            pass
        finally:
            tmp.unlink()
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise ConfigError(f"{path} does not hold a usable secret; delete it to make a new one")
    return secret
