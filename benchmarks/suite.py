"""Benchmark suites: train on a family of tasks over several seeds, evaluate, write a table and a plot.

    python -m benchmarks.suite --suite mujoco --seeds 3 --steps 1000000
    python -m benchmarks.suite --suite mujoco --seeds 3 --envs Hopper-v5 Walker2d-v5
    python -m benchmarks.suite --suite mujoco --frameworks sb3-zoo --peer-seeds 1 --peer-jobs 2
    python -m benchmarks.suite --suite mujoco --frameworks relayrl sb3-zoo --out-dir DIR   # continue DIR

Run it with relayrl's venv python. ``relayrl`` trains with ``relayrl train --preset mujoco`` (plus
``--set KEY=VALUE`` flags) and evaluates each run's ``best.pt`` and final checkpoint with
``relayrl enjoy``'s deterministic evaluation (``--eval-episodes`` episodes, episode i reset with
``--eval-seed + i``). ``sb3-zoo`` is Stable-Baselines3 PPO with the RL Zoo's tuned hyperparameters
(``benchmarks/peer_runners/run_sb3_zoo.py`` in the peer venv that ``benchmarks.compare`` builds;
one torch thread), evaluated the same way on its final policy. Results go to ``--out-dir``
(default ``train_dir/benchmarks/suite-<suite>-<time>``): one folder per run with its
``result.json``, ``report.md`` (tables) and ``curves.png`` (learning curves). A run whose
``result.json`` exists is reused, so the same command with the same ``--out-dir`` continues an
interrupted suite.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.suite_report import plot_curves, summary_table, targets_table
from benchmarks.suite_runs import run_once

SUITES: dict[str, list[str]] = {"mujoco": ["HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5"]}
PEER_ENVS: dict[str, list[str]] = {"mujoco": ["HalfCheetah-v5", "Hopper-v5"]}
"""Envs the peer runs by default (its run is ~30 min per 1M steps on one core)."""
FRAMEWORKS = ("relayrl", "sb3-zoo")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.suite", description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", choices=sorted(SUITES), default="mujoco")
    p.add_argument("--seeds", type=int, default=3, help="relayrl runs per env, seeds first-seed .. first-seed+N-1")
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--steps", type=int, default=1_000_000, help="env steps per run")
    p.add_argument("--envs", nargs="+", default=None, help="restrict to these envs (default: the whole suite)")
    p.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=["relayrl"])
    p.add_argument("--peer-seeds", type=int, default=1, help="sb3-zoo runs per env")
    p.add_argument("--peer-envs", nargs="+", default=None, help="sb3-zoo envs (default: HalfCheetah-v5 Hopper-v5)")
    p.add_argument("--peer-jobs", type=int, default=1, help="sb3-zoo runs at the same time (each on one thread)")
    p.add_argument("--peer-steps", type=int, default=None, help="sb3-zoo env steps per run (default: --steps)")
    p.add_argument(
        "--peer-seconds", type=float, default=None, help="stop each sb3-zoo run after this many seconds (partial run)"
    )
    p.add_argument("--set", action="append", default=[], metavar="FLAG=VALUE", help="extra relayrl flag, e.g. lr=1e-4")
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--eval-seed", type=int, default=12345)
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per training run before it is killed")
    p.add_argument("--out-dir", default=None)
    p.add_argument("--report-only", action="store_true", help="only rebuild report.md and curves.png from --out-dir")
    return p.parse_args(argv)


def relayrl_flags(pairs: list[str]) -> list[str]:
    """``["lr=1e-4", "hidden-sizes=256 256"]`` -> ``["--lr", "1e-4", "--hidden-sizes", "256", "256"]``."""
    flags: list[str] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set {pair!r}: expected FLAG=VALUE")
        flags += ["--" + key.lstrip("-").replace("_", "-"), *value.split()]
    return flags


def plan(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    """(framework, env, seed) of every run, relayrl's first (in env-then-seed order)."""
    envs = args.envs or SUITES[args.suite]
    runs: list[tuple[str, str, int]] = []
    if "relayrl" in args.frameworks:
        runs += [("relayrl", env, args.first_seed + i) for env in envs for i in range(args.seeds)]
    if "sb3-zoo" in args.frameworks:
        peer_envs = args.peer_envs or [e for e in PEER_ENVS[args.suite] if args.envs is None or e in args.envs]
        runs += [("sb3-zoo", env, args.first_seed + i) for env in peer_envs for i in range(args.peer_seeds)]
    return runs


def collect(out: Path) -> list[dict[str, Any]]:
    """Every finished run's result under ``out``."""
    return [json.loads(p.read_text()) for p in sorted(out.glob("*/*/seed*/result.json"))]


def write_report(out: Path, args: argparse.Namespace, argv: list[str]) -> str:
    results = collect(out)
    curves = plot_curves(results, out / "curves.png")
    loads = [r[k] for r in results for k in ("load_before", "load_after") if k in r]
    text = "\n\n".join(
        [
            f"# Suite {args.suite}, {args.steps:,} env steps per run",
            "Command: `python -m benchmarks.suite " + " ".join(argv) + "`",
            f"Machine: {os.cpu_count()} cores; 1-min load average at the runs' start and end: "
            + (f"{min(loads):.2f}-{max(loads):.2f}" if loads else "-"),
            "Returns: deterministic policy, mean over the episodes of each run; mean ± std over seeds.",
            summary_table(results),
            "## Targets",
            targets_table(results),
            f"Learning curves: `{curves.name}`",
        ]
    )
    (out / "report.md").write_text(text + "\n")
    return text


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    stamp = f"{datetime.datetime.now():%Y%m%d-%H%M%S}"
    out = Path(args.out_dir or Path("train_dir") / "benchmarks" / f"suite-{args.suite}-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        line = f"[{datetime.datetime.now():%H:%M:%S}] {msg}"
        print(line, flush=True)
        with open(out / "suite.log", "a") as f:
            f.write(line + "\n")

    if not args.report_only:
        flags = relayrl_flags(args.set)
        runs = plan(args)
        log(f"{len(runs)} runs into {out}")

        def one(run: tuple[str, str, int]) -> None:
            fw, env, seed = run
            run_dir = out / fw / env / f"seed{seed}"
            log(f"start {fw} {env} seed {seed}")
            steps = args.steps if fw == "relayrl" or args.peer_steps is None else args.peer_steps
            peer_seconds = None if fw == "relayrl" else args.peer_seconds
            r = run_once(
                fw,
                env,
                seed,
                steps,
                run_dir,
                flags,
                args.eval_episodes,
                args.eval_seed,
                args.timeout,
                log,
                peer_seconds,
            )
            brief = {k: r.get(k) for k in ("frames", "wall_s", "fps", "best_return", "final_return", "error")}
            log(f"done  {fw} {env} seed {seed}: {json.dumps(brief)}")

        for run in [r for r in runs if r[0] == "relayrl"]:
            one(run)
        peers = [r for r in runs if r[0] != "relayrl"]
        with ThreadPoolExecutor(max_workers=max(1, args.peer_jobs)) as pool:
            list(pool.map(one, peers))
    print(write_report(out, args, argv))
    log(f"report: {out / 'report.md'}")


if __name__ == "__main__":
    main()
