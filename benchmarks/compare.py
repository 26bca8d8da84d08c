"""relayrl side by side with Sample Factory 2.1.1, Stable-Baselines3 and PufferLib 3.0, on the same workloads.

    python -m benchmarks.compare --workload cartpole              # workload 1, 3 interleaved repeats
    python -m benchmarks.compare --workload cartpole-vec          # workload 4: relayrl --vectorized
    python -m benchmarks.compare --workload minigrid              # workload 2: DoorKey 5x5 to 0.9 success
    python -m benchmarks.compare --workload minigrid-8x8          # workload 2 on DoorKey 8x8 (2M steps)
    python -m benchmarks.compare --workload atari                 # workload 3: Pong, Nature CNN
    python -m benchmarks.compare --workload cartpole --frameworks relayrl pufferlib pufferlib-mp
    python -m benchmarks.compare --background-load 1              # one busy loop beside every run
    python -m benchmarks.compare --setup-only                     # only create the peers' venvs

Run it with relayrl's venv python. It creates one venv per peer under ``benchmarks/.venvs/``
(idempotent: a stamp file records what was installed; torch is pinned to the same CPU build
everywhere and checked afterwards), measures the raw env step rate (the physical limit), then runs
the frameworks interleaved (A B C A B C ...), each run a fresh process: a small standalone runner
script per framework (``benchmarks/peer_runners/run_*.py``) executed with that framework's venv
python, which trains once and prints one JSON line. While a run goes, this process samples /proc for
the runner and all its descendants: peak RSS and PSS summed over the processes, and the CPU that
*other* processes on the machine used meanwhile (a shared machine's noise, reported per run).

Prints one table per workload (medians, min-max, ratios relayrl/peer and the issue's targets) and
relayrl's per-phase timing; writes everything (the raw JSON of every run, runner logs, the tables
as markdown) under ``--out-dir``. ``--background-load N`` runs N busy loops beside every measured run
(``benchmarks/background_load.py``); every run records the load average at its start and end.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import background_load, puffer_venv

ROOT = Path(__file__).resolve().parent
RUNNERS = ROOT / "peer_runners"
VENVS = ROOT / ".venvs"
TORCH = "torch==2.13.0"
TORCH_VERSION = "2.13.0+cpu"

PEER_VENVS: dict[str, list[str]] = {
    # Sample Factory 2.1.1 needs gymnasium < 1.0 and numpy < 2.
    # ale-py 0.12.1 is the version in relayrl's venv ([atari] extra); the same emulator everywhere.
    # minigrid 2.3.1 is the last release for gymnasium < 1.0; DoorKey is the same task in 2.3 and 3.x.
    "sf": ["sample-factory==2.1.1", "gymnasium<1.0", "numpy<2", "ale-py==0.12.1", "minigrid==2.3.1"],
    "sb3": [
        "stable-baselines3==2.9.2",
        "ale-py==0.12.1",
        "opencv-python-headless",
        "minigrid==3.2.0",
        "gymnasium[mujoco]",
    ],
    # source only, built with a patch and without its downloads (benchmarks/puffer_venv.py)
    "puffer": puffer_venv.REQUIREMENTS,
}
PEER_BUILDS = {"puffer": puffer_venv.build}
"""Venvs whose peer needs more than ``pip install`` of its PEER_VENVS entry: key -> build(python, torch pin, log)."""


@dataclasses.dataclass(frozen=True)
class Framework:
    name: str
    venv: str | None
    """Key of PEER_VENVS, or None for relayrl's own venv (the python running this script)."""
    script: str
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Overrides of the workload's parameters."""
    raw: str = "single"
    """The raw-env case whose all-cores rate is this framework's physical limit."""

    def python(self) -> str:
        return sys.executable if self.venv is None else str(VENVS / self.venv / "bin" / "python")


