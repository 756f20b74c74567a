"""Benchmark: the bulk upload with full validation, against raw COPY of the same rows.

    python bench/ingest.py [--rows 1000000] [--batch 2000] [--subjects 100000]    # ~3 minutes

1. platform: uvicorn serves `api.asgi:app` in a subprocess; the platform's own streaming client
   (api/ingestion/client.py) POSTs an NDJSON file of administrative penalty records (双公示:
   identifier check characters, subject type, every catalog field and type, Art. 11 scan,
   Art. 13 deadline on the working-day calendar) to /upload/records as the demo market
   regulator. Every batch: COPY into a staging table, set-wise merge into records and
   record_versions, a collection-log row, commit; every row's result streamed back. Timed from
   the first byte sent to the summary line; the summary must say every row was created.
2. raw COPY: the server stopped, the same rows (already parsed and encoded, references
   prefixed so they are new) are copied straight into `records` with asyncpg's
   copy_records_to_table, in one transaction: no validation, no versions, no log.

Prints rows/s of both and their ratio (targets: platform >= 20,000 rows/s and >= 0.5 of COPY),
and a JSON line at the end. Database: DATABASE_URL's server (a fresh database, dropped at the
end) or an embedded PostgreSQL in a temporary folder."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

try:
    import psutil  # optional: CPU seconds per process, to tell what limits the run
except ImportError:
    psutil = None

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from benchdb import open_bench_database  # noqa: E402

from api import demo  # noqa: E402
from api.auth.tokens import mint_token  # noqa: E402
from api.cli import TOKEN_PRESETS  # noqa: E402
from api.config import Settings  # noqa: E402
from api.db import create_pool  # noqa: E402
from api.db_login import signing_settings  # noqa: E402
from api.db_migrate import migrate  # noqa: E402
from api.identifiers import build_uscc  # noqa: E402
from api.ingestion.client import file_chunks, upload  # noqa: E402

SECRET = "bench-secret-" + "s" * 40
AUDIT_KEY = "bench-audit-key-" + "k" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_sample(server_pid: int, database: str) -> dict[int, tuple[str, float]]:
    """CPU seconds so far per process, classed as server, client (this process), postgres (the
    backends of the bench database) or other (everything else on the machine)."""
    if psutil is None:
        return {}
    out = {}
    for p in psutil.process_iter(["cmdline"]):
        try:
            t = p.cpu_times()
            if p.pid == server_pid:
                kind = "server"
            elif p.pid == os.getpid():
                kind = "client"
            elif database in " ".join(p.info["cmdline"] or ()):
                kind = "postgres"
            else:
                kind = "other"
            out[p.pid] = (kind, t.user + t.system)
        except psutil.Error:
            pass
    return out


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    used = {"server": 0.0, "client": 0.0, "postgres": 0.0, "other": 0.0}
    for pid, (kind, seconds) in after.items():
        used[kind] += seconds - before.get(pid, (kind, 0.0))[1]
    return {k: round(v, 1) for k, v in used.items()}


def write_file(path: Path, rows: int, subjects: int) -> None:
    today = dt.date.today()
    keys = [build_uscc("91", "130902", f"{n:08d}") for n in range(subjects)]
    with path.open("w", encoding="utf-8") as f:
        for n in range(rows):
            day = (today - dt.timedelta(days=1 + n % 300)).isoformat()
            key = keys[n % subjects]
            name = f"沧州基准测试{n % subjects}有限公司"
            f.write(json.dumps({
                "subjectKey": key, "subjectType": "LEGAL_PERSON", "subjectName": name,
                "itemCode": "ADM_PENALTY", "sourceRef": f"B-{n:08d}", "decidedOn": day,
                "data": {
                    "cf_wsh": f"沧市监罚〔2026〕{n}号", "cf_xdr_mc": name, "cf_xdr_lb": "02",
                    "cf_xdr_shxym": key, "cf_wfxw": "违反食品安全法", "cf_sy": "销售超过保质期的食品",
                    "cf_yj": "《中华人民共和国食品安全法》第一百二十四条", "cf_cflb": "罚款",
                    "cf_nr": "罚款人民币贰万元", "cf_nr_fk": 2.0, "cf_jdrq": day,
                    "cf_cfjg": "沧州市市场监督管理局", "cf_cfjgdm": demo.MARKET,
                },
            }, ensure_ascii=False) + "\n")


def raw_rows(path: Path) -> list[tuple]:
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            out.append((
                r["subjectKey"], r["subjectName"], r["itemCode"], demo.MARKET, "RAW-" + r["sourceRef"],
                dt.date.fromisoformat(r["decidedOn"]),
                json.dumps(r["data"], ensure_ascii=False, separators=(",", ":"), sort_keys=True),
                "bench",
            ))
    return out


async def run(args) -> dict:
    db = await open_bench_database("credit-bench-ingest-")
    dsn = db.dsn
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env.update(DATABASE_URL=dsn, CREDIT_JWT_SECRET=SECRET, CREDIT_AUDIT_KEY=AUDIT_KEY,
               CREDIT_DATA_DIR=str(db.tmpdir / "data"), PYTHONPATH=str(ROOT))
    settings = Settings.from_env(env)
    server = None
    try:
        await migrate(dsn, settings.migrations_dir)
        pool = await create_pool(dsn, audit_key=settings.audit_key, min_size=1, max_size=2)
        await demo.seed_demo(pool)
        await pool.close()
        path = db.tmpdir / "records.ndjson"
        t = time.perf_counter()
        write_file(path, args.rows, args.subjects)
        print(f"file: {args.rows} rows, {path.stat().st_size / 1e6:.0f} MB, written in {time.perf_counter() - t:.1f} s")

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.asgi:app", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=env,
        )
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as c:
            for _ in range(600):
                try:
                    if (await c.get(url + "/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        claims = {**TOKEN_PRESETS["provider"], "roles": ["provider"], "sub": "bench-provider"}
        bearer = mint_token(settings, claims)
        before = cpu_sample(server.pid, db.dbname)
        t = time.perf_counter()
        result = await upload(url, file_chunks(path), content_type="application/x-ndjson", token=bearer,
                              batch=args.batch)
        platform_s = time.perf_counter() - t
        cpu = cpu_used(before, cpu_sample(server.pid, db.dbname)) if psutil else {}
        server.terminate()
        server.wait(timeout=30)
        server = None
        if result.summary is None or result.summary["created"] != args.rows:
            raise SystemExit(f"the upload did not store every row: {result.summary or result.error}")

        rows = raw_rows(path)
        # records are signed by a trigger (migrations/0007) in sessions holding the key: raw COPY
        # pays that too, as every insert into records does
        conn = await asyncpg.connect(dsn, server_settings=signing_settings(settings.audit_key))
        try:
            t = time.perf_counter()
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "records", records=rows,
                    columns=("subject_key", "subject_name", "item_code", "provider_org", "source_ref",
                             "decided_on", "data", "submitted_by"),
                )
            copy_s = time.perf_counter() - t
        finally:
            await conn.close()
        platform_rate, copy_rate = args.rows / platform_s, args.rows / copy_s
        return {
            "rows": args.rows, "batch": args.batch, "subjects": args.subjects,
            "platform_seconds": round(platform_s, 2), "platform_rows_per_s": round(platform_rate),
            "copy_seconds": round(copy_s, 2), "copy_rows_per_s": round(copy_rate),
            "ratio": round(platform_rate / copy_rate, 3), "summary": result.summary,
            "platform_cpu_seconds": cpu, "cores": os.cpu_count(),
        }
    finally:
        if server is not None:
            server.kill()
            server.wait()
        await db.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--subjects", type=int, default=100_000)
    args = p.parse_args()
    out = asyncio.run(run(args))
    print(f"platform (validated, versioned, logged): {out['platform_rows_per_s']:>8} rows/s  ({out['platform_seconds']} s)")
    print(f"raw COPY into records:                  {out['copy_rows_per_s']:>8} rows/s  ({out['copy_seconds']} s)")
    print(f"ratio platform/COPY: {out['ratio']}  (targets: >= 20000 rows/s and >= 0.5)")
    if out["platform_cpu_seconds"]:
        print(f"CPU seconds during the upload ({out['cores']} cores, {out['platform_seconds']} s): "
              + ", ".join(f"{k} {v}" for k, v in out["platform_cpu_seconds"].items()))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
