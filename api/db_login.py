"""The application's own database login: the DSN it logs in with, the signing keys its sessions
carry, and the check that it can do no more than the app may (migrations/0007)."""

from __future__ import annotations

import hashlib
import hmac
import os
from urllib.parse import urlsplit, urlunsplit

import asyncpg

# The application's own login (migrations/0007): not the owner, not a superuser, a member of no
# role. DATABASE_URL is the owner's; CREDIT_APP_DATABASE_URL, when set, is the app's login.
APP_ROLE = "credit_app"
APP_LOGIN_ENV = "CREDIT_APP_DATABASE_URL"


class LoginError(Exception):
    """The app's database login is missing or could do more than the app may."""


def app_login_dsn(owner_dsn: str, explicit: str | None = None) -> str:
    """The DSN the app's pool logs in with: `explicit`, else CREDIT_APP_DATABASE_URL, else the
    owner's DSN with user credit_app and no password (local trust authentication, as the
    embedded server and a development PostgreSQL have)."""
    explicit = explicit or os.environ.get(APP_LOGIN_ENV)
    if explicit:
        return explicit
    parts = urlsplit(owner_dsn)
    host = parts.netloc.rpartition("@")[2]
    query = "&".join(
        p for p in parts.query.split("&") if p and not p.startswith(("user=", "password="))
    )
    return urlunsplit(parts._replace(netloc=f"{APP_ROLE}@{host}", query=query))


def record_mac_key(audit_key: bytes) -> bytes:
    """The key of the records' macs, derived from the audit key: it is handed to the app's own
    database sessions (the signing triggers of migration 0007), the audit key itself never."""
    return hmac.new(audit_key, b"credit records mac v1", hashlib.sha256).digest()


def signing_settings(audit_key: bytes) -> dict[str, str]:
    """HMAC's padded keys (RFC 2104) as startup settings of the session: they survive the
    pool's RESET ALL, and they are not in any statement's text."""
    key = record_mac_key(audit_key).ljust(64, b"\0")
    return {
        "credit.mac_inner": bytes(b ^ 0x36 for b in key).hex(),
        "credit.mac_outer": bytes(b ^ 0x5C for b in key).hex(),
    }


_LOGIN_CHECK = """
SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolbypassrls,
       session_user = current_user AS own_session,
       ARRAY(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid
             WHERE m.member = r.oid ORDER BY 1) AS member_of,
       EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid
               AND c.relnamespace = 'public'::regnamespace) AS owns_tables
FROM pg_roles r WHERE r.rolname = session_user
"""


async def check_app_login(conn: asyncpg.Connection) -> None:
    """Fail closed unless the session is a login that cannot change role or bypass grants."""
    r = await conn.fetchrow(_LOGIN_CHECK)
    wrong = []
    if r["rolsuper"]:
        wrong.append("it is a superuser")
    if r["rolcreaterole"] or r["rolbypassrls"]:
        wrong.append("it may create roles or bypass row security")
    if r["member_of"]:
        wrong.append(f"it is a member of {', '.join(r['member_of'])} (SET ROLE would reach them)")
    if r["owns_tables"]:
        wrong.append("it owns the tables (the owner's login is for migrations and upkeep)")
    if not r["own_session"]:
        wrong.append("it acts as another role")
    if wrong:
        raise LoginError(
            f"应用的数据库登录 {r['rolname']} 权限过大：{'; '.join(wrong)}. The app logs in as a role "
            f"like {APP_ROLE} (README: Configuration, {APP_LOGIN_ENV})"
        )