FRAMEWORKS = {
    f.name: f
    for f in (
        Framework("relayrl", None, "run_relayrl.py"),
        Framework("relayrl-vec", None, "run_relayrl.py", {"vectorized": True, "episode_log": False}, "vector16"),
        Framework(
            "relayrl-vec128",
            None,
            "run_relayrl.py",
            {"vectorized": True, "episode_log": False, "envs_per_worker": 128, "batch_size": 8192},
            "vector256",
        ),
        Framework("relayrl-plain", None, "run_relayrl.py", {"episode_log": False}),
        # the sampling layouts that --backend auto (the default) chooses between
        Framework("relayrl-local", None, "run_relayrl.py", {"backend": "local"}),
        Framework("relayrl-serial", None, "run_relayrl.py", {"backend": "serial"}),
        # the rollout workers as Ray actors on a Ray instance the run starts on this machine
        Framework("relayrl-ray", None, "run_relayrl.py", {"backend": "ray"}),
        # relayrl with one learner thread (its default for MLPs; CNN models default to all cores)
        Framework("relayrl-1thread", None, "run_relayrl.py", {"learner_threads": 1}),
        # relayrl variants that trade frames/s for on-policy data (time-to-target workloads)
        Framework("relayrl-sync", None, "run_relayrl.py", {"sampling_mode": "sync"}),
        Framework("relayrl-vtrace", None, "run_relayrl.py", {"off_policy_correction": "vtrace"}),
        # plain advantage normalization (no std floor), as in Sample Factory and Stable-Baselines3
        Framework("relayrl-nofloor", None, "run_relayrl.py", {"advantage_std_floor": 0.0}),
        # weights published once per update only (before publish_every_epoch)
        Framework("relayrl-update-publish", None, "run_relayrl.py", {"publish_every_epoch": False}),
        Framework("sample-factory", "sf", "run_sf.py"),
        Framework("sb3", "sb3", "run_sb3.py"),
        # PufferLib's single-process backend (all envs in the trainer's process) and its multi-process one
        Framework("pufferlib", "puffer", "run_puffer.py", {"backend": "Serial"}),
        Framework("pufferlib-mp", "puffer", "run_puffer.py", {"backend": "Multiprocessing"}),
    )
}

# One set of hyperparameters for every framework (each runner maps them onto its own flags; see
# docs/benchmarks.md for the mapping and what cannot be matched). These are relayrl's defaults on
# this 2-core machine, except lr_schedule: Sample Factory has no linear decay, so all use constant.
CARTPOLE = {
    "env": "CartPole-v1",
    "env_kind": "cartpole",
    "steps": 500_000,
    "num_workers": 2,
    "envs_per_worker": 16,
    "rollout": 32,
    "batch_size": 1024,
    "epochs": 4,
    "minibatches": 4,
    "lr": 3e-4,
    "lr_schedule": "constant",
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip": 0.2,
    "ent_coef": 0.0,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "adam_eps": 1e-5,
    "hidden": [64, 64],
    "activation": "tanh",
    "target": 475.0,
    "window": 100,
}

# Workload 3: the same structure (2 workers x 16 envs, rollout 32, batch 1024, 4 epochs x 4
# minibatches) with the usual Atari PPO values for lr, clip and entropy; Nature CNN shared by actor
# and critic. Frames/s only (no return target in so short a budget).
ATARI = {
    **CARTPOLE,
    "env": "ALE/Pong-v5",
    "env_kind": "atari",
    "steps": 12_288,
    "lr": 2.5e-4,
    "clip": 0.1,
    "ent_coef": 0.01,
    "hidden": [512],
    "activation": "relu",
    "shared": True,
    "target": None,
}


# Workload 2: time to a success rate of 0.9 (over the last 100 episodes) on MiniGrid DoorKey. The
# obs is the 7x7 view as float (3, 7, 7) (bench_common.make_minigrid); every framework uses the same
# small CNN (3 unpadded 3x3 convs, 64 features) per actor and critic, then MLP 64x64 tanh. Entropy
# bonus 0.01 for exploration; a run stops when it reaches the target (or at the step cap). Two
# sizes: "minigrid" is DoorKey 5x5 (under a minute per run); "minigrid-8x8" is the 8x8 of the plan,
# where a run takes 0.3-2M+ steps and up to ~10 minutes per framework on 2 cores (docs/benchmarks.md,
# section "Advantage std floor and DoorKey-8x8").
MINIGRID = {
    **CARTPOLE,
    "env": "MiniGrid-DoorKey-5x5-v0",
    "env_kind": "minigrid",
    "steps": 1_000_000,
    "ent_coef": 0.01,
    "target": 0.9,
    "stop_at_target": True,
}
MINIGRID_8X8 = {**MINIGRID, "env": "MiniGrid-DoorKey-8x8-v0", "steps": 2_000_000}


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    frameworks: tuple[str, ...]
    params: dict[str, Any]
    targets: dict[str, tuple[str, str, float]]
    """peer -> (metric, "min"/"max", bound) on the ratio relayrl/peer."""
    title: str
    timeout: float = 900.0
    """Seconds before one run is killed (``--timeout`` overrides it)."""


