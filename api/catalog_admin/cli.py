"""`credit catalog import FILE --year Y [--publish]`, `credit catalog export --year Y`,
`credit catalog publish --year Y`: the credit office's catalog file, YAML (format in
api/catalog_admin/definition.py). The shipped default: api/catalog_admin/default_catalog.yaml.
`credit catalog template ITEM`: a sample upload CSV for a provider (api/ingestion/template.py)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from ..auth.principal import Principal
from ..catalog import Catalog, china_today
from ..config import Settings
from ..db import create_pool
from ..db_migrate import migrate
from ..db_server import resolve_database_url
from ..demo import CREDIT_OFFICE, DEFAULT_CATALOG, ORGANISATIONS
from ..errors import InvalidInput
from ..ingestion.template import template_csv
from ..i18n import _
from .definition import DefinitionError, load_yaml
from .service import export_catalog, import_catalog, publish_catalog


def register(subparsers: argparse._SubParsersAction) -> None:
    catalog = subparsers.add_parser("catalog", help="the yearly catalog (Art. 9): import, export, publish")
    sub = catalog.add_subparsers(dest="catalog_command", required=True)
    imp = sub.add_parser("import", help=f"replace the draft of a year with a YAML file (default catalog: {DEFAULT_CATALOG.name})")
    imp.add_argument("file", type=Path)
    imp.add_argument("--year", type=int, required=True)
    imp.add_argument("--publish", action="store_true", help="publish the year right after the import")
    imp.add_argument("--note")
    imp.add_argument("--operator-name", required=True, help="your real name, for the audit trail")
    imp.set_defaults(run=run_import)
    exp = sub.add_parser("export", help="write a year's catalog (published or draft) as YAML")
    exp.add_argument("--year", type=int, required=True)
    exp.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    exp.set_defaults(run=run_export)
    pub = sub.add_parser("publish", help="publish a year's draft")
    pub.add_argument("--year", type=int, required=True)
    pub.add_argument("--operator-name", required=True)
    pub.set_defaults(run=run_publish)
    tpl = sub.add_parser("template", help="write a sample upload CSV for an item: Chinese column names, one example row")
    tpl.add_argument("item", help="the item's code, e.g. ADM_LICENSING")
    tpl.add_argument("--encoding", choices=("utf-8-sig", "gbk", "gb18030", "utf-8"), default="utf-8-sig",
                     help="utf-8-sig (default: UTF-8 with a byte-order mark, which Excel reads) or gbk")
    tpl.add_argument("--out", "-o", type=Path, help="file to write (default: standard output)")
    tpl.set_defaults(run=run_template)


def operator(args: argparse.Namespace) -> Principal:
    name = (args.operator_name or "").strip()
    if not name:
        raise InvalidInput(_("--operator-name must give your real name"), field="operator-name")
    return Principal(
        user_id=getpass.getuser(),
        name=name,
        org_code=CREDIT_OFFICE,
        org_name=next(n for c, n, _ in ORGANISATIONS if c == CREDIT_OFFICE),
        roles=("credit_office",),
    )


async def _with_pool(settings: Settings, work):
    dsn = resolve_database_url(settings)
    await migrate(dsn, settings.migrations_dir)
    pool = await create_pool(dsn, audit_key=settings.audit_key, min_size=1, max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


def run_import(settings: Settings, args: argparse.Namespace) -> int:
    actor = operator(args)
    try:
        document = load_yaml(args.file.read_text(encoding="utf-8"), year=args.year)
    except DefinitionError as e:
        print(f"credit: {args.file} is not a valid catalog:", file=sys.stderr)
        for p in e.problems:
            print(f"  {p}", file=sys.stderr)
        return 2

    async def work(pool):
        y = await import_catalog(pool, actor, args.year, document, note=args.note)
        if args.publish:
            catalog = Catalog(pool)
            await catalog.reload()
            y = await publish_catalog(pool, catalog, actor, args.year)
        return y

    y = asyncio.run(_with_pool(settings, work))
    print(f"{y.year} catalog: {len(document.items)} items, {y.status}")
    return 0


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    text = asyncio.run(_with_pool(settings, lambda pool: export_catalog(pool, args.year)))
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def run_publish(settings: Settings, args: argparse.Namespace) -> int:
    actor = operator(args)

    async def work(pool):
        catalog = Catalog(pool)
        await catalog.reload()
        return await publish_catalog(pool, catalog, actor, args.year)

    y = asyncio.run(_with_pool(settings, work))
    print(f"{y.year} catalog published")
    return 0


def run_template(settings: Settings, args: argparse.Namespace) -> int:
    async def work(pool):
        catalog = Catalog(pool)
        await catalog.reload()
        return catalog.current(args.item)

    item = asyncio.run(_with_pool(settings, work))
    if item is None:
        print(f"credit: {args.item!r} 不是已发布目录中的信息项 / is not an item of a published catalog",
              file=sys.stderr)
        return 2
    try:
        data = template_csv(item, china_today()).encode(args.encoding)
    except UnicodeEncodeError as e:
        print(f"credit: {args.encoding} 无法表示字符 {e.object[e.start]!r}，请用 --encoding utf-8-sig / "
              f"{args.encoding} cannot write {e.object[e.start]!r}; use --encoding utf-8-sig", file=sys.stderr)
        return 2
    if args.out:
        args.out.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0
