"""What this machine offers a run right now: the cores this process may use and how many other
processes are running on them (for the automatic sampling layout, relayrl/trainer/sources/layout.py).

- ``usable_cores``: the CPUs this process may run on (its affinity mask), capped by a cgroup v2 CPU
  quota (``/sys/fs/cgroup/cpu.max``) when a container sets one.
- ``busy_cores``: how many other tasks are runnable at this moment: the running count of
  ``/proc/loadavg`` (the 4th field, ``running/total``) minus this process, the median of a few
  samples a few milliseconds apart. Unlike the load averages it does not remember the last minute,
  so a run that just ended (a previous benchmark round, a sweep's previous trial) does not count as
  load. None where ``/proc/loadavg`` does not exist (not Linux).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

LOADAVG = Path("/proc/loadavg")
CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores() -> float:
    """The CPUs this process may use: its affinity mask, capped by a cgroup CPU quota (may be fractional)."""
    try:
        cores = float(len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        cores = float(os.cpu_count() or 1)
    quota = cgroup_quota()
    return min(cores, quota) if quota is not None else cores


def cgroup_quota(path: Path = CPU_MAX) -> float | None:
    """Cores allowed by a cgroup v2 quota (``"<quota> <period>"``; ``"max ..."``: none), or None."""
    try:
        fields = path.read_text().split()
    except OSError:
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = float(fields[0]), float(fields[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def running_tasks(text: str) -> int:
    """The running count of a ``/proc/loadavg`` line (``"0.64 1.59 1.89 2/99 27480"`` -> 2)."""
    fields = text.split()
    if len(fields) < 4 or "/" not in fields[3]:
        raise ValueError(f"not a /proc/loadavg line: {text!r}")
    return int(fields[3].split("/")[0])


def busy_cores(samples: int = 9, interval: float = 0.005, path: Path = LOADAVG) -> float | None:
    """Other runnable tasks now (see the module docstring), or None where the kernel does not say."""
    counts = []
    for i in range(samples):
        try:
            counts.append(running_tasks(path.read_text()))
        except (OSError, ValueError):
            return None
        if i + 1 < samples:
            time.sleep(interval)
    return max(0.0, statistics.median(counts) - 1)  # this process is running while it reads
