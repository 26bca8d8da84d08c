"""What evaluation during training costs: training frames/s with evaluation on against off, A/B interleaved.

    python -m benchmarks.eval_cost --env HalfCheetah-v5 --preset mujoco --steps 300000 --seeds 1 2 3
    python -m benchmarks.eval_cost --env CartPole-v1 --steps 300000 --eval-every 50000 --seeds 1 2 3

Per seed it runs ``relayrl train`` twice, off then on (``--eval-every-env-steps 0`` against ``--eval-every``,
or the preset's own cadence when ``--preset`` turns evaluation on), each a fresh process in its own
process group. Training frames/s = env steps / training seconds of the run's last ``progress.jsonl`` row
(start-up excluded: evaluation does not change it). It prints a table with the 1-min load average at each
run's start, the medians, and the ratio of the medians, and writes ``results.json`` under ``--out-dir``.
Run it with relayrl's venv python.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.suite_runs import run_process


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.eval_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--preset", default=None, help="relayrl train --preset (mujoco turns evaluation on)")
    p.add_argument("--steps", type=int, default=300_000, help="env steps per run")
    p.add_argument("--eval-every", type=int, default=None, help="--eval-every-env-steps of the 'on' arm")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per run before it is killed")
    p.add_argument("--out-dir", default=None, help="default: a new temporary folder")
    args = p.parse_args(argv)
    if args.preset is None and args.eval_every is None:
        p.error("--eval-every is needed without a --preset that turns evaluation on")
    return args


def train_command(args: argparse.Namespace, seed: int, evaluate: bool, train_dir: Path) -> list[str]:
    """The ``relayrl train`` command of one arm (``evaluate``: on) for ``seed``."""
    cmd = [sys.executable, "-m", "relayrl.cli.main", "train", "--env", args.env, "--seed", str(seed)]
    cmd += ["--train-for-env-steps", str(args.steps), "--train-dir", str(train_dir)]
    cmd += ["--experiment", f"{'on' if evaluate else 'off'}_s{seed}"]
    if args.preset:
        cmd += ["--preset", args.preset]
    if not evaluate:
        cmd += ["--eval-every-env-steps", "0"]
    elif args.eval_every is not None:
        cmd += ["--eval-every-env-steps", str(args.eval_every)]
    return cmd


def training_fps(progress: Path) -> tuple[float, int]:
    """(training frames/s, number of evaluations reported) of a finished run's ``progress.jsonl``."""
    rows = [json.loads(line) for line in progress.read_text().splitlines() if line.strip()]
    last = rows[-1]
    evaluations = sum(1 for row in rows if "eval/reward" in row)
    return last["env_steps"] / max(last["train_seconds"], 1e-9), evaluations


def run_arm(args: argparse.Namespace, seed: int, evaluate: bool, out: Path) -> dict[str, Any]:
    name = f"{'on' if evaluate else 'off'}_s{seed}"
    run_dir = out / name
    run_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    rc, wall, _ = run_process(train_command(args, seed, evaluate, run_dir / "train_dir"), run_dir, args.timeout)
    if rc != 0:
        raise SystemExit(f"{name}: relayrl train exited with {rc}; see {run_dir}/stderr.txt")
    fps, evaluations = training_fps(run_dir / "train_dir" / name / "progress.jsonl")
    row = {"seed": seed, "eval": evaluate, "fps": fps, "evaluations": evaluations, "wall": wall, "load": load}
    print(f"{name}: {fps:,.0f} training frames/s, {evaluations} evaluations, {wall:.0f} s wall, load {load:.1f}")
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out_dir or tempfile.mkdtemp(prefix="eval_cost-"))
    rows = [run_arm(args, seed, evaluate, out) for seed in args.seeds for evaluate in (False, True)]
    off = statistics.median(r["fps"] for r in rows if not r["eval"])
    on = statistics.median(r["fps"] for r in rows if r["eval"])
    print("\n| seed | off frames/s | on frames/s | on / off | evaluations | load at start (off, on) |")
    print("|---:|---:|---:|---:|---:|---|")
    for seed in args.seeds:
        a, b = (next(r for r in rows if r["seed"] == seed and r["eval"] == e) for e in (False, True))
        print(
            f"| {seed} | {a['fps']:,.0f} | {b['fps']:,.0f} | {b['fps'] / a['fps']:.2f} | {b['evaluations']} | "
            f"{a['load']:.1f}, {b['load']:.1f} |"
        )
    print(f"\nmedian off {off:,.0f}, median on {on:,.0f}: on / off = {on / off:.3f}")
    (out / "results.json").write_text(json.dumps({"args": vars(args), "runs": rows, "ratio": on / off}, indent=1))
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
