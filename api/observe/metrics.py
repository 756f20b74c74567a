"""Prometheus metrics. Labels are bounded: a route is a path template of the route table, an
operation a root field of the GraphQL schema, an outcome a code from this code base, a role one
of api.auth.principal.ROLES; nothing a client types becomes a label.

One process: the default registry, read by GET /metrics of that process. Several processes
behind one port (`credit serve --workers N`): PROMETHEUS_MULTIPROC_DIR, set before the workers
start (`credit serve` makes `$CREDIT_DATA_DIR/metrics` when N > 1 and none is given), and any
worker's /metrics answers for all of them (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from ..auth.principal import ROLES

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_ROLES = frozenset(ROLES)
disable_created_metrics()  # no `_created` series: half as many to store

REQUESTS = Counter(
    "credit_requests", "HTTP requests, by route, GraphQL root field and outcome",
    ["route", "operation", "outcome"],
)
LATENCY = Histogram(
    "credit_request_duration_seconds", "Time from the request's first byte to the response's last",
    ["route", "operation"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LOOKUPS = Counter(
    "credit_lookups", "Subjects looked up, one per query-log row: outcome disclosed, partial, "
    "not_found or refused, by the caller's role", ["role", "outcome"],
)
TRAIL_WRITE = Histogram(
    "credit_trail_write_seconds", "Inserting rows into the audit trail (the query log), inside "
    "the transaction that read the data",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
UPLOAD_ROWS = Counter(
    "credit_upload_rows", "Records submitted (bulk upload, submitRecords), by result: created, "
    "updated, unchanged (accepted) or rejected", ["status"],
)
POOL_IN_USE = Gauge("credit_pool_connections_in_use", "Pool connections lent out",
                    multiprocess_mode="livesum")
POOL_SIZE = Gauge("credit_pool_connections", "Pool connections open", multiprocess_mode="livesum")
POOL_WAITING = Gauge("credit_pool_waiting", "Callers waiting for a pool connection",
                     multiprocess_mode="livesum")
SEAL_LAG = Gauge(
    "credit_audit_seal_lag_seconds", "Age of the oldest audit-trail row not yet sealed (0: none); "
    "read at scrape time", multiprocess_mode="mostrecent",
)


def role_of(roles: Iterable[str]) -> str:
    for r in roles:
        return r if r in _ROLES else "other"
    return "public"


def count_lookups(roles: Iterable[str], outcomes: Iterable[str]) -> None:
    role = role_of(roles)
    for outcome in outcomes:
        LOOKUPS.labels(role, outcome).inc()


def count_upload(counts: dict[str, int]) -> None:
    for status, n in counts.items():
        if n:
            UPLOAD_ROWS.labels(status).inc(n)


class trail_write_timer:
    """`with trail_write_timer():` around the trail's insert."""

    __slots__ = ("start",)

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc) -> None:
        TRAIL_WRITE.observe(time.perf_counter() - self.start)


def sample_pool(pool) -> None:
    size = pool.get_size()
    POOL_SIZE.set(size)
    POOL_IN_USE.set(size - pool.get_idle_size())
    POOL_WAITING.set(getattr(pool, "waiting", 0))


def exposition() -> tuple[bytes, str]:
    """The text format: this process's registry, or every process's in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def process_exited() -> None:
    """In multiprocess mode, drop this process's live gauges (its pool is gone)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())
