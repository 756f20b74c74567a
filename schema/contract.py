"""The published contract: the schema's SDL, committed as `schema.graphql` at the repository
root so that portals and partner agencies build against a file, and a test fails when the code
and the file part ways. `credit schema export` writes it; `credit schema check` compares."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.config import ROOT

CONTRACT = ROOT / "schema.graphql"


def sdl() -> str:
    from . import schema

    return schema.as_str().rstrip("\n") + "\n"


def _export(settings, args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.write_text(sdl(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def _check(settings, args: argparse.Namespace) -> int:
    if not CONTRACT.exists() or CONTRACT.read_text(encoding="utf-8") != sdl():
        print(f"{CONTRACT.name} differs from the code: run `python3 dev.py credit schema export`", file=sys.stderr)
        return 1
    print(f"{CONTRACT.name} matches the code")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("schema", help="the GraphQL contract (schema.graphql)")
    cmds = s.add_subparsers(dest="schema_command", required=True)
    e = cmds.add_parser("export", help="write the SDL")
    e.add_argument("--out", default=str(CONTRACT))
    e.set_defaults(run=_export)
    cmds.add_parser("check", help="fail when schema.graphql differs from the code").set_defaults(run=_check)
