"""Frames/s with two policies against one, on CoinDuel (both players learning, same agents and envs).

    python -m benchmarks.multiagent_fps --repeats 3 --seconds 40
    python -m benchmarks.multiagent_fps --against /tmp/base --repeats 5 --seconds 40

Each repeat trains ``relayrl.envs.coin_duel:make_duel`` once with ``--num-policies 1`` and once with
``--num-policies 2`` (random mapping: each player a random policy per episode), alternating, for
--seconds of training each, with the same workers, envs and hyperparameters; frames/s is env steps
(one step of the two-player game) per second of training (``TrainSummary.env_steps / train_seconds``).
Prints the per-run numbers, the medians and their ratio.

``--against DIR`` compares two versions of relayrl on this: each repeat runs this checkout (``new``)
and the relayrl package under ``DIR`` (``base``; e.g. ``git archive COMMIT relayrl | tar -x -C DIR``)
with one and two policies, in alternating order, every run in a subprocess; prints each arm's
medians, its ratio of medians, and the median of its per-repeat ratios (2 policies / 1 policy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import relayrl


def run_once(num_policies: int, seconds: float, seed: int, train_dir: str, workers: int, envs: int) -> float:
    cfg = relayrl.Config(
        env="relayrl.envs.coin_duel:make_duel",
        experiment=f"fps_p{num_policies}_s{seed}",
        train_dir=train_dir,
        train_for_env_steps=10**9,
        train_for_seconds=seconds,
        seed=seed,
        sampling=relayrl.SamplingConfig(num_workers=workers, num_envs_per_worker=envs),
        logging=relayrl.LoggingConfig(progress_bar=False, tensorboard=False, report_interval=10.0),
        multi_agent=relayrl.MultiAgentConfig(num_policies=num_policies),
    )
    summary = relayrl.train(cfg)
    return summary.env_steps / max(summary.train_seconds, 1e-9)


def run_in(pythonpath: str, num_policies: int, args: argparse.Namespace, seed: int, train_dir: str) -> float:
    """``run_once`` in a subprocess whose ``relayrl`` comes first from ``pythonpath``."""
    code = (
        "import relayrl, sys; from benchmarks.multiagent_fps import run_once; "
        f"print(relayrl.__file__); print(run_once({num_policies}, {args.seconds}, {seed}, {train_dir!r}, "
        f"{args.workers}, {args.envs}))"
    )
    first = pythonpath.split(os.pathsep)[0]
    env = {**os.environ, "PYTHONPATH": pythonpath}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=first, check=True, capture_output=True, text=True)
    module, fps = out.stdout.splitlines()[-2:]
    assert Path(module).resolve().is_relative_to(Path(first).resolve()), f"imported {module}, not relayrl from {first}"
    return float(fps)


def against(args: argparse.Namespace) -> None:
    """Interleaved repeats: this checkout (``new``) against the relayrl package under ``--against``."""
    here = str(Path(__file__).resolve().parents[1])
    paths = {"new": here, "base": os.pathsep.join([str(Path(args.against).resolve()), here])}
    fps: dict[tuple[str, int], list[float]] = {(arm, p): [] for arm in paths for p in (1, 2)}
    with tempfile.TemporaryDirectory() as train_dir:
        for r in range(args.repeats):
            order = [(arm, p) for arm in paths for p in (1, 2)]
            for arm, p in order if r % 2 == 0 else order[::-1]:
                fps[arm, p].append(run_in(paths[arm], p, args, r + 1, train_dir))
                print(
                    f"repeat {r + 1}: {arm} {p} polic{'y' if p == 1 else 'ies'}: {fps[arm, p][-1]:,.0f} frames/s "
                    f"(load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    for arm in paths:
        one, two = fps[arm, 1], fps[arm, 2]
        ratios = [b / a for a, b in zip(one, two, strict=True)]
        print(
            f"{arm}: median frames/s 1 policy {statistics.median(one):,.0f}, 2 policies {statistics.median(two):,.0f}, "
            f"ratio of medians {statistics.median(two) / statistics.median(one):.2f}, median of the per-repeat "
            f"ratios {statistics.median(ratios):.2f} ({', '.join(f'{x:.2f}' for x in ratios)})"
        )
    print(f"load average after: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--against", metavar="DIR", help="interleaved repeats against the relayrl package in DIR")
    args = parser.parse_args()
    if args.against:
        against(args)
        return
    fps: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as train_dir:
        for r in range(args.repeats):
            order = (1, 2) if r % 2 == 0 else (2, 1)
            for p in order:
                fps[p].append(run_once(p, args.seconds, r + 1, train_dir, args.workers, args.envs))
                print(f"repeat {r + 1}: {p} polic{'y' if p == 1 else 'ies'}: {fps[p][-1]:,.0f} frames/s", flush=True)
    one, two = statistics.median(fps[1]), statistics.median(fps[2])
    print(f"median frames/s: 1 policy {one:,.0f}, 2 policies {two:,.0f}, ratio {two / one:.2f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
