"""A throw-away database for a benchmark: a fresh `credit_bench_<random>` on DATABASE_URL's
server, or on an embedded PostgreSQL (pgserver) in a temporary folder; dropped (and the
embedded server stopped) by `close`, whatever happened in between."""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from api.db_server import embedded_database_url


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


@dataclass
class BenchDatabase:
    dsn: str
    dbname: str
    kind: str  # said in the output: which server
    server_version: str
    tmpdir: Path  # for logs and data files; removed by close()
    _base: str
    _tmp: tempfile.TemporaryDirectory
    _embedded: Path | None

    async def close(self) -> None:
        try:
            admin = await asyncpg.connect(self._base)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
            finally:
                await admin.close()
        except Exception as e:  # report, keep cleaning up
            print(f"warning: could not drop {self.dbname}: {e}", file=sys.stderr)
        if self._embedded is not None:
            import atexit

            import pgserver

            server = pgserver.get_server(self._embedded)
            server.cleanup()  # stops it: this process holds the only handle
            atexit.unregister(server._cleanup)  # its folder is about to go
        self._tmp.cleanup()


async def open_bench_database(prefix: str) -> BenchDatabase:
    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    tmpdir = Path(tmp.name)
    base = os.environ.get("DATABASE_URL")
    embedded = None
    if base:
        where = urlsplit(base)._replace(netloc=urlsplit(base).hostname or "").geturl()
        kind = f"DATABASE_URL server ({where})"
    else:
        embedded = tmpdir / "pgdata"
        base = embedded_database_url(embedded, keep_running=False)
        kind = "embedded PostgreSQL (pgserver)"
    dbname = f"credit_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{dbname}"')
        version = await admin.fetchval("SHOW server_version")
    finally:
        await admin.close()
    return BenchDatabase(with_database(base, dbname), dbname, kind, version, tmpdir, base, tmp, embedded)
