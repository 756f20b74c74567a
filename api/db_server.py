"""Where the database is (DATABASE_URL or an embedded PostgreSQL whose data survives restarts),
and connecting to it: a connection, or one line saying why there is none."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from .config import Settings


class DatabaseUnreachable(Exception):
    """No connection to the database could be made (wrong address, server down, refused login)."""


# what connecting raises when the server cannot be reached or refuses the login: `credit` says
# so in one line naming DATABASE_URL (password hidden) and exits 2
UNREACHABLE = (
    DatabaseUnreachable, ConnectionError, TimeoutError, socket.gaierror,
    asyncpg.PostgresConnectionError, asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
)


def unreachable(error: BaseException) -> str:
    dsn = os.environ.get("DATABASE_URL")
    where = f"DATABASE_URL={_hide_password(dsn)}" if dsn else "the embedded database"
    reason = error.__cause__ if isinstance(error, DatabaseUnreachable) and error.__cause__ else error
    return (f"{where}: cannot connect ({type(reason).__name__}: {reason}); expected a running "
            "PostgreSQL reachable at that address that accepts that login")


def _hide_password(dsn: str) -> str:
    parts = urlsplit(dsn)
    user, at, host = parts.netloc.rpartition("@")
    if ":" in user:
        user = user.split(":", 1)[0] + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}{at}{host}"))


async def connect(dsn: str, **kwargs) -> asyncpg.Connection:
    """A connection, or DatabaseUnreachable saying why there is none."""
    try:
        return await asyncpg.connect(dsn, **kwargs)
    except (OSError, *UNREACHABLE[4:]) as e:
        raise DatabaseUnreachable(str(e)) from e


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when given; otherwise start (or reuse) an embedded PostgreSQL whose data
    lives in `<data_dir>/pgdata` and survives restarts."""
    if settings.database_url:
        return settings.database_url
    from .observe.lifecycle import hold

    hold(settings.data_dir / "pgdata")  # a stopping `credit serve` leaves it to live users
    return embedded_database_url(settings.data_dir / "pgdata", keep_running=True)


def embedded_database_url(path: Path, *, keep_running: bool) -> str:
    import warnings

    # platformdirs' warning about XDG_RUNTIME_DIR on every command: pgserver copes without it
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import pgserver  # imported here: only the embedded path needs it

    path.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(path, cleanup_mode=None if keep_running else "stop")
    return server.get_uri()