WORKLOADS = {
    w.name: w
    for w in (
        Workload(
            "cartpole",
            ("relayrl", "sample-factory", "sb3"),
            CARTPOLE,
            {
                "sample-factory fps": ("fps", "min", 3.0),
                "sb3 fps": ("fps", "min", 10.0),
                "sample-factory time": ("seconds_to_target", "max", 0.5),
                # run with --frameworks ... pufferlib pufferlib-mp
                "pufferlib process fps": ("process_fps", "min", 2.0),
                "pufferlib-mp process fps": ("process_fps", "min", 2.0),
            },
            "Workload 1: CartPole-v1, MLP 64x64",
        ),
        Workload(
            "minigrid",
            ("relayrl", "sample-factory", "sb3"),
            MINIGRID,
            {"sample-factory time": ("seconds_to_target", "max", 0.7)},
            "Workload 2: MiniGrid DoorKey, small CNN + MLP 64x64, time to success rate 0.9 (last 100 episodes)",
        ),
        Workload(
            "minigrid-8x8",
            ("relayrl", "sample-factory"),  # SB3 too with --frameworks relayrl sample-factory sb3
            MINIGRID_8X8,
            {"sample-factory time": ("seconds_to_target", "max", 0.7)},
            "Workload 2 on DoorKey-8x8, small CNN + MLP 64x64, time to success rate 0.9 (last 100 episodes)",
            timeout=1800.0,
        ),
        Workload(
            "atari",
            ("relayrl", "sample-factory", "sb3", "relayrl-1thread"),
            ATARI,
            {"sample-factory fps": ("fps", "min", 1.2)},
            "Workload 3: Pong (ale-py), 84x84 grayscale x 4 frames, Nature CNN",
        ),
        Workload(
            "cartpole-vec",
            ("relayrl-vec", "relayrl-plain", "relayrl-vec128"),
            {**CARTPOLE, "steps": 300_000},
            {},
            "Workload 4: CartPole-v1 through Gymnasium's numpy vector entry point (relayrl --vectorized)",
        ),
    )
}


# ----- venvs -----


def ensure_venv(key: str, log) -> Path:
    """Create ``benchmarks/.venvs/<key>`` with torch 2.13.0 (CPU) first, then the peer; idempotent."""
    venv = VENVS / key
    stamp = venv / ".bench-installed"
    spec = "\n".join([TORCH, *PEER_VENVS[key]])
    py = venv / "bin" / "python"
    if stamp.exists() and stamp.read_text() == spec and py.exists():
        return venv
    base = getattr(sys, "_base_executable", None) or sys.executable
    log(f"creating {venv} ({', '.join(PEER_VENVS[key])}) ...")
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, TORCH], check=True)
    if key in PEER_BUILDS:
        PEER_BUILDS[key](py, TORCH, log)
    else:
        subprocess.run([*pip, *PEER_VENVS[key]], check=True)
    got = subprocess.run(
        [str(py), "-c", "import torch; print(torch.__version__)"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if got != TORCH_VERSION:
        raise SystemExit(
            f"{venv}: the peer's install replaced torch (now {got}, expected {TORCH_VERSION}); "
            "pin a peer version that accepts torch 2.13.0"
        )
    stamp.write_text(spec)
    return venv


# ----- process tree sampling -----

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(name))
    return kids


def _tree(root: int) -> list[int]:
    kids = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def _machine_busy_ticks() -> int:
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals[:8]) - idle


