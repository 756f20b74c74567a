"""Figures for the audit trail benchmark (bench/audit.py): quantiles and their one-line form,
EXPLAIN plans with the empty partitions folded, and the CPU of a phase (Meter)."""

from __future__ import annotations

import os
import re
import statistics
import time
from typing import Any

import asyncpg

try:  # not a project dependency (bench/lookup.py uses it too); without it, no CPU figures
    import psutil
except ImportError:  # pragma: no cover
    psutil = None


def pct(values: list[float], p: float) -> float | None:
    """The p-quantile (nearest rank, as bench/lookup.py), in ms for values in seconds."""
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(p * len(s)))] * 1000, 3)


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50_ms": pct(values, 0.50),
        "p99_ms": pct(values, 0.99),
        "max_ms": round(max(values) * 1000, 3) if values else None,
        "mean_ms": round(statistics.fmean(values) * 1000, 3) if values else None,
    }


def condense_plan(plan: str) -> str:
    """The plan with runs of three or more sibling scans of one kind that returned nothing
    (mostly the empty month partitions made ahead for the next 24 months) folded into one line
    each; the JSON keeps the whole plan."""
    lines = plan.split("\n")

    def block_end(i: int) -> int:
        """Index after node i's block: its header and every deeper-indented line."""
        indent = len(lines[i]) - len(lines[i].lstrip())
        j = i + 1
        while j < len(lines) and len(lines[j]) - len(lines[j].lstrip()) > indent:
            j += 1
        return j

    def empty(i: int) -> bool:
        return lines[i].lstrip().startswith("->  ") and "rows=0 loops=1" in lines[i]

    out: list[str] = []
    i = 0
    while i < len(lines):
        if empty(i):
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            def kind_of(line: str) -> str:
                return line.strip()[4:].split(" on ")[0].split(" using ")[0]

            run, j = [], i
            while (j < len(lines) and empty(j) and lines[j].startswith(indent + "->")
                   and kind_of(lines[j]) == kind_of(lines[i])):
                run.append(lines[j])
                j = block_end(j)
            if len(run) >= 3:
                names = [re.search(r" on (\S+)", r)[1] if re.search(r" on (\S+)", r) else "?"
                         for r in run]
                out.append(f"{indent}->  {len(run)} x {kind_of(run[0])} on {names[0]} .. "
                           f"{names[-1]}: actual rows=0 each (folded by the bench)")
                i = j
                continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def fmt(s: dict[str, Any]) -> str:
    return f"p50 {s['p50_ms']} ms  p99 {s['p99_ms']} ms  max {s['max_ms']} ms  (n={s['n']})"


def say(*parts: Any) -> None:
    print(*parts, flush=True)


class Meter:
    """CPU over a phase: this process plus the bench database's PostgreSQL processes ("ours"),
    and what the rest of the machine used meanwhile ("other", in % of one core). Other load
    (a test suite, another benchmark) disturbs latency figures, fsync-bound ones most."""

    def __init__(self, dsn: str, dbname: str):
        self.dsn, self.dbname = dsn, dbname

    async def _pids(self) -> list[int]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return [r["pid"] for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE (datname = $1 OR backend_type <> "
                "'client backend') AND pid <> pg_backend_pid()", self.dbname)]
        finally:
            await conn.close()

    def _add(self, pids: list[int], *, new: bool) -> None:
        for pid in pids:
            if pid in self.procs:
                continue
            try:
                p = psutil.Process(pid)
                # a backend that started during the phase spent all its CPU in it
                self.start[pid] = 0.0 if new and p.create_time() >= self.wall0 else self._cpu(p)
                self.procs[pid] = p
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        for pid, p in self.procs.items():  # last seen: a backend may be gone by end()
            c = self._cpu(p)
            if c is not None:
                self.last[pid] = c

    async def begin(self) -> None:
        if psutil is None:
            return
        self.procs: dict[int, Any] = {}
        self.start: dict[int, float | None] = {}
        self.last: dict[int, float] = {}
        self.wall0 = time.time()
        self._add([os.getpid(), *await self._pids()], new=False)
        self.sys0 = psutil.cpu_times()
        self.t0 = time.perf_counter()

    async def sample(self) -> None:
        """Note backends opened since begin() (call while they are still connected)."""
        if psutil is not None:
            self._add(await self._pids(), new=True)

    @staticmethod
    def _cpu(p) -> float | None:
        try:
            t = p.cpu_times()
            return t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    async def end(self) -> dict[str, Any]:
        if psutil is None:
            return {}
        self._add(await self._pids(), new=True)
        wall = time.perf_counter() - self.t0
        sys1 = psutil.cpu_times()
        ours = 0.0
        for pid, p in self.procs.items():
            c, c0 = self._cpu(p), self.start.get(pid)
            c = self.last.get(pid) if c is None else c
            if c is not None and c0 is not None:
                ours += c - c0

        def busy(t):
            return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0)

        def total(t):
            return busy(t) + t.idle + getattr(t, "iowait", 0)

        cores = psutil.cpu_count()
        d_total = total(sys1) - total(self.sys0)
        machine = 100 * (busy(sys1) - busy(self.sys0)) / d_total if d_total else 0.0
        ours_pct = 100 * ours / wall if wall else 0.0
        iowait = 100 * (getattr(sys1, "iowait", 0) - getattr(self.sys0, "iowait", 0)) / d_total \
            if d_total else 0.0
        return {
            "machine_busy_pct": round(machine, 1),
            "ours_core_pct": round(ours_pct, 1),
            "other_core_pct": round(max(0.0, machine * cores - ours_pct), 1),
            "iowait_pct": round(iowait, 1),
            "cores": cores,
        }


def noise_line(cpu: dict[str, Any]) -> str:
    if not cpu:
        return "    (psutil missing: no CPU figures)"
    warn = ("  WARNING: other processes were busy, the figures are disturbed"
            if cpu["other_core_pct"] >= 20 else "")
    return (f"    CPU: bench + its PostgreSQL {cpu['ours_core_pct']}% of a core, other processes "
            f"{cpu['other_core_pct']}% of a core, iowait {cpu['iowait_pct']}%{warn}")
