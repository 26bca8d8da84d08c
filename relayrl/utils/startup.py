"""Start-up phases of a run, in seconds since the process started (the framework's own start-up profile).

``mark(name)`` records when a phase ended; ``report()`` is the line the trainer logs once the first
rollout arrived, e.g. ``cli 0.21 | config 0.38 | trainer 1.10 | workers 1.52 | first rollout 1.60``.
``benchmarks/startup.py`` reads it.
"""

from __future__ import annotations

import os
import time

_IMPORTED = time.time()


def process_start_time() -> float:
    """The wall-clock time this process started (Linux: from /proc, to 10 ms), else when this module was
    imported."""
    try:
        with open(f"/proc/{os.getpid()}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        started_after_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time in ticks
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - started_after_boot
        return time.time() - age
    except (OSError, ValueError, IndexError, AttributeError):
        return _IMPORTED


_START = process_start_time()
_MARKS: dict[str, float] = {}


def mark(name: str) -> None:
    """Record that phase ``name`` ended now (the first mark of a name wins)."""
    _MARKS.setdefault(name, time.time() - _START)


def marks() -> dict[str, float]:
    """Phase -> seconds since the process started, in the order they were marked."""
    return dict(_MARKS)


def report() -> str:
    return " | ".join(f"{name} {seconds:.2f}" for name, seconds in _MARKS.items())
