"""Every environment variable the platform reads, typed and documented in one model: the README
table is generated from it (`credit config table`), unknown `CREDIT_*` names are warned about
with the nearest known one."""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import PositiveFloat, PositiveInt, field_validator

from .authorizations.config import AuthorizationEnvironment
from .env_base import PREFIX, CommaList, EnvModel, var, variables

ROOT = Path(__file__).resolve().parent.parent
N = "whole number >= 1"
S = "number of seconds > 0"


class LimitsEnvironment(EnvModel):
    """Request limits and admission control (api/guard; README "Limits and overload")."""

    max_body_graphql: PositiveInt = var(1 << 20, N, "largest GraphQL request body, bytes")
    max_body_upload: PositiveInt = var(1 << 30, N, "largest bulk upload body, bytes")
    max_body_other: PositiveInt = var(64 << 10, N, "largest body of any other request, bytes")
    max_header_bytes: PositiveInt = var(16 << 10, N, "all header names and values, bytes")
    body_idle_seconds: PositiveFloat = var(10.0, S, "longest wait for the next piece of a body")
    body_min_rate: PositiveInt = var(100, N, "bytes/s a body must average over each window")
    body_rate_window: PositiveFloat = var(10.0, S, "that window")
    shutdown_grace_seconds: PositiveFloat = var(10.0, S, "after SIGTERM, open uploads end at a batch boundary within this")
    max_in_flight: PositiveInt = var(64, N, "requests at once per process (not exports, uploads)")
    max_uploads: PositiveInt = var(4, N, "bulk uploads at once per process")
    max_exports: PositiveInt = var(2, N, "audit exports at once (also their pool's size)")
    admission_wait_seconds: PositiveFloat = var(0.5, S, "longest wait for a place before 503 BUSY")
    acquire_timeout_seconds: PositiveFloat = var(2.0, S, "longest wait for a pool connection")
    lock_timeout_ms: PositiveInt = var(2000, N, "PostgreSQL lock_timeout of the app's sessions")
    statement_timeout_ms: PositiveInt = var(30000, N, "PostgreSQL statement_timeout")
    export_min_rate: PositiveInt = var(4096, N, "bytes/s an export reader must take")
    export_rate_window: PositiveFloat = var(15.0, S, "that window")
    export_max_seconds: PositiveFloat = var(600.0, S, "longest export")
    retry_after_seconds: PositiveInt = var(2, N, "Retry-After of a BUSY answer")


