"""Deployment mode (`CREDIT_MODE=deployment`): what a development set-up may take for granted and
a deployment may not. Each refusal is one line naming the variable to set; all are reported at
once so one start shows every gap (README "Deployment mode")."""

from __future__ import annotations

from .env_base import ConfigError
from .environment import Environment


class DeploymentRefused(ConfigError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(f"deployment mode: {p}" for p in problems))
        self.problems = problems


def refuse_environment(e: Environment) -> None:
    """Refuse local secrets, demo defaults, introspection and the embedded database."""
    problems = []
    if not (e.jwt_secret or e.jwt_public_key_file or e.jwt_jwks_url):
        problems.append("tokens need CREDIT_JWT_JWKS_URL, CREDIT_JWT_PUBLIC_KEY_FILE or "
                        "CREDIT_JWT_SECRET (the generated jwt-secret file is for development)")
    if not e.audit_key:
        problems.append("the audit trail needs CREDIT_AUDIT_KEY (the generated audit-key file "
                        "is for development)")
    if not e.database_url:
        problems.append("DATABASE_URL is required (the embedded PostgreSQL is for development)")
    if not e.app_database_url:
        problems.append("CREDIT_APP_DATABASE_URL is required (the password-less credit_app "
                        "login is for development)")
    for name, value in (("CREDIT_OFFICE_ORG", e.office_org),
                        ("CREDIT_DATA_OFFICE_ORG", e.data_office_org)):
        if not value:
            problems.append(f"{name} is required (the demo organisation is for development)")
    if e.graphql_introspection:
        problems.append("CREDIT_GRAPHQL_INTROSPECTION must be off")
    if "*" in e.cors_origins:
        problems.append("CREDIT_CORS_ORIGINS must list origins, not *")
    if "CREDIT_PUBLIC_URL" not in e.model_fields_set and "public_url" not in e.model_fields_set:
        problems.append("CREDIT_PUBLIC_URL is required (reports' check links would name 127.0.0.1)")
    if not e.persisted_operations.is_file():
        problems.append(f"CREDIT_PERSISTED_OPERATIONS: no manifest at {e.persisted_operations} "
                        "(only listed operations run in deployment mode)")
    if problems:
        raise DeploymentRefused(problems)


def refuse_in_deployment(mode: str, what: str) -> None:
    """A development-only command or option (demo data, local tokens)."""
    if mode == "deployment":
        raise DeploymentRefused([f"{what} is for development (CREDIT_MODE=development)"])
