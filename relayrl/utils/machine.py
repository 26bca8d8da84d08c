"""What this machine offers a run: the cores this process may use (for the automatic sampling
layout, relayrl/trainer/sources/layout.py).

``usable_cores``: the CPUs this process may run on (its affinity mask), capped by a cgroup v2 CPU
quota (``/sys/fs/cgroup/cpu.max``) when a container sets one.
"""

from __future__ import annotations

import os
from pathlib import Path

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
