"""Start-up of a whole `relayrl train` process, phase by phase (medians over runs).

    python -m benchmarks.startup                                  # this checkout, 5 runs
    python -m benchmarks.startup --checkout before=/path/to/old   # interleaved with another checkout
    python -m benchmarks.startup --backend local                  # a fixed backend (default: the run's own)

Each run is a fresh process: ``python -m relayrl.cli.main train`` on CartPole-v1 (16,384 env steps,
default workers; ``--backend`` as given, else the version's default), with the env wrapped so that its
first step in each worker writes a timestamp.
Measured from outside, the same way for any version of relayrl:

- ``cli import``: a separate process, start -> ``relayrl.cli.main`` imported;

- ``first step``: process start -> the first env step in any rollout worker;
- ``exit``: process start -> the process ended (the whole run).

and, from the trainer's own start-up line (``start-up, seconds since the process started: ...``)
when the version logs one: ``cli`` (interpreter and the CLI module), ``imports`` (the command's
modules: torch, gymnasium ...), ``config``, ``trainer`` (envs probed, learner and shared memory
built), ``workers`` (every worker process ready), ``first rollout`` (the trainer holds the first
filled slot). Process start is taken just before the process is launched.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ENV_MODULE = "relayrl_startup_bench"
LINE = re.compile(r"start-up, seconds since the process started: (.*)$", re.M)


def make_env(config: dict[str, Any] | None = None) -> Any:
    """CartPole-v1 whose first ``step`` writes ``time.time()`` to ``<stamp_dir>/<pid>`` (worker side)."""
    import gymnasium as gym

    stamp_dir = Path((config or {})["stamp_dir"])

    class FirstStepStamp(gym.Wrapper):
        def step(self, action: Any) -> Any:
            if not getattr(self, "stamped", False):
                self.stamped = True
                stamp_dir.mkdir(parents=True, exist_ok=True)
                (stamp_dir / f"{os.getpid()}_{id(self)}").write_text(repr(time.time()))
            return self.env.step(action)

    return FirstStepStamp(gym.make("CartPole-v1"))


def cli_import_seconds(checkout: Path, python: str, env: dict[str, str]) -> float:
    """Process start -> ``relayrl.cli.main`` imported (interpreter start included), in a process of its own."""
    code = "import relayrl.cli.main, time; print(repr(time.time()))"
    t0 = time.time()
    out = subprocess.run([python, "-c", code], cwd=checkout, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout) - t0


def one_run(
    checkout: Path, python: str, steps: int, workdir: Path, index: int, backend: str | None = None
) -> dict[str, float]:
    stamp_dir = workdir / f"stamps_{index}"
    cmd = [
        python,
        "-m",
        "relayrl.cli.main",
        "train",
        "--env",
        f"{ENV_MODULE}:make_env",
        "--env-kwargs",
        json.dumps({"stamp_dir": str(stamp_dir)}),
        "--train-for-env-steps",
        str(steps),
        "--train-dir",
        str(workdir / "runs"),
        "--experiment",
        f"run{index}",
        "--no-progress-bar",
        "--seed",
        str(index),
        *(["--backend", backend] if backend else []),
    ]
    # the checkout's relayrl first; this file, copied to workdir, provides the env to any version
    env = dict(os.environ, PYTHONPATH=f"{checkout}{os.pathsep}{workdir.parent}")
    cli_import = cli_import_seconds(checkout, python, env)
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
    t_exit = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    stamps = [float(p.read_text()) for p in stamp_dir.iterdir()]
    row = {"cli import": cli_import, "first step": min(stamps) - t0, "exit": t_exit}
    found = LINE.search(proc.stderr)
    if found:
        for part in found.group(1).split(" | "):
            name, _, value = part.rpartition(" ")
            row[name] = float(value)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per checkout (medians are reported)")
    parser.add_argument("--steps", type=int, default=16384, help="env steps of each run")
    parser.add_argument(
        "--checkout",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="another relayrl checkout to measure, interleaved with this one (repeatable)",
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter with relayrl's dependencies")
    parser.add_argument(
        "--backend", default=None, help="--backend of every run (default: none given, each version's default)"
    )
    args = parser.parse_args()
    checkouts = {"this": HERE.parent}
    for spec in args.checkout:
        label, _, path = spec.partition("=")
        checkouts[label] = Path(path).resolve()
    rows: dict[str, list[dict[str, float]]] = {label: [] for label in checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / f"{ENV_MODULE}.py").write_text(Path(__file__).read_text())
        for i in range(args.runs):
            for label, path in checkouts.items():  # interleaved: machine noise hits every checkout alike
                row = one_run(path, args.python, args.steps, Path(tmp) / label, i, args.backend)
                rows[label].append(row)
                print(f"run {i + 1} {label}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
    backend = f", --backend {args.backend}" if args.backend else ""
    print(
        f"\nmedians over {args.runs} runs, seconds since process start ({args.steps} env steps of CartPole-v1{backend})"
    )
    for label, runs in rows.items():
        phases = [k for k in runs[0] if all(k in r for r in runs)]
        print(f"{label:>8}: " + " | ".join(f"{k} {statistics.median(r[k] for r in runs):.2f}" for k in phases))


if __name__ == "__main__":
    main()
