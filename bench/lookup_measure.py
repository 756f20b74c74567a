"""The lookup benchmark's measurement (bench/lookup.py): a phase's latencies and summary, the
CPU used by named groups of processes over the measured window, running a phase's closed-loop
workers for warm-up + window, and reading the CPU figures (per lookup, what limits a phase)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import psutil
from lookup_server import WORKERS


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, completions in the window
    errors: int = 0
    window: float = 0.0
    cpu: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        n = len(lat)

        def pct(p: float) -> float | None:
            return round(lat[min(n - 1, int(p * n))] * 1000, 2) if n else None

        return {
            "lookups": n,
            "errors": self.errors,
            "window_s": round(self.window, 3),
            "lookups_per_s": round(n / self.window, 1) if self.window else 0.0,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "cpu": self.cpu,
        }


class CpuMeter:
    """CPU seconds used by named groups of processes over the measured window, as a share of
    one core, plus the machine's busy share of all its cores."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups
        self.procs: dict[int, psutil.Process] = {}
        self.start: dict[int, float] = {}

    @staticmethod
    def _cpu(p: psutil.Process) -> float | None:
        try:
            t = p.cpu_times()
            return t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def begin(self) -> None:
        for pids in self.groups.values():
            for pid in pids:
                try:
                    self.procs[pid] = psutil.Process(pid)
                except psutil.NoSuchProcess:
                    continue
                c = self._cpu(self.procs[pid])
                if c is not None:
                    self.start[pid] = c
        self.sys_start = psutil.cpu_times()
        self.t0 = time.perf_counter()

    def end(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.t0
        sys_end = psutil.cpu_times()
        out: dict[str, Any] = {}
        for name, pids in self.groups.items():
            used = 0.0
            seen = 0
            for pid in pids:
                if pid in self.start and pid in self.procs:
                    c = self._cpu(self.procs[pid])
                    if c is not None:
                        used += c - self.start[pid]
                        seen += 1
            out[f"{name}_core_pct"] = round(100 * used / wall, 1) if seen else None
        busy = lambda t: t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0)  # noqa: E731
        total = lambda t: busy(t) + t.idle + getattr(t, "iowait", 0)  # noqa: E731
        d_total = total(sys_end) - total(self.sys_start)
        out["machine_busy_pct"] = (
            round(100 * (busy(sys_end) - busy(self.sys_start)) / d_total, 1) if d_total else None
        )
        out["cores"] = psutil.cpu_count()
        if out["machine_busy_pct"] is not None:
            ours = sum(v for k, v in out.items() if k.endswith("_core_pct") and v is not None)
            # Anything else running on the machine meanwhile (noise in the figures).
            out["other_core_pct"] = round(
                max(0.0, out["machine_busy_pct"] * out["cores"] - ours), 1
            )
        return out


async def postgres_pids(dsn: str, dbname: str) -> list[int]:
    """The backends of the bench database and the server's own background processes (WAL
    writer, checkpointer, ...): the PostgreSQL CPU spent on our work."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE (datname = $1 OR backend_type <> 'client backend')"
            " AND pid <> pg_backend_pid()",
            dbname,
        )
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


async def run_phase(
    phase: Phase,
    make_worker,
    concurrency: int,
    warmup: float,
    duration: float,
    meter_groups,
    on_measure=None,
) -> None:
    """`make_worker(measure_from, stop_at)` returns a coroutine that loops until stop_at and
    appends latencies of requests completing inside [measure_from, stop_at]."""
    now = time.perf_counter()
    measure_from = now + warmup
    stop_at = measure_from + duration
    tasks = [asyncio.create_task(make_worker(measure_from, stop_at)) for _ in range(concurrency)]

    async def meter() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        m = CpuMeter(await meter_groups())
        m.begin()
        if on_measure is not None:
            on_measure()
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        phase.cpu = m.end()

    meter_task = asyncio.create_task(meter())
    # Bounded: a hung server or database cannot keep the bench running.
    done, pending = await asyncio.wait(tasks + [meter_task], timeout=warmup + duration + 30)
    for t in pending:
        t.cancel()
    if pending:
        raise SystemExit(f"{phase.name}: {len(pending)} workers did not finish in time")
    for t in done:
        if t.exception() is not None:
            raise t.exception()
    phase.window = duration


def cpu_ms_per_lookup(summary: dict[str, Any], *groups: str) -> float | None:
    """CPU milliseconds per completed lookup spent by the named process groups in the window."""
    share = [summary["cpu"].get(f"{g}_core_pct") for g in groups]
    if not summary["lookups"] or any(s is None for s in share):
        return None
    return round(sum(share) / 100 * summary["window_s"] / summary["lookups"] * 1000, 2)


def limiter(name: str, cpu: dict[str, Any], main: str) -> str:
    """Name what bounds a phase from the CPU shares."""
    shares = {
        k[: -len("_core_pct")]: v
        for k, v in cpu.items()
        if k.endswith("_core_pct") and v is not None and k != "other_core_pct"
    }
    parts = ", ".join(f"{k} {v:.0f}% of a core" for k, v in shares.items())
    machine = cpu.get("machine_busy_pct")
    cores = cpu.get("cores")
    main_share = shares.get(main)
    if machine is not None and machine >= 95:
        verdict = f"the machine's CPU, shared by the processes below ({machine:.0f}% of {cores} cores busy)"
    elif main_share is not None and WORKERS[0] == 1 and main_share >= 90:
        verdict = f"the single {main} process is CPU-bound ({main_share:.0f}% of one core)"
    elif machine is not None and machine >= 80:
        verdict = f"the machine's CPU, shared by the processes below ({machine:.0f}% of {cores} cores busy)"
    else:
        verdict = "neither one process nor the machine is CPU-saturated: waiting (latency/IO, e.g. commits)"
    other = cpu.get("other_core_pct")
    return (
        f"{name} limited by: {verdict} [{parts}; machine busy {machine}% of {cores} cores, "
        f"of which other processes {other}% of a core]"
    )
