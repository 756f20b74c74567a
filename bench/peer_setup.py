"""The lookup benchmark's peer (bench/README.md, Peer): PostGraphile v4 over row-level security
on the bench database, started as node process(es). Set-up, the server's life, its token and
query; `lookup.py --peer` measures it, tests/test_bench_peer.py checks its answer.

Needs node and npm; `ensure_node_modules` runs `npm ci` into bench/peer/node_modules the first
time (pinned by bench/peer/package-lock.json), later runs reuse it."""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import subprocess
import time
from pathlib import Path

import asyncpg
import jwt

PEER_DIR = Path(__file__).resolve().parent / "peer"
POLICY_CSV = Path(__file__).resolve().parent.parent / "policies" / "policy.csv"
ROLE = "peer_credit_service"  # the PostgreSQL role of a credit service agency's token
AUDIENCE = "postgraphile"
# The platform's bench query, the PostGraphile way: the lookup is a mutation (it writes the log
# row); its payload is that row, the subject and its records, read under row-level security.
QUERY = (
    "mutation($k: String!, $p: String){ lookupSubject(input: {key: $k, purpose: $p}) { lookup { "
    "outcome withheld authorizationIds subject: subjectBySubjectKey { key name "
    "records: recordsBySubjectKeyList { id itemCode decidedOn data status } } } } }"
)


class PeerUnavailable(Exception):
    """node/npm missing or the packages cannot be installed: the peer is skipped."""


def node_missing() -> str | None:
    """Why the peer cannot run here, or None."""
    for exe in ("node", "npm"):
        if shutil.which(exe) is None:
            return f"{exe} not found on PATH"
    return None


def node_modules_ready() -> bool:
    return (PEER_DIR / "node_modules" / "postgraphile" / "package.json").is_file()


def ensure_node_modules(timeout: float = 600) -> str:
    """`npm ci` into bench/peer/node_modules unless already there; returns what was done."""
    why = node_missing()
    if why:
        raise PeerUnavailable(why)
    if node_modules_ready():
        return "bench/peer/node_modules present"
    t0 = time.monotonic()
    try:
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PEER_DIR, capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        raise PeerUnavailable(f"npm ci did not finish in {timeout:.0f} s") from e
    if done.returncode != 0:
        raise PeerUnavailable(f"npm ci failed: {(done.stderr or done.stdout)[-1500:]}")
    return f"npm ci into bench/peer/node_modules ({time.monotonic() - t0:.0f} s)"


def entitlement_lines(policy_csv: Path = POLICY_CSV) -> list[tuple[str, str, list[str] | None]]:
    """The policy's p2 lines (who, item, fields or None for all), the platform's own source."""
    out = []
    with open(policy_csv, encoding="utf-8") as f:
        for row in csv.reader(line for line in f if not line.lstrip().startswith("#")):
            row = [c.strip() for c in row]
            if len(row) >= 4 and row[0] == "p2":
                fields = None if row[3] == "*" else [x for x in row[3].split("|") if x]
                out.append((row[1], row[2], fields))
    return out


async def install(dsn: str, audit_key: bytes) -> str:
    """Schema `peer` on the bench database (after the migrations and the demo data). Returns
    how log rows are signed: 'hmac-sha256 (pgcrypto)' or 'sha256(key || row) (no pgcrypto)'."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute((PEER_DIR / "peer.sql").read_text(encoding="utf-8"))
            await conn.executemany(
                "INSERT INTO peer_private.entitlements (who, item, fields) VALUES ($1, $2, $3)",
                entitlement_lines(),
            )
            await conn.execute("INSERT INTO peer_private.log_key (key) VALUES ($1)", audit_key)
        try:
            async with conn.transaction():
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA peer_private")
            schema = await conn.fetchval(
                "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pgcrypto'"
            )
            body, kind = (
                f"SELECT {schema}.hmac(convert_to(message, 'UTF8'), key, 'sha256')",
                "hmac-sha256 (pgcrypto)",
            )
        except asyncpg.PostgresError:  # the server has no pgcrypto (the embedded pgserver)
            body, kind = "SELECT sha256(key || convert_to(message, 'UTF8'))", "sha256(key || row) (no pgcrypto)"
        await conn.execute(
            "CREATE FUNCTION peer_private.mac(key bytea, message text) RETURNS bytea "
            f"LANGUAGE sql IMMUTABLE AS $$ {body} $$;"
            "REVOKE ALL ON FUNCTION peer_private.mac(bytea, text) FROM PUBLIC"
        )
        return kind
    finally:
        await conn.close()


def token(secret: str, *, org: str, name: str, sub: str = "bench", ttl: float = 3600) -> str:
    """A credit service agency's token for the peer (PostGraphile's JWT: role + claims)."""
    now = dt.datetime.now(dt.timezone.utc)
    claims = {
        "role": ROLE, "org": org, "name": name, "sub": sub, "aud": AUDIENCE,
        "iat": now, "exp": now + dt.timedelta(seconds=ttl),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def start(dsn: str, port: int, secret: str, *, workers: int, pool_size: int, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PEER_DATABASE_URL": dsn,
        "PEER_PORT": str(port),
        "PEER_JWT_SECRET": secret,
        "PEER_WORKERS": str(workers),
        "PEER_POOL_SIZE": str(pool_size),
        "NODE_ENV": "production",
    }
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            ["node", str(PEER_DIR / "server.js")], cwd=PEER_DIR, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server (its cluster workers follow), then its process group if needed."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    try:  # workers left behind by a primary that died first
        os.killpg(proc.pid, 15)
    except (ProcessLookupError, PermissionError):
        pass


def lookup_of(doc: dict) -> dict:
    """The `lookup` of a peer response, or a clear error."""
    if doc.get("errors"):
        raise ValueError(f"peer returned errors: {doc['errors']}")
    found = ((doc.get("data") or {}).get("lookupSubject") or {}).get("lookup")
    if not found:
        raise ValueError(f"peer returned no lookup: {doc}")
    return found