class ObserveEnvironment(EnvModel):
    """Logs, metrics, tracing and the embedded database's lifecycle (api/observe; README
    "Watching it run"). The modules there read these names; declared here so a bad value is one
    line and the table lists them."""

    log_format: Literal["json", "text"] | None = var(
        None, "json or text", "log lines; unset: json for `credit serve`, text for `--demo` and other commands")
    access_log: bool = var(True, "on or off", "one access line per request")
    metrics_allow: str | None = var(
        None, "comma-separated addresses or networks, or none",
        "who may read /metrics; unset: loopback and private networks; none: no /metrics")
    metrics_token: str | None = var(None, "text", "if set, /metrics also needs this bearer token", secret=True)
    keep_database: bool = var(False, "on or off", "`credit serve` leaves the embedded PostgreSQL running when it stops")
    prometheus_multiproc_dir: Path | None = var(
        None, "directory path", "metrics shared by worker processes; `credit serve --workers N` sets it itself",
        env="PROMETHEUS_MULTIPROC_DIR")
    otel_exporter_otlp_endpoint: str | None = var(
        None, "https:// or http:// URL", "turns tracing on (with the `tracing` extra); other OTEL_* variables apply",
        env="OTEL_EXPORTER_OTLP_ENDPOINT")

    @field_validator("metrics_allow")
    @classmethod
    def _allow(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in ("none", "off"):
            return value
        for entry in (e.strip() for e in value.split(",") if e.strip()):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or network") from None
        return value


def _url(value: str | None, schemes: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"not a {'/'.join(schemes)} URL")
    return value


class OfficesEnvironment(EnvModel):
    """The deployment mode and the two municipal offices (read per request by api/rights/offices.py)."""

    mode: Literal["development", "deployment"] = var(
        "development", "development or deployment",
        "deployment: no demo defaults, no local secrets, only persisted operations (README \"Deployment mode\")")
    office_org: str | None = var(None, "18-character unified social credit code",
                                 "the credit office (市行政审批局, Art. 37-39); development default: the demo's")
    data_office_org: str | None = var(None, "18-character unified social credit code",
                                      "the data office (市大数据办, Art. 38); development default: the demo's")

    @field_validator("office_org", "data_office_org")
    @classmethod
    def _uscc(cls, code: str | None) -> str | None:
        from .identifiers import IdentifierError, validate_uscc

        if code is None:
            return None
        try:
            return validate_uscc(code)
        except IdentifierError as e:
            raise ValueError(str(e)) from None


class Environment(OfficesEnvironment, LimitsEnvironment, AuthorizationEnvironment, ObserveEnvironment):
    database_url: str | None = var(
        None, "postgresql://user:password@host:port/database",
        "the owner's login (migrations, upkeep); unset: an embedded PostgreSQL in the data folder",
        secret=True, env="DATABASE_URL")
    app_database_url: str | None = var(
        None, "postgresql://credit_app:password@host:port/database",
        "the app's own login (see \"Database roles\"); unset: DATABASE_URL with user credit_app, no password", secret=True)
    data_dir: Path = var(ROOT / ".credit", "directory path",
                         "local state: embedded database, generated secrets, backups")
    pool_max_size: int = var(10, "whole number from 2 to 500", "the app's database pool size per process",
                             ge=2, le=500)
    policy_dir: Path = var(ROOT / "policies", "directory path", "model.conf and policy.csv")
    jwt_secret: str | None = var(
        None, "at least 32 characters", "HS* token key; unset (and no public key): a local one in the data folder",
        secret=True, min_length=32)
    jwt_public_key_file: Path | None = var(None, "path of an existing PEM file", "public key of RS*/ES* tokens")
    jwt_jwks_url: str | None = var(None, "https:// or http:// URL", "JWKS of the identity provider")
    jwt_algorithms: CommaList | None = var(
        None, "comma-separated, from one family: HS256,HS384,HS512 or RS256,RS384,RS512,ES256,ES384,PS256",
        "accepted token algorithms; default HS256 with a secret, else RS256,ES256")
    jwt_issuer: str = var("credit-platform", "text", "required `iss` of tokens")
    jwt_audience: str = var("credit-platform", "text", "required `aud` of tokens")
    audit_key: str | None = var(None, "at least 32 characters",
                                "HMAC key of the audit trail (Art. 41); unset: a local one in the data folder",
                                secret=True, min_length=32)
    audit_seal_window: int = var(60, "whole number of seconds >= 30",
                                 "an unsealed trail row older than this fails `credit audit verify`", ge=30)
    trusted_proxies: CommaList = var([], "comma-separated addresses or networks (10.0.0.0/8)",
                                     "proxies whose X-Forwarded-For is believed (see \"Request id and client address\")")
    legacy_uscc: CommaList = var([], "comma-separated 18-character codes",
                                 "pilot-era organisation codes accepted in policy lines")
    public_url: str = var("http://127.0.0.1:8000", "https:// or http:// URL",
                          "where the public report check is reached")
    report_signing_key_file: Path | None = var(None, "file path", "key signing reports' check codes")
    report_pdf_key_file: Path | None = var(None, "file path", "key signing report PDFs (with the cert)")
    report_pdf_cert_file: Path | None = var(None, "file path", "certificate of that key")
    report_font: Path | None = var(None, "path of a TrueType font", "CJK font embedded in reports")
    graphql_introspection: bool = var(False, "on or off", "schema introspection and \"Did you mean\" hints; `credit serve --demo` turns them on")
    rate_limit: bool = var(True, "on or off", "per-caller rate limits; off e.g. behind a gateway that limits per caller")
    rate_limit_storage: str = var("memory://", "memory:// or redis://host:port/db", "where the counters live")
    rate_limit_prefix: str = var("credit", "text", "key prefix in a shared store")
    cors_origins: CommaList = var([], "comma-separated origins (https://portal.example.cn)",
                                  "browser origins allowed to call the API (README \"CORS\")")
    persisted_operations: Path = var(ROOT / "operations" / "manifest.json", "path of a JSON manifest",
                                     "the operations portals ship (README \"Persisted operations\")")
    apq_cache_size: int = var(1000, "whole number from 1 to 100000",
                              "development: documents registered by hash kept at most", ge=1, le=100_000)
    url: str | None = var(None, "https:// or http:// URL", "client side: `credit ingest`'s platform address")
    token: str | None = var(None, "a bearer token", "client side: `credit ingest`'s token", secret=True)

    @field_validator("database_url", "app_database_url")
    @classmethod
    def _postgres(cls, value: str | None) -> str | None:
        return _url(value, ("postgresql", "postgres"))

    @field_validator("jwt_jwks_url", "public_url", "url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        return _url(value, ("https", "http"))

    @field_validator("jwt_public_key_file")
    @classmethod
    def _file(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"no file {path}")
        return path

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or network") from None
        return entries

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if origin != "*" and (parts.scheme not in ("https", "http") or not parts.netloc
                                  or parts.path or parts.query):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path)")
        return [o.lower() for o in origins]  # browsers send scheme and host in lower case


def _role_limits() -> dict[str, tuple[type, object]]:
    from .auth.principal import ROLES

    return {f"rate_limit_{role}": (str | None, var(
        None, "limits notation (100/minute;2000/day) or none", f"rate limits of the {role} role; defaults under \"The API\""))
        for role in ROLES}


def _with_role_limits() -> type[Environment]:
    from pydantic import create_model

    return create_model("Environment", __base__=Environment, **_role_limits())


Environment = _with_role_limits()  # type: ignore[misc]  # CREDIT_RATE_LIMIT_<ROLE>, one per role


# read by the test suite (tests/test_graphiql_browser.py), not by the platform: no warning
TEST_SUITE_NAMES = frozenset({"CREDIT_TEST_CHROMIUM", "CREDIT_GRAPHIQL_SCREENSHOT"})


def known_names() -> list[str]:
    return list(variables(Environment))


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    """One warning per `CREDIT_*` variable nothing reads, with the nearest known name."""
    known = set(known_names()) | TEST_SUITE_NAMES
    suffixes = [k.removeprefix(PREFIX) for k in known if k.startswith(PREFIX)]
    out = []
    for name in sorted(n for n in env if n.upper().startswith(PREFIX) and n.upper() not in known):
        near = difflib.get_close_matches(name.upper().removeprefix(PREFIX), suffixes, n=1, cutoff=0.6)
        hint = f"; did you mean {PREFIX}{near[0]}?" if near else ""
        out.append(f"{name} is not a known variable and is ignored{hint}")
    return out


def markdown_table() -> str:
    """README "Configuration": one row per variable."""
    rows = ["| variable | form | default | meaning |", "|---|---|---|---|"]
    own = variables(Environment)
    groups = (OfficesEnvironment, LimitsEnvironment, AuthorizationEnvironment, ObserveEnvironment)
    grouped = [n for g in groups for n in variables(g)]
    for name in [n for n in own if n not in grouped] + grouped:
        info = own[name]
        default = info.default
        if isinstance(default, Path):
            default = default.relative_to(ROOT) if default.is_relative_to(ROOT) else default
        shown = "unset" if default in (None, []) else (
            ("on" if default else "off") if isinstance(default, bool) else str(default))
        rows.append(f"| `{name}` | {info.json_schema_extra['form']} | {shown} | {info.description} |")
    return "\n".join(rows) + "\n"

