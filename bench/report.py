"""Benchmark (not a test): the cost of a credit report of a subject with 1,000 records.

    python bench/report.py [--records 1000] [--repeat 10]

On a throw-away database (DATABASE_URL's server, or an embedded PostgreSQL), the app in process
(no HTTP server: what is measured is the report, not the network), a state organ issues
`creditReport` over GraphQL repeatedly: lookup, decision, log row, the signed JSON document,
then the PDF rendered and signed in a worker thread and stored. Prints each phase's median and
worst; the target is under one second for the whole issue."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchdb import open_bench_database  # noqa: E402

from api import demo  # noqa: E402
from api.auth.tokens import mint_token  # noqa: E402
from api.cli import TOKEN_PRESETS  # noqa: E402
from api.config import Settings  # noqa: E402

SECRET = "bench-secret-" + "s" * 40
AUDIT_KEY = "bench-audit-key-" + "k" * 40
ISSUE = 'mutation { creditReport(subject: "%s", purpose: "government_procurement") { number digest summary { records } } }'


async def add_records(pool, n: int) -> None:
    """n penalty records of the demo company, copies of a demo record with their own references
    (through the app's own sessions, which sign each record: migration 0007)."""
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO records (subject_key, item_code, provider_org, source_ref, decided_on, data,
                   submitted_by, version, catalog_year, channel, received_on)
               SELECT r.subject_key, r.item_code, r.provider_org, 'BENCH-' || g, r.decided_on - (g % 900),
                   r.data || jsonb_build_object('cf_wsh', '沧市监罚〔2025〕' || g || '号'), 'bench', 1,
                   r.catalog_year, 'bench', r.received_on
               FROM records r, generate_series(1, $2) g WHERE r.source_ref = $1""",
            "CF-2026-0928", n)


async def run(args) -> None:
    db = await open_bench_database("credit-bench-report-")
    try:
        settings = Settings.from_env({"DATABASE_URL": db.dsn, "CREDIT_JWT_SECRET": SECRET,
                                      "CREDIT_AUDIT_KEY": AUDIT_KEY, "CREDIT_DATA_DIR": str(db.tmpdir)})
        from api.app import create_app
        from api.demo import seed_demo

        app = create_app(settings)
        async with app.router.lifespan_context(app):
            state = app.state.credit
            await seed_demo(state.pool)
            await state.catalog.reload()
            await add_records(state.pool, args.records - 1)
            claims = {**TOKEN_PRESETS["state_organ"], "roles": ["state_organ"], "sub": "bench"}
            headers = {"Authorization": "Bearer " + mint_token(settings, claims)}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                issue, download = [], []
                for i in range(args.repeat + 1):  # the first warms caches (the font, the key)
                    t0 = time.perf_counter()
                    r = await client.post("/graphql", json={"query": ISSUE % demo.COMPANY}, headers=headers)
                    t1 = time.perf_counter()
                    body = r.json()
                    assert "errors" not in body, body
                    report = body["data"]["creditReport"]
                    pdf = await client.get(f"/reports/{report['number']}.pdf", headers=headers)
                    t2 = time.perf_counter()
                    assert pdf.status_code == 200
                    if i:
                        issue.append(t1 - t0)
                        download.append(t2 - t1)
            lines = report["summary"]["records"]
        print(f"server: {db.kind}, PostgreSQL {db.server_version}")
        print(f"report of {lines} records, PDF {len(pdf.content):,} bytes, {args.repeat} issues")
        for name, xs in (("issue (lookup, log, signed JSON, PDF rendered+signed+stored)", issue),
                         ("download of the stored PDF (logged)", download)):
            print(f"  {name}: median {statistics.median(xs) * 1000:.0f} ms, worst {max(xs) * 1000:.0f} ms")
        print(f"target: issue under 1000 ms -> {'met' if max(issue) < 1 else 'NOT met'}")
        if args.png:
            _first_pages_png(pdf.content, Path(args.png))
    finally:
        await db.close()


def _first_pages_png(pdf: bytes, out: Path) -> None:
    """Pages 1 and 2 as PNG (`out` and `out` with -2), with poppler's pdftoppm, for the README."""
    import shutil
    import subprocess

    if not shutil.which("pdftoppm"):
        print("pdftoppm not found (apt-get install poppler-utils): no PNG written")
        return
    src = out.with_suffix(".pdf")
    src.write_bytes(pdf)
    for page, name in ((1, out), (2, out.with_name(out.stem + "-2.png"))):
        subprocess.run(["pdftoppm", "-r", "80", "-f", str(page), "-l", str(page), "-png", "-singlefile",
                        str(src), str(name.with_suffix(""))], check=True)
        print(f"wrote {name}")
    src.unlink()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--png", help="also write the last report's first two pages as PNG here")
    asyncio.run(run(p.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
