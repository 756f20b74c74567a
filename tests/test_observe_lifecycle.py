"""The embedded PostgreSQL stops with `credit serve` (issue 13), unless kept or still used by
another live server on the same data folder; the server says which. A real pgserver in a
temporary folder, real `credit serve` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET
from tests.test_ingestion_crash import ROOT
from tests.test_ingestion_crash import free_port
from tests.test_observe_http import PORTS

START_TIMEOUT = 120.0


class Serve:
    def __init__(self, data_dir: Path, *extra: str, env: dict[str, str] | None = None):
        self.port = free_port(PORTS)
        self.log = data_dir / f"serve-{self.port}.log"
        full = {k: v for k, v in os.environ.items()
                if not k.startswith(("CREDIT_", "PROMETHEUS_")) and k != "DATABASE_URL"}
        full.update(CREDIT_JWT_SECRET=TEST_SECRET, CREDIT_AUDIT_KEY=TEST_AUDIT_KEY,
                    CREDIT_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), CREDIT_LOG_FORMAT="text",
                    **(env or {}))
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port), *extra],
                cwd=ROOT, env=full, stderr=out, stdout=subprocess.DEVNULL)

    async def ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        async with httpx.AsyncClient() as c:
            while loop.time() < deadline:
                assert self.proc.poll() is None, self.log.read_text()[-2000:]
                try:
                    if (await c.get(f"http://127.0.0.1:{self.port}/health/live")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)  # polling for the condition, bounded above
        raise AssertionError("credit serve did not start")

    async def stop(self, sig: int = signal.SIGTERM) -> str:
        self.proc.send_signal(sig)
        code = await asyncio.to_thread(self.proc.wait, 60)
        assert code in (0, 128 + sig), (code, self.log.read_text()[-2000:])
        return self.log.read_text()


def postmaster_alive(pgdata: Path) -> bool:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def data_dir():
    with tempfile.TemporaryDirectory(prefix="credit-lifecycle-") as d:
        path = Path(d)
        yield path
        if postmaster_alive(path / "pgdata"):  # a failed test must not leave a server behind
            from api.observe.lifecycle import _stop

            _stop(path / "pgdata")


async def test_the_last_server_to_stop_stops_the_embedded_database(data_dir):
    pgdata = data_dir / "pgdata"
    first = Serve(data_dir)
    await first.ready()
    second = Serve(data_dir)
    await second.ready()
    assert postmaster_alive(pgdata)
    said = await first.stop()
    assert "left running: another process is using it" in said
    assert postmaster_alive(pgdata)
    async with httpx.AsyncClient() as c:  # the other server still serves
        assert (await c.get(f"http://127.0.0.1:{second.port}/health/ready")).status_code == 200
    said = await second.stop(signal.SIGINT)
    assert "embedded PostgreSQL stopped" in said
    assert not postmaster_alive(pgdata)


async def test_keep_database_leaves_it_running_and_says_so(data_dir):
    pgdata = data_dir / "pgdata"
    server = Serve(data_dir, "--keep-database")
    await server.ready()
    said = await server.stop()
    assert "embedded PostgreSQL left running as asked" in said
    assert postmaster_alive(pgdata)
