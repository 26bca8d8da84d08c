"""``benchmarks.compare --background-load N``: busy loops beside each run, stopped after it; load recorded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import background_load as bl
from benchmarks import compare

ROOT = Path(__file__).resolve().parents[1]


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _gone(pid: int) -> bool:
    """The process has exited (no such pid, or a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _busy_children() -> list[int]:
    return [pid for pid in compare._tree(os.getpid()) if pid != os.getpid() and not _gone(pid)]


def test_background_load_spins_its_loops_and_leaves_none():
    assert _busy_children() == []
    with bl.BackgroundLoad(2) as load:
        pids = load.pids
        assert len(pids) == 2 and sorted(_busy_children()) == sorted(pids)
        before = {pid: _cpu_ticks(pid) for pid in pids}
        time.sleep(0.5)
        assert all(_cpu_ticks(pid) > before[pid] for pid in pids)  # CPU-bound, not sleeping
    assert all(_gone(pid) for pid in pids)
    assert _busy_children() == []


def test_measured_runs_beside_the_loops_and_records_the_load():
    seen = []
    result = bl.measured(1, lambda: seen.append(len(_busy_children())) or {"framework": "x"})
    assert seen == [1] and _busy_children() == []
    assert result["framework"] == "x" and result["background_load"] == 1
    assert len(result["loadavg_start"]) == 3 and len(result["loadavg_end"]) == 3
    assert bl.measured(0, lambda: {"framework": "y"})["background_load"] == 0
    with pytest.raises(ValueError, match="background-load"):
        bl.BackgroundLoad(-1)


def test_loops_stop_by_themselves_when_the_harness_is_killed():
    # a harness killed with SIGKILL cannot stop its loops: they notice that their parent is gone
    code = "from benchmarks.background_load import BackgroundLoad\nimport time\nl = BackgroundLoad(1).__enter__()\n"
    code += "print(l.pids[0], flush=True)\ntime.sleep(60)\n"
    harness = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    loop = int(harness.stdout.readline())
    assert not _gone(loop)
    harness.kill()
    harness.wait()
    deadline = time.monotonic() + 10
    while not _gone(loop) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(loop)


def test_load_table_lists_every_run():
    runs = [
        {"framework": "relayrl", "round": 1, "other_load_cores": 1.02, **bl.load_record(1, (1.5, 1, 1), (2.25, 1, 1))},
        {"framework": "pufferlib", "round": 1, **bl.load_record(1, (2.25, 1, 1), (2.0, 1, 1))},
    ]
    table = bl.load_table(runs)
    assert "| 1 | relayrl | 1 | 1.50 -> 2.25 | 1.02 |" in table
    assert "| 1 | pufferlib | 1 | 2.25 -> 2.00 | - |" in table


def test_a_finished_runs_process_group_is_gone_before_the_next_run():
    """The runner's group is killed and waited for: its processes (here a child that ignores the
    parent's exit) are not left running into the next measurement."""
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.monotonic() + 10
    while len(compare._group_members(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(compare._group_members(proc.pid)) == 2
    compare._kill_group(proc.pid)
    assert compare._group_members(proc.pid) == []
    proc.wait(timeout=5)
