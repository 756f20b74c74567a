"""`credit`: serve, migrate, seed-demo, token, and the commands each capability registers."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable

from . import demo
from .config import ConfigError, Settings
from .db import create_pool
from .db_login import LoginError
from .db_migrate import MigrationError, migrate
from .db_server import UNREACHABLE, resolve_database_url, unreachable
from .deployment import refuse_in_deployment
from .environment import unknown_variables
from .errors import DomainError

# Who a locally minted token speaks for, per role (demo organisations; valid codes).
TOKEN_PRESETS = {
    "subject": {"name": "张伟", "org": demo.AGENCY2, "org_name": "个人（自助服务）",
                "subject_key": demo.PERSON, "real_name_verified": True},
    "state_organ": {"name": "王芳", "org": demo.HOUSING, "org_name": "沧州市住房和城乡建设局"},
    "credit_service": {"name": "赵敏", "org": demo.AGENCY, "org_name": "沧州信达信用评估有限公司"},
    "provider": {"name": "刘洋", "org": demo.MARKET, "org_name": "沧州市市场监督管理局"},
    "credit_office": {"name": "陈静", "org": demo.CREDIT_OFFICE, "org_name": "沧州市行政审批局"},
    "data_office": {"name": "杨帆", "org": demo.DATA_OFFICE, "org_name": "沧州市大数据服务中心"},
    "auditor": {"name": "孙丽", "org": demo.AUDIT, "org_name": "沧州市审计局"},
}

# Modules with `register(subparsers)`: each adds its commands with set_defaults(run=fn), where
# fn(settings, args) returns an exit code or None.
COMMAND_MODULES: list[str] = ["api.audit.cli", "api.catalog_admin.cli", "api.ingestion.cli", "api.workdays.cli", "api.rights.cli", "api.backup.cli", "schema.contract"]
COMMAND_MODULES.append("api.authorizations.cli")  # Art. 19: anomalies, use summaries
COMMAND_MODULES.append("api.subjects_cli")  # credit subjects check-keys
COMMAND_MODULES.append("api.auth.policy_reload")  # credit policy reload|check
COMMAND_MODULES.append("api.config_cli")  # credit config check|table, credit operations check|add


async def prepare_database(settings: Settings, *, seed: bool = False) -> str:
    """Migrate (and optionally seed the demo); returns the DSN."""
    dsn = resolve_database_url(settings)
    for name in await migrate(dsn, settings.migrations_dir):
        print(f"applied {name}")
    from .audit.upkeep import partitions_ready

    await partitions_ready(dsn)  # a detached month re-attached, or one line and exit
    if seed:
        pool = await create_pool(dsn, audit_key=settings.audit_key, min_size=1, max_size=2)
        try:
            counts = await demo.seed_demo(pool)
        finally:
            await pool.close()
        print("demo data: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    return dsn


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from .auth.policy import Policy

    if args.demo:
        refuse_in_deployment(settings.mode, "--demo (demo data, introspection)")
    Policy.load(settings.policy_dir, settings.legacy_uscc)  # a faulty policy file: one line naming file and line, exit 2
    asyncio.run(prepare_database(settings, seed=args.demo))
    if args.demo:
        os.environ.setdefault("CREDIT_GRAPHQL_INTROSPECTION", "1")  # GraphiQL's schema, hints
        print(json.dumps({"graphiql": f"http://{args.host}:{args.port}/graphql",
                          "token": "credit token --role state_organ"}, ensure_ascii=False))
    print(f"credit: {settings.mode} mode (CREDIT_MODE; README \"Deployment mode\")", file=sys.stderr)
    from .guard.protocol import BoundedHttpToolsProtocol
    from .observe import lifecycle

    if args.workers > 1:  # README "Watching it run": one /metrics for all workers
        _multiprocess_metrics(settings.data_dir / f"metrics-{args.port}")
    # a signal ends uvicorn.run with SystemExit (uvicorn re-raises it once it has shut down), so
    # the embedded database is dealt with below before the process exits
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_on)
    try:
        # proxy_headers=False: uvicorn must not rewrite the client address from X-Forwarded-For;
        # the app applies CREDIT_TRUSTED_PROXIES itself (api/auth/request_info.py)
        uvicorn.run("api.asgi:app", host=args.host, port=args.port, workers=args.workers,
                    log_level="info", access_log=False, http=BoundedHttpToolsProtocol,
                    proxy_headers=False, forwarded_allow_ips="", log_config=None,
                    # a backstop behind the guard's own grace period (README "Limits and overload")
                    timeout_graceful_shutdown=int(settings.limits.shutdown_grace_seconds) + 15)
    finally:
        if settings.database_url is None:  # the embedded PostgreSQL: stop it unless kept or used
            lifecycle.finish(settings.data_dir / "pgdata",
                             keep=lifecycle.keep_requested(args.keep_database))


def _exit_on(sig: int, frame) -> None:
    raise SystemExit(128 + sig)


def _multiprocess_metrics(directory) -> None:
    """PROMETHEUS_MULTIPROC_DIR for the workers, emptied of a previous run's files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.db"):
        old.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def _token(settings: Settings, args: argparse.Namespace) -> None:
    from .auth.tokens import mint_token

    refuse_in_deployment(settings.mode, "credit token (local tokens)")
    claims = dict(TOKEN_PRESETS[args.role])
    claims["roles"] = [args.role]
    claims["sub"] = args.user or f"demo-{args.role}"
    for claim in ("org", "org_name", "name", "subject_key"):
        if getattr(args, claim):
            claims[claim] = getattr(args, claim)
    if args.role == "subject" and args.unverified:
        claims["real_name_verified"] = False
    print(mint_token(settings, claims, ttl_seconds=args.ttl))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API (GraphiQL at /graphql)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="load the demo data first")
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--keep-database", action="store_true",
                       help="leave the embedded PostgreSQL running when the server stops")
    serve.set_defaults(run=_serve)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(
        run=lambda s, a: asyncio.run(prepare_database(s)) and None
    )
    sub.add_parser("seed-demo", help="load the demo catalog, subjects, records, authorization").set_defaults(
        run=lambda s, a: refuse_in_deployment(s.mode, "seed-demo (demo data)")
        or asyncio.run(prepare_database(s, seed=True)) and None
    )
    tok = sub.add_parser("token", help="mint a local token for a role (HS256 set-ups only)")
    tok.add_argument("--role", required=True, choices=sorted(TOKEN_PRESETS))
    tok.add_argument("--user")
    tok.add_argument("--name")
    tok.add_argument("--org")
    tok.add_argument("--org-name")
    tok.add_argument("--subject-key")
    tok.add_argument("--unverified", action="store_true", help="subject not real-name verified")
    tok.add_argument("--ttl", type=int, default=8 * 3600, help="seconds the token is valid")
    tok.set_defaults(run=_token)
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .observe.logs import FORMAT_ENV, configure

    if args.command == "serve" and args.demo:
        os.environ.setdefault(FORMAT_ENV, "text")  # `python3 dev.py run`: readable lines
    # the server logs JSON unless told otherwise; a command run by hand, text (README)
    configure(logging.INFO, None if args.command == "serve" else os.environ.get(FORMAT_ENV, "text"))
    run: Callable[[Settings, argparse.Namespace], int | None] = args.run
    if args.command != "serve":  # serve: api.asgi warns, in the server's log, once per worker
        for warning in unknown_variables(os.environ):  # a misspelt name is not silently ignored
            print(f"credit: warning: {warning}", file=sys.stderr)
    try:
        return run(Settings.from_env(), args) or 0
    except (ConfigError, MigrationError, LoginError, DomainError) as e:
        for line in str(e).splitlines():  # deployment mode reports each gap on its own line
            print(f"credit: {line}", file=sys.stderr)
        return 2
    except UNREACHABLE as e:
        print(f"credit: {unreachable(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