class TreeSampler(threading.Thread):
    """Peak summed RSS / PSS of a process and its descendants, and the CPU others used meanwhile."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.stop_event = threading.Event()
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_procs = 0
        self.cpu_ticks: dict[int, int] = {}
        self.busy0 = _machine_busy_ticks()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop_event.is_set():
            rss = pss = n = 0
            for pid in _tree(self.pid):
                try:
                    with open(f"/proc/{pid}/statm") as f:
                        rss += int(f.read().split()[1]) * PAGE
                    with open(f"/proc/{pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    self.cpu_ticks[pid] = int(fields[11]) + int(fields[12])
                    with open(f"/proc/{pid}/smaps_rollup") as f:
                        for line in f:
                            if line.startswith("Pss:"):
                                pss += int(line.split()[1]) * 1024
                                break
                    n += 1
                except (OSError, IndexError, ValueError):
                    continue
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_procs = max(self.peak_procs, n)
            self.stop_event.wait(self.interval)

    def finish(self) -> dict[str, float]:
        self.stop_event.set()
        self.join()
        wall = time.monotonic() - self.t0
        busy = (_machine_busy_ticks() - self.busy0) / TICK
        own = sum(self.cpu_ticks.values()) / TICK
        return {
            "peak_rss_mb": self.peak_rss / 2**20,
            "peak_pss_mb": self.peak_pss / 2**20,
            "peak_processes": self.peak_procs,
            "cpu_cores_used": own / max(wall, 1e-9),
            "other_load_cores": max(0.0, busy - own) / max(wall, 1e-9),
        }


# ----- runs -----


def run_one(fw: Framework, params: dict[str, Any], run_dir: Path, timeout: float) -> dict[str, Any]:
    run_dir.mkdir(parents=True)
    episodes = run_dir / "episodes"
    episodes.mkdir()
    env = {**os.environ, "BENCH_EPISODE_DIR": str(episodes), "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    cmd = [fw.python(), str(RUNNERS / fw.script), json.dumps({**params, **fw.extra, "work_dir": str(run_dir)})]
    with open(run_dir / "stdout.txt", "w") as out, open(run_dir / "stderr.txt", "w") as err:
        t_launch = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=run_dir, env=env, stdout=out, stderr=err, start_new_session=True)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        try:
            rc = proc.wait(timeout=timeout)
            process_s = time.monotonic() - t_launch
        except subprocess.TimeoutExpired:
            rc, process_s = None, None
        finally:
            # The runner's whole process group, also after a normal exit: a framework's worker
            # processes can outlive its main process (seen with Sample Factory), and a Ctrl-C or
            # SIGTERM of this script must not leave them running into the next measurement.
            _kill_group(proc.pid)
        if rc is None:
            rc = proc.wait()
        usage = sampler.finish()
    result: dict[str, Any] = {"framework": fw.name, "rc": rc, "error": None, "process_s": process_s}
    lines = (run_dir / "stdout.txt").read_text().splitlines()
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if "framework" in data:
                result.update(data)
                result["framework"] = fw.name
                if process_s and data.get("frames"):
                    # the whole process: interpreter, imports, start-up, training, shutdown
                    result["process_fps"] = data["frames"] / process_s
                break
    else:
        tail = (run_dir / "stderr.txt").read_text().strip().splitlines()[-5:]
        result["error"] = f"rc {rc}, no result line; stderr tail: " + " | ".join(tail)
    result.update(usage)
    return result


def _kill_group(pgid: int, wait: float = 15.0) -> None:
    """SIGKILL the process group ``pgid``, then wait (at most ``wait`` s) until none of its processes
    is left but zombies: a killed process is still exiting (freeing its memory, on a CPU) for a while,
    and the next run would find the machine busy (and e.g. relayrl's ``--backend auto`` choose by it)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return  # nothing left in the group
    deadline = time.monotonic() + wait
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _group_members(pgid: int) -> list[int]:
    """The pids of process group ``pgid`` that are not zombies (from /proc; empty where there is none)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def run_raw(run_dir: Path, seconds: float, env_kind: str, env: str) -> dict[str, Any]:
    params = {"seconds": seconds, "env_kind": env_kind, "env": env}
    return run_one(Framework("raw-env", None, "raw_env.py"), params, run_dir, timeout=600)


# ----- table -----


def _med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def _to_target_median(runs: list[dict[str, Any]], metric: str) -> float | None:
    """Median of ``metric`` (seconds or frames to the target) over *all* runs, an unsolved run
    counting as slower than every solved one (``inf``: it did not get there within its budget).
    A median over the solved runs only would flatter the framework that solved fewer of them.
    ``inf`` when half the runs or more did not solve; None without runs."""
    if not runs:
        return None
    return statistics.median([float(r[metric]) if r.get("solved") else math.inf for r in runs])


def _to_target_cell(runs: list[dict[str, Any]], metric: str, digits: int = 0) -> str:
    """The censored median (see ``_to_target_median``), then min-max over the solved runs."""
    median = _to_target_median(runs, metric)
    solved = [r[metric] for r in runs if r.get("solved")]
    if median is None or not solved:
        return "-"
    span = f"{_fmt(min(solved), digits)}-{_fmt(max(solved), digits)}"
    if math.isinf(median):
        return f"not reached ({span} in solved runs)"
    return f"{_fmt(median, digits)} ({span})"


def _range(values: list[float], digits: int = 0) -> str:
    if not values:
        return "-"
    return f"{_fmt(statistics.median(values), digits)} ({_fmt(min(values), digits)}-{_fmt(max(values), digits)})"


def summarize(workload: Workload, runs: list[dict[str, Any]], raw: dict[str, Any] | None) -> str:
    lines: list[str] = []
    cores = raw.get("cores", os.cpu_count()) if raw else os.cpu_count()
    if raw and not raw.get("error"):
        lines.append(f"Raw {raw.get('env')} env steps/s, random actions (gymnasium {raw.get('gymnasium')}):")
        lines.append("")
        lines.append(f"| case | 1 process | {cores} processes |")
        lines.append("|---|---:|---:|")
        for case in ("single", "single+episode_log", "vector16", "vector256"):
            if f"{case}_1proc" in raw:
                lines.append(f"| {case} | {_fmt(raw.get(f'{case}_1proc'))} | {_fmt(raw.get(f'{case}_{cores}proc'))} |")
        lines.append("")
    by: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by.setdefault(r["framework"], []).append(r)
    ok = {k: [r for r in v if not r.get("error")] for k, v in by.items()}
    target = workload.params["target"]
    tl = f"{target:g}" if target is not None else "target (none set)"
    lines.append(f"{workload.title}; {workload.params['steps']:,} env steps per run; median (min-max) over runs:")
    if target is not None:
        lines.append(
            "(to the target: median over all runs, an unsolved run counting as slower than any solved one; "
            "min-max over the solved runs)"
        )
    lines.append("")
    lines.append(
        f"| framework | runs ok | fps (whole run) | fps (whole process) | steady fps (20-90%) | of raw limit | solved "
        f"| s to {tl} | frames to {tl} | peak RSS MB | peak PSS MB | other load (cores) |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in workload.frameworks:
        rs = ok.get(name, [])
        fps = [r["fps"] for r in rs]
        steady = [r["steady_fps"] for r in rs if r.get("steady_fps")]
        solved = [r for r in rs if r.get("solved")]
        limit = raw.get(f"{FRAMEWORKS[name].raw}_{cores}proc") if raw else None
        frac = f"{_med(fps) / limit:.1%}" if fps and limit else "-"
        lines.append(
            f"| {name} | {len(rs)}/{len(by.get(name, []))} | {_range(fps)} "
            f"| {_range([r['process_fps'] for r in rs if r.get('process_fps')])} | {_range(steady)} | {frac} "
            f"| {f'{len(solved)}/{len(rs)}' if target is not None else '-'} "
            f"| {_to_target_cell(rs, 'seconds_to_target', 1)} "
            f"| {_to_target_cell(rs, 'frames_to_target')} "
            f"| {_range([r['peak_rss_mb'] for r in rs])} | {_range([r['peak_pss_mb'] for r in rs])} "
            f"| {_range([r['other_load_cores'] for r in rs], 2)} |"
        )
    lines.append("")
    base = workload.frameworks[0]
    mine = ok.get(base, [])
    if len(workload.frameworks) > 1 and mine:
        lines.append(f"Ratios {base}/peer (of medians):")
        lines.append("")
        lines.append("| peer | fps | fps (whole process) | steady fps | s to target | frames to target | peak PSS |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        ratios: dict[tuple[str, str], float] = {}
        for peer in workload.frameworks[1:]:
            theirs = ok.get(peer, [])
            row = [peer]
            for metric in ("fps", "process_fps", "steady_fps", "seconds_to_target", "frames_to_target", "peak_pss_mb"):
                if metric.endswith("_to_target"):
                    a, b = _to_target_median(mine, metric), _to_target_median(theirs, metric)
                else:
                    a = _med([r[metric] for r in mine if r.get(metric) is not None])
                    b = _med([r[metric] for r in theirs if r.get(metric) is not None])
                if a is None or not b or (math.isinf(a) and math.isinf(b)):
                    row.append("-")
                elif math.isinf(a) or math.isinf(b):
                    # one side's median run did not reach the target within the budget
                    ratios[(peer, metric)] = a / b
                    row.append(f"inf ({base} unsolved)" if math.isinf(a) else "0 (peer unsolved)")
                else:
                    ratios[(peer, metric)] = a / b
                    row.append(f"{a / b:.2f}")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        for label, (metric, kind, bound) in workload.targets.items():
            peer = label.split()[0]
            if peer not in workload.frameworks[1:]:
                continue  # that peer was not run (--frameworks)
            value = ratios.get((peer, metric))
            if value is None:
                verdict = "not measured (no ratio: no successful run, or neither median run reached the target)"
            else:
                met = value >= bound if kind == "min" else value <= bound
                shown = {0.0: "0 (the peer's median run did not reach it)", math.inf: f"inf ({base}'s did not)"}
                verdict = f"{shown.get(value, f'{value:.2f}')} -> {'MET' if met else 'NOT met'}"
            sign = ">=" if kind == "min" else "<="
            lines.append(f"- target {base}/{peer} {metric} {sign} {bound}: {verdict}")
        lines.append("")
    phased = [r for name in workload.frameworks if name.startswith("relayrl") for r in ok.get(name, [])]
    if phased:
        keys = sorted({k for r in phased for k in r.get("phases", {}) if k.endswith("_frac")})
        lines.append("relayrl per-phase timing (time-weighted over each run's reports; median over runs):")
        lines.append("")
        lines.append("| run | " + " | ".join(k.replace("_frac", "") for k in keys) + " | report fps (median) |")
        lines.append("|---|" + "---:|" * (len(keys) + 1))
        for name in workload.frameworks:
            rs = [r for r in ok.get(name, []) if r.get("phases")]
            if not rs:
                continue
            cells = [f"{_med([r['phases'][k] for r in rs if k in r['phases']]) or 0:.0%}" for k in keys]
            rep = _med([r["phases"]["report_fps_median"] for r in rs if "report_fps_median" in r["phases"]])
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {_fmt(rep)} |")
        lines.append("")
    errors = [r for r in runs if r.get("error")]
    for r in errors:
        lines.append(f"- FAILED run {r['framework']}: {r['error']}")
    return "\n".join(lines)


def _overrides(pairs: list[str], params: dict[str, Any], workload: str) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs as a dict; only keys the workload has, values parsed as JSON."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in params:
            raise SystemExit(f"--set {pair!r}: give KEY=VALUE with KEY one of workload {workload}'s {sorted(params)}")
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text  # a plain string, e.g. lr_schedule=linear
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), nargs="+", default=["cartpole"])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (A B C A B C ...)")
    parser.add_argument(
        "--frameworks", nargs="+", default=None, help="frameworks to run, in this order (default: the workload's)"
    )
    parser.add_argument("--steps", type=int, default=None, help="override the workload's env-step budget")
    parser.add_argument("--env", type=str, default=None, help="override the workload's env id (same env kind)")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override workload parameters for every framework, VALUE as JSON (e.g. ent_coef=0.05 hidden=[128,128])",
    )
    parser.add_argument("--first-seed", type=int, default=1, help="seed of round 1 (round r runs seed first+r-1)")
    parser.add_argument("--raw-seconds", type=float, default=3.0, help="seconds per raw-env case (0: skip)")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds before a run is killed (default: the workload's, 900-1800)"
    )
    parser.add_argument("--out-dir", type=str, default=None, help="default: train_dir/benchmarks/compare-<time>")
    parser.add_argument("--setup-only", action="store_true", help="create the peers' venvs and stop")
    parser.add_argument(
        "--background-load",
        type=int,
        default=0,
        metavar="N",
        help="N CPU-bound busy loops beside every measured run, started before it and stopped after it",
    )
    args = parser.parse_args()

    # SIGTERM unwinds like Ctrl-C, so the running runner's process group is killed on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def log(msg: str) -> None:
        print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)

    if args.background_load < 0:
        raise SystemExit(f"--background-load must be >= 0 (got {args.background_load})")
    unknown = [f for f in args.frameworks or () if f not in FRAMEWORKS]
    if unknown:  # checked before the venvs are set up (the lookup below would raise a KeyError)
        raise SystemExit(f"--frameworks: unknown {unknown}; choose from {sorted(FRAMEWORKS)}")
    overrides = {w: _overrides(args.set, WORKLOADS[w].params, w) for w in args.workload}
    needed = {
        FRAMEWORKS[f].venv
        for w in args.workload
        for f in (args.frameworks or WORKLOADS[w].frameworks)
        if FRAMEWORKS[f].venv is not None
    }
    for key in sorted(PEER_VENVS if args.setup_only else needed):
        ensure_venv(key, log)
    if args.setup_only:
        log("venvs ready under " + str(VENVS))
        return
    stamp = f"{datetime.datetime.now():%Y%m%d-%H%M%S}"
    out = Path(args.out_dir or Path("train_dir") / "benchmarks" / f"compare-{stamp}").resolve()
    stale = [w for w in args.workload if (out / w).exists()]
    if stale:
        raise SystemExit(f"--out-dir {out} already holds runs of {stale}; give a new --out-dir (or remove it).")
    out.mkdir(parents=True, exist_ok=True)
    log(f"results and logs: {out}")
    report = []
    for wname in args.workload:
        w = WORKLOADS[wname]
        if args.frameworks:
            w = dataclasses.replace(w, frameworks=tuple(args.frameworks))
        params = dict(w.params)
        if args.steps:
            params["steps"] = args.steps
        if args.env:
            params["env"] = args.env
        params.update(overrides[wname])
        w = dataclasses.replace(w, params=params)
        raw = None
        if args.raw_seconds > 0:
            log(f"{wname}: raw env step rate ...")
            raw = run_raw(out / wname / "raw-env", args.raw_seconds, params["env_kind"], params["env"])
            log(f"raw: {json.dumps({k: round(v) if isinstance(v, float) else v for k, v in raw.items()})}")
        runs = []
        for rep in range(args.repeats):
            for name in w.frameworks:
                log(f"{wname} round {rep + 1}/{args.repeats}: {name} ...")
                r = background_load.measured(
                    args.background_load,
                    functools.partial(
                        run_one,
                        FRAMEWORKS[name],
                        {**params, "seed": args.first_seed + rep},
                        out / wname / f"{rep + 1}-{name}",
                        args.timeout or w.timeout,
                    ),
                )
                r["round"] = rep + 1
                runs.append(r)
                brief = {
                    k: round(r[k], 1) if isinstance(r.get(k), float) else r.get(k)
                    for k in ("fps", "steady_fps", "seconds_to_target", "peak_pss_mb", "other_load_cores", "error")
                }
                log(f"  {name}: {brief}")
                (out / wname / "runs.json").write_text(json.dumps({"raw": raw, "runs": runs}, indent=1))
        text = summarize(w, runs, raw) + "\n" + background_load.load_table(runs) + "\n"
        report.append(f"## {wname}\n\n{text}")
        print("\n" + text, flush=True)
    (out / "report.md").write_text("\n\n".join(report) + "\n")
    log(f"wrote {out / 'report.md'} and <workload>/runs.json")


if __name__ == "__main__":
    main()
