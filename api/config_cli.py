"""`credit config check|table` and `credit operations check|add`: the configuration as the
platform reads it, and the persisted-operations manifest portals ship."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .config import Settings
from .environment import markdown_table
from .operations import FORMAT, load_manifest, manifest_entry


def register(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="check the configuration, or print its README table")
    cs = config.add_subparsers(dest="config_command", required=True)
    cs.add_parser("check", help="read every variable; one line per problem, exit 2").set_defaults(run=_check)
    cs.add_parser("table", help="the README's configuration table, from the settings model").set_defaults(run=_table)
    ops = sub.add_parser("operations", help="the persisted-operations manifest (CREDIT_PERSISTED_OPERATIONS)")
    os_ = ops.add_subparsers(dest="operations_command", required=True)
    os_.add_parser("check", help="every id is its document's sha256").set_defaults(run=_ops_check)
    add = os_.add_parser("add", help="add .graphql documents (one operation each) to the manifest")
    add.add_argument("files", nargs="+", type=Path)
    add.set_defaults(run=_ops_add)


def _check(settings: Settings, args: argparse.Namespace) -> None:
    print(f"configuration ok ({settings.mode} mode)")


def _table(settings: Settings, args: argparse.Namespace) -> None:
    print(markdown_table(), end="")


def _ops_check(settings: Settings, args: argparse.Namespace) -> None:
    listed = load_manifest(settings.persisted_operations)
    print(f"{settings.persisted_operations}: {len(listed)} operations, every id its document's sha256")


def _ops_add(settings: Settings, args: argparse.Namespace) -> None:
    path = settings.persisted_operations
    load_manifest(path)  # refuse to add to a broken manifest
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {
        "format": FORMAT, "version": 1, "operations": []}
    known = {op["id"] for op in data["operations"]}
    for file in args.files:
        entry = manifest_entry(file.read_text(encoding="utf-8"))
        if entry["id"] not in known:
            data["operations"].append(entry)
            known.add(entry["id"])
            print(f"added {entry['name'] or file.name} {entry['id']}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
