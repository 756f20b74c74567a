"""The embedded PostgreSQL (pgserver) outlives nothing by surprise: `credit serve` stops it when
the server stops, unless asked to keep it (`--keep-database`, CREDIT_KEEP_DATABASE=1), and says
which happened.

Several processes may use one data folder at once (two `credit serve`, a `credit` command run
beside a server, uvicorn's workers). Each process that resolves the embedded database holds a
shared lock on `<data dir>/pgdata.users` for as long as it lives (the kernel drops it when the
process dies, crash included). A stopping server gives up its own share, then tries for the
lock exclusively without waiting: it gets it only when no other live process holds a share, and
only then stops PostgreSQL, holding the lock while it does, so a process starting meanwhile waits
for the stop and then starts the database afresh. Two servers stopping together: whichever asks
last stops it. Where file locks are not available (Windows) the database is left running."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("credit.lifecycle")
KEEP_ENV = "CREDIT_KEEP_DATABASE"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

_held: dict[Path, int] = {}


def _lock_file(pgdata: Path) -> Path:
    return pgdata.parent / (pgdata.name + ".users")


def hold(pgdata: Path) -> None:
    """This process uses the embedded database in `pgdata` until it exits (idempotent). Waits
    while another process is stopping it."""
    pgdata = pgdata.resolve()
    if fcntl is None or pgdata in _held:
        return
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_lock_file(pgdata), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _held[pgdata] = fd


def keep_requested(flag: bool = False, env: dict[str, str] | None = None) -> bool:
    value = (os.environ if env is None else env).get(KEEP_ENV, "").strip().lower()
    return flag or value in ("1", "true", "on", "yes")


def finish(pgdata: Path, *, keep: bool) -> str:
    """At the end of `credit serve`: stop the embedded database unless kept or still used.
    Returns (and logs) what happened."""
    pgdata = pgdata.resolve()
    if keep:
        return _say(f"embedded PostgreSQL left running as asked ({KEEP_ENV}/--keep-database); "
                    f"data in {pgdata}; the next `credit serve` uses it")
    if fcntl is None:
        return _say(f"embedded PostgreSQL left running (no file locks here to tell whether "
                    f"another process uses it); data in {pgdata}")
    own = _held.pop(pgdata, None)
    if own is not None:
        os.close(own)  # give up this process's share first
    fd = os.open(_lock_file(pgdata), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _say(f"embedded PostgreSQL left running: another process is using it "
                        f"(data in {pgdata}); the last one to stop stops it")
        if not _running(pgdata):
            return _say(f"embedded PostgreSQL was not running (data in {pgdata})")
        _stop(pgdata)
        return _say(f"embedded PostgreSQL stopped (data in {pgdata})")
    finally:
        os.close(fd)


def _running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # runs as another user (pgserver's, under root): it exists
        return True
    return True


def _stop(pgdata: Path) -> None:
    import pgserver
    from pgserver import pg_ctl

    server = pgserver.get_server(pgdata, cleanup_mode=None)  # this process's handle: the OS user
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user, timeout=60)


def _say(message: str) -> str:
    log.info(message)
    return message
