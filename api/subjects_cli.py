"""`credit subjects check-keys`: find stored subject keys that are not canonical.

Keys are stored NFKC-normalised, ASCII and checked (api/identifiers.py). Before that rule a
key in full-width digits (`１30902198503120213`) passed the check and made a second subject:
its records are invisible to the real subject and its lookups logged under another key. The
check reads every subject key (and the keys that authorizations, cases and tombstones hold),
reports each one that is not its own canonical form, says what it should be and whether that
subject exists too (a duplicate to merge), and exits 1 if it found any. It changes nothing:
merging two subjects moves records between them and is an act for the data office."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

import asyncpg

from .config import Settings
from .db_server import resolve_database_url
from .identifiers import OTHER_DOCUMENTS, IdentifierError, parse_subject_key

# Every column that holds a subject key, with the column naming its document type if any.
KEY_COLUMNS = (
    ("subjects", "key", "key_type"),
    ("records", "subject_key", None),
    ("authorizations", "subject_key", None),
    ("rights_cases", "subject_key", None),
    ("record_tombstones", "subject_key", None),
)


@dataclass(frozen=True)
class KeyFinding:
    table: str
    key: str
    canonical: str | None  # what it should be, None if it is no valid key at all
    problem: str
    duplicate: bool = False  # the canonical key is a subject too

    def line(self) -> str:
        shown = self.key.encode("unicode_escape").decode("ascii")
        fix = f" -> {self.canonical}" if self.canonical else ""
        dup = " (that subject exists too: merge them)" if self.duplicate else ""
        return f"{self.table}: {shown}{fix}: {self.problem}{dup}"


def classify_key(key: str, key_type: str | None, legacy_uscc: frozenset[str]) -> tuple[str | None, str | None]:
    """(canonical, problem); problem None when the key is canonical."""
    doc_type = key_type if key_type in OTHER_DOCUMENTS else None
    try:
        canonical = parse_subject_key(key, document_type=doc_type, legacy_uscc=legacy_uscc).value
    except IdentifierError as e:
        return None, f"not a valid key ({e.rule}): {e}"
    if canonical != key:
        return canonical, "not canonical (NFKC, ASCII, upper case, trimmed)"
    return canonical, None


async def check_keys(conn: asyncpg.Connection, legacy_uscc: frozenset[str] = frozenset()) -> list[KeyFinding]:
    """Every non-canonical key, streamed from a server-side cursor per column."""
    findings: list[KeyFinding] = []
    async with conn.transaction(readonly=True):
        for table, column, type_column in KEY_COLUMNS:
            typed = f", {type_column}" if type_column else ", NULL"
            sql = f"SELECT DISTINCT {column}{typed} FROM {table}"
            async for row in conn.cursor(sql):
                canonical, problem = classify_key(row[0], row[1], legacy_uscc)
                if problem is None:
                    continue
                duplicate = bool(
                    canonical
                    and await conn.fetchval("SELECT EXISTS (SELECT 1 FROM subjects WHERE key = $1)", canonical)
                )
                findings.append(KeyFinding(table, row[0], canonical, problem, duplicate))
    return findings


def register(subparsers: argparse._SubParsersAction) -> None:
    subjects = subparsers.add_parser("subjects", help="subject keys")
    sub = subjects.add_subparsers(dest="subjects_command", required=True)
    check = sub.add_parser("check-keys", help="list stored keys that are not canonical (exit 1 if any)")
    check.set_defaults(run=run_check_keys)


def run_check_keys(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> list[KeyFinding]:
        conn = await asyncpg.connect(resolve_database_url(settings))
        try:
            return await check_keys(conn, settings.legacy_uscc)
        finally:
            await conn.close()

    findings = asyncio.run(run())
    for f in findings:
        print(f.line())
    print(f"{len(findings)} key(s) not canonical" if findings else "every stored key is canonical")
    return 1 if findings else 0
