"""Reloading the policy without a restart. Every running server looks at policies/ every few
seconds and LISTENs on `credit_policy`, where `credit policy reload` NOTIFYs. A changed file is
read, checked and compiled whole (api/auth/policy_file.py) before it takes effect; a file that
fails keeps the policy in force, is logged loudly and written to the trail as refused. Each
version that takes effect is an act in the trail with its digest, recorded once however many
processes pick it up, and before any of them decides with it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from ..audit.trail import record_act
from ..errors import PolicyUnavailable
from .policy import Policy
from .policy_file import file_digest
from .principal import Principal

log = logging.getLogger("credit.policy")

CHANNEL = "credit_policy"
_LAST_ACT = """
SELECT operation, details FROM query_log
WHERE kind = 'policy' AND retention = 'long_term' ORDER BY id DESC LIMIT 1
"""
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('credit_policy'))"


async def record_version(
    conn: asyncpg.Connection, actor: Principal, policy: Policy, *, previous: str | None, trigger: str
) -> bool:
    """The act `policy.reload` with the new digest, unless the trail's last policy act already
    has it (another process, or the operator's command, recorded this version)."""
    async with conn.transaction():
        await conn.execute(_LOCK)
        last = await conn.fetchrow(_LAST_ACT)
        if last is not None and last["operation"] != "policy.rejected" and _digest(last) == policy.digest:
            return False
        await record_act(
            conn, actor, kind="policy", operation="policy.reload",
            details={"digest": policy.digest, "previous": previous, "trigger": trigger,
                     "rules": policy.rule_counts()},
        )
    return True


async def record_rejection(
    conn: asyncpg.Connection, actor: Principal, *, rejected: str | None, in_force: str | None,
    error: str, trigger: str,
) -> bool:
    """A policy file that was refused, once per file version; `digest` stays the one in force."""
    async with conn.transaction():
        await conn.execute(_LOCK)
        last = await conn.fetchrow(_LAST_ACT)
        if last is not None and last["operation"] == "policy.rejected" and _details(last).get("rejected") == rejected:
            return False
        if in_force is None and last is not None:  # the operator's command: what the trail last knew
            in_force = _digest(last)
        await record_act(
            conn, actor, kind="policy", operation="policy.rejected",
            details={"digest": in_force, "rejected": rejected, "error": error, "trigger": trigger},
        )
    return True


def _details(row: asyncpg.Record) -> dict[str, Any]:
    d = row["details"]
    return json.loads(d) if isinstance(d, str) else dict(d or {})


def _digest(row: asyncpg.Record) -> str | None:
    return _details(row).get("digest")


class HasPolicy(Protocol):
    pool: asyncpg.Pool
    policy: Policy


class PolicyFollower:
    """Keeps one process's policy current: a poll of the files and a LISTEN that reconnects
    after the database comes back (a NOTIFY missed meanwhile is made up by a check)."""

    def __init__(
        self, state: HasPolicy, dsn: str, directory: Path, *, poll_seconds: float = 2.0,
        legacy_uscc: frozenset[str] = frozenset(),
    ):
        from ..audit.upkeep import PLATFORM

        self.state, self.dsn, self.directory = state, dsn, directory
        self.poll_seconds = poll_seconds
        self.legacy_uscc = legacy_uscc
        self.actor = PLATFORM
        self.connections = 0  # LISTEN connections made so far (tests wait on reconnects)
        self.backend_pid: int | None = None
        self._rejected: str | None = None  # the file version last refused, reported once
        self._logged: str | None = None
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task] = []

    async def start(self, timeout: float = 10) -> None:
        """Start following; returns once LISTEN is in place (or after `timeout`, still trying)."""
        self._tasks = [asyncio.create_task(self._poll()), asyncio.create_task(self._listen())]
        try:
            await self.wait_until(lambda f: f.connections > 0, timeout)
        except TimeoutError:
            log.error("policy follower could not LISTEN on %s yet; file changes are still followed", CHANNEL)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def check(self, trigger: str) -> bool:
        """Reload if the files changed; True if a new policy took effect."""
        async with self._lock:
            changed = await self._check(trigger)
        async with self._changed:
            self._changed.notify_all()
        return changed

    async def _check(self, trigger: str) -> bool:
        current = self.state.policy.digest
        digest = await asyncio.to_thread(file_digest, self.directory)
        if digest == current:
            self._rejected = None
            return False
        if digest is not None and digest == self._rejected:
            return False
        try:
            new = await asyncio.to_thread(Policy.load, self.directory, self.legacy_uscc)
        except PolicyUnavailable as e:
            if self._logged != digest:
                log.error("POLICY NOT RELOADED, the policy in force (%s) stays: %s", current[:12], e)
                self._logged = digest
            async with self.state.pool.acquire() as conn:
                await record_rejection(
                    conn, self.actor, rejected=digest, in_force=current, error=str(e), trigger=trigger
                )
            self._rejected = digest  # reported: not read again until the file changes
            return False
        if new.digest == current:
            return False
        async with self.state.pool.acquire() as conn:  # recorded before it decides anything
            await record_version(conn, self.actor, new, previous=current, trigger=trigger)
        self.state.policy.replace_with(new)
        self._rejected = None
        log.warning("policy reloaded (%s): %s -> %s", trigger, current[:12], new.digest[:12])
        return True

    async def _checked(self, trigger: str) -> None:
        try:
            await self.check(trigger)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            log.warning("policy check failed, will retry: %s", e)  # the old policy stays
        except Exception:  # keep following; the policy in force stays
            log.exception("policy check failed")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            await self._checked("file")

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                conn = await asyncpg.connect(self.dsn, server_settings={"application_name": "credit_policy_follower"})
            except (OSError, asyncpg.PostgresError) as e:
                log.warning("policy follower cannot connect, retrying in %.0f s: %s", delay, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            delay = 0.5
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            try:
                await conn.add_listener(CHANNEL, lambda *_: self._spawn("notify"))
                self.connections += 1
                self.backend_pid = conn.get_server_pid()
                if self.connections > 1:  # a NOTIFY may have come while we were away
                    await self._checked("reconnect")
                async with self._changed:
                    self._changed.notify_all()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 10)
                    if not lost.is_set():
                        await asyncio.wait_for(conn.execute("SELECT 1"), 5)  # a dead peer shows here
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as e:
                log.warning("policy follower lost its connection, reconnecting: %s", e)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
            log.warning("policy follower connection closed, reconnecting")

    def _spawn(self, trigger: str) -> None:
        task = asyncio.get_running_loop().create_task(self._checked(trigger))
        self._tasks.append(task)
        task.add_done_callback(lambda t: t in self._tasks and self._tasks.remove(t))

    async def wait_until(self, predicate: Callable[[PolicyFollower], bool], timeout: float = 10) -> None:
        """Wait until predicate holds, looked at after every check and every (re)connection."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout)

    async def wait_for(self, digest: str, timeout: float = 10) -> None:
        """Wait until the policy in force has `digest`."""
        await self.wait_until(lambda f: f.state.policy.digest == digest, timeout)

    @property
    def rejected(self) -> str | None:
        """The digest of the file version last refused, while it is still on disk."""
        return self._rejected


@asynccontextmanager
async def follow_policy(dsn: str, state: HasPolicy, settings) -> AsyncIterator[PolicyFollower]:
    follower = PolicyFollower(
        state, dsn, settings.policy_dir, poll_seconds=settings.policy_poll_seconds,
        legacy_uscc=settings.legacy_uscc,
    )
    await follower.start()
    try:
        yield follower
    finally:
        await follower.close()


# `credit policy reload`


def register(subparsers: argparse._SubParsersAction) -> None:
    policy = subparsers.add_parser("policy", help="the disclosure policy (policies/)")
    sub = policy.add_subparsers(dest="policy_command", required=True)
    reload = sub.add_parser(
        "reload", help="check policies/ and make every running server use it now (NOTIFY)"
    )
    reload.add_argument("--operator-name", required=True, help="your real name, for the audit trail")
    reload.add_argument("--org", help="your organisation's USCC (default: the data office)")
    reload.add_argument("--org-name", help="your organisation's name")
    reload.set_defaults(run=run_reload)
    check = sub.add_parser("check", help="check policies/ without loading it anywhere")
    check.set_defaults(run=run_check)


def run_check(settings, args: argparse.Namespace) -> int:
    policy = Policy.load(settings.policy_dir, settings.legacy_uscc)  # PolicyFileError: exit 2
    print(f"{settings.policy_dir}: ok, digest {policy.digest}, rules {policy.rule_counts()}")
    return 0


def run_reload(settings, args: argparse.Namespace) -> int:
    from ..workdays.cli import operator

    if args.org is None:
        from ..demo import DATA_OFFICE

        args.org = DATA_OFFICE
    return asyncio.run(reload_everywhere(settings, operator(args)))


async def reload_everywhere(settings, actor: Principal) -> int:
    """Check the files; if they pass, record the version as the operator's act and NOTIFY every
    server; if not, record the refusal and say why (exit 2), leaving every server as it is."""
    from ..db import create_pool
    from ..db_server import resolve_database_url

    dsn = resolve_database_url(settings)
    pool = await create_pool(dsn, audit_key=settings.audit_key, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            try:
                policy = Policy.load(settings.policy_dir, settings.legacy_uscc)
            except PolicyUnavailable as e:
                await record_rejection(
                    conn, actor, rejected=file_digest(settings.policy_dir), in_force=None,
                    error=str(e), trigger="cli",
                )
                raise
            recorded = await record_version(conn, actor, policy, previous=None, trigger="cli")
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, policy.digest)
    finally:
        await pool.close()
    state = "recorded" if recorded else "already in the trail"
    print(f"policy {policy.digest} {state}; running servers notified on {CHANNEL}")
    return 0
