"""Benchmark: a keyset page deep in a long list, against OFFSET, and the cost of totalCount.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/pagination.py [--rows 800000]

Not a test. A fresh database on DATABASE_URL's server (`credit_bench_<random>`, dropped at the
end), all migrations, `--rows` notifications of which a quarter are addressed to one office.
Then, median of 30 runs each, the platform's own SQL (api/rights/notifications.py): the first
page of `notificationsConnection(first: 50)` (51 rows read), the page after the 190 000th
notification, the same page by OFFSET for comparison, and the office's `totalCount`."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path

import asyncpg

from api.db_migrate import migrate
from api.rights.notifications import COUNT_MINE, SELECT_MINE

OFFSET = ("SELECT n.id FROM rights_notifications n WHERE recipient_role = 'credit_office' "
          "AND recipient = 'OFFICE' ORDER BY id DESC OFFSET $1 LIMIT 51")


async def median_ms(conn: asyncpg.Connection, sql: str, *args: object, runs: int = 30) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await conn.fetch(sql, *args)
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


async def main(rows: int) -> None:
    server = os.environ["DATABASE_URL"]
    name = f"credit_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f"CREATE DATABASE {name}")
    dsn = server.rsplit("/", 1)[0] + "/" + name
    try:
        await migrate(dsn, Path(__file__).parent.parent / "migrations")
        conn = await asyncpg.connect(dsn)
        await conn.execute(
            "INSERT INTO rights_notifications (created_at, recipient_role, recipient, topic, message) "
            "SELECT now(), CASE WHEN g % 4 = 0 THEN 'credit_office' ELSE 'provider' END, "
            "CASE WHEN g % 4 = 0 THEN 'OFFICE' ELSE 'P' || (g % 50) END, 't', 'm' "
            "FROM generate_series(1, $1::int) g", rows)
        await conn.execute("VACUUM ANALYZE rights_notifications")
        mine = (["credit_office"], ["OFFICE"], False)
        ids = [r["id"] for r in await conn.fetch(
            "SELECT id FROM rights_notifications WHERE recipient = 'OFFICE' ORDER BY id DESC")]
        deep = min(190_000, len(ids) - 1)
        print(f"notifications of the office: {len(ids)} (of {rows})")
        print("first page, ms:", await median_ms(conn, SELECT_MINE, *mine, None, 51))
        print(f"page after the {deep}th, keyset, ms:", await median_ms(conn, SELECT_MINE, *mine, ids[deep], 51))
        print(f"page after the {deep}th, OFFSET, ms:", await median_ms(conn, OFFSET, deep))
        print("totalCount, ms:", await median_ms(conn, COUNT_MINE, *mine, runs=10))
        await conn.close()
    finally:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=800_000)
    asyncio.run(main(ap.parse_args().rows))
