"""``benchmarks.compare --background-load N``: N CPU-bound busy loops beside each measured run.

A shared machine (a laptop, a notebook, a cluster node with neighbours) gives a run fewer cores than
it counts. ``BackgroundLoad`` starts N processes that spin in pure Python, each at the priority of
the harness (so at the measured run's), right before a run and stops them, by pid, right after it.
Every run records the number of loops and the load average at its start and end, with or without
loops (``load_record``), and ``load_table`` lists them per run for the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

# Spins until stopped, or until its parent (the harness) is gone or the deadline passes: a harness
# killed with SIGKILL cannot stop its loops, and they must not spin on forever.
BUSY_LOOP = """
import os, sys, time
parent, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while os.getppid() == parent and time.monotonic() < deadline:
    for _ in range(100_000):
        pass
"""


class BackgroundLoad:
    """``n`` busy-loop processes while the ``with`` block runs; none left after it.

    ``max_seconds`` bounds each loop's life should this process die without stopping them.
    """

    def __init__(self, n: int, max_seconds: float = 3600.0) -> None:
        if n < 0:
            raise ValueError(f"--background-load must be >= 0 (got {n})")
        self.n = n
        self.max_seconds = max_seconds
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> BackgroundLoad:
        for _ in range(self.n):
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", BUSY_LOOP, str(os.getpid()), str(self.max_seconds)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        return self

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        """Kill the loops this object started (by pid) and reap them."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait()
        self.procs = []

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def load_record(n: int, start: tuple[float, float, float], end: tuple[float, float, float]) -> dict[str, Any]:
    """A run's load fields: the busy loops beside it and the 1/5/15-minute load averages at its start and end."""
    return {"background_load": n, "loadavg_start": list(start), "loadavg_end": list(end)}


def measured(n: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run()`` (a measured run returning its result dict) with ``n`` busy loops beside it; the result
    gets the ``load_record`` fields."""
    start = os.getloadavg()
    with BackgroundLoad(n):
        result = run()
    result.update(load_record(n, start, os.getloadavg()))
    return result


def load_table(runs: list[dict[str, Any]]) -> str:
    """Markdown: per run, the busy loops beside it and the 1-minute load average at its start and end."""
    lines = [
        "Load per run (busy loops beside the run; 1-minute load average at its start -> end; other load "
        "= CPU used outside the run, loops included, in cores):",
        "",
        "| round | framework | busy loops | load avg start -> end | other load (cores) |",
        "|---:|---|---:|---|---:|",
    ]
    for r in runs:
        if "loadavg_start" not in r:
            continue
        other = r.get("other_load_cores")
        lines.append(
            f"| {r.get('round', '-')} | {r['framework']} | {r['background_load']} "
            f"| {r['loadavg_start'][0]:.2f} -> {r['loadavg_end'][0]:.2f} "
            f"| {'-' if other is None else f'{other:.2f}'} |"
        )
    return "\n".join(lines)
