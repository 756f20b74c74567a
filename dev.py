#!/usr/bin/env python3
"""Set up and run the platform, or its tests, on a machine with only Python 3.11+.

    python3 dev.py run     # venv, dependencies, embedded PostgreSQL, demo data, API on :8000
    python3 dev.py test    # venv, dependencies, then the whole test suite
    python3 dev.py credit token --role state_organ   # any `credit` command, from the venv

Both use DATABASE_URL when it is set, otherwise an embedded PostgreSQL (the pgserver package).
Extra arguments go to `credit serve` or to pytest."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_env(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py runs under whatever python3 is)
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        return
    target = f".[{extras}]" if extras else "."
    print(f"installing {target} into {VENV}", flush=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", target],
        cwd=ROOT,
        check=True,
    )
    stamp.write_text(want)


def main() -> int:
    command, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "run":
        ensure_env("")
        return subprocess.call([str(BIN / "credit"), "serve", "--demo", *rest], cwd=ROOT)
    if command == "credit":
        ensure_env("")
        return subprocess.call([str(BIN / "credit"), *rest], cwd=ROOT)
    if command == "test":
        ensure_env("test")
        return subprocess.call([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
