"""The lookup benchmark's servers (bench/lookup.py): a free port, uvicorn started, waited for and
stopped, the peer waited for, and py-spy on the server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from lookup_http import HttpConnection

ROOT = Path(__file__).resolve().parent.parent
WORKERS = [1]  # uvicorn worker processes; set from --workers


def free_port() -> int:
    """A free port; BENCH_PORTS=first-last keeps to a range (a shared machine's allotment)."""
    first, _, last = os.environ.get("BENCH_PORTS", "0-0").partition("-")
    for port in range(int(first), int(last or first) + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise SystemExit(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def start_server(app: str, env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--workers",
        str(WORKERS[0]),
    ]
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_healthy(
    proc: subprocess.Popen, port: int, log_path: Path, timeout: float = 60
) -> None:
    probe = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    await _wait_for_200(proc, port, probe, log_path, timeout, "uvicorn", "uvicorn not healthy")


def start_py_spy(args, pid: int) -> subprocess.Popen:
    """Sample the server for the measured window (py-spy must be on PATH or given). `.txt`
    output is py-spy's collapsed stacks ("raw"), anything else a speedscope JSON."""
    exe = os.environ.get("PY_SPY", "py-spy")
    fmt = "raw" if args.py_spy.endswith(".txt") else "speedscope"
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(args.duration))),
            "--rate",
            "200",
            "--format",
            fmt,
            "--output",
            args.py_spy,
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown (runs the lifespan exit)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


async def wait_peer_ready(proc: subprocess.Popen, port: int, log_path: Path, timeout: float = 60) -> None:
    """PostGraphile has no health route: ready when an anonymous `{__typename}` gets a 200."""
    body = b'{"query":"{__typename}"}'
    probe = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    await _wait_for_200(proc, port, probe, log_path, timeout, "peer: node", "peer not ready")


async def _wait_for_200(
    proc: subprocess.Popen, port: int, probe: bytes, log_path: Path, timeout: float,
    who: str, not_ready: str,
) -> None:
    """Send `probe` every 0.1 s until it gets a 200; the process's log on exit or timeout. A
    connection refused or closed mid-answer (the server still starting) is tried again."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"{who} exited with {proc.returncode} during start-up:\n{log_path.read_text()[-3000:]}"
            )
        conn = HttpConnection("127.0.0.1", port)
        try:
            status, answer = await conn.request(probe)
            if status == 200:
                return
            last = f"HTTP {status} {answer[:200]!r}"
        except (OSError, asyncio.IncompleteReadError) as e:
            last = str(e) or type(e).__name__
        finally:
            conn.close()
        await asyncio.sleep(0.1)
    raise SystemExit(f"{not_ready} after {timeout:.0f} s ({last}):\n{log_path.read_text()[-3000:]}")
