"""Frames/s with two policies against one, on CoinDuel (both players learning, same agents and envs).

    python -m benchmarks.multiagent_fps --repeats 3 --seconds 40
    python -m benchmarks.multiagent_fps --against /tmp/base --repeats 5 --seconds 40

Each repeat trains ``relayrl.envs.coin_duel:make_duel`` once with ``--num-policies 1`` and once with
``--num-policies 2`` (random mapping: each player a random policy per episode), alternating, for
--seconds of training each, with the same workers, envs and hyperparameters; frames/s is env steps
(one step of the two-player game) per second of training (``TrainSummary.env_steps / train_seconds``).
Every run is a subprocess of its own (each pays the same one-off costs). Prints the per-run
numbers, the medians and their ratio. Each run also gives its process's CPU
seconds per 100k env steps: with ``--backend serial`` (the workers' envs and inference in the
trainer's process) that is the whole cost of training, which a busy machine disturbs far less than
frames/s; with the default ``local`` backend it is the trainer's (learner's) part. The run's start-up
(building envs, models and workers) is in it, its imports are not.

``--against DIR`` compares two versions of relayrl on this: each repeat runs this checkout (``new``)
and the relayrl package under ``DIR`` (``base``; e.g. ``git archive COMMIT relayrl | tar -x -C DIR``)
with one and two policies, in alternating order, every run in a subprocess; prints each arm's
medians, its ratio of medians, and the median of its per-repeat ratios (2 policies / 1 policy).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import relayrl


def run_once(
    num_policies: int, seconds: float, seed: int, train_dir: str, workers: int, envs: int, backend: str = "local"
) -> tuple[float, float]:
    """``(frames/s, the process's CPU seconds per 100k env steps)`` of one run."""
    cfg = relayrl.Config(
        env="relayrl.envs.coin_duel:make_duel",
        experiment=f"fps_p{num_policies}_s{seed}",
        train_dir=train_dir,
        train_for_env_steps=10**9,
        train_for_seconds=seconds,
        seed=seed,
        sampling=relayrl.SamplingConfig(num_workers=workers, num_envs_per_worker=envs, backend=backend),
        logging=relayrl.LoggingConfig(progress_bar=False, tensorboard=False, report_interval=10.0),
        multi_agent=relayrl.MultiAgentConfig(num_policies=num_policies),
    )
    importlib.import_module("relayrl.trainer.trainer")  # its imports (torch ...) outside the CPU time
    cpu = time.process_time()
    summary = relayrl.train(cfg)
    cpu = time.process_time() - cpu
    steps = max(summary.env_steps, 1)
    return summary.env_steps / max(summary.train_seconds, 1e-9), cpu / steps * 1e5


def run_in(
    pythonpath: str, num_policies: int, args: argparse.Namespace, seed: int, train_dir: str
) -> tuple[float, float]:
    """``run_once`` in a subprocess whose ``relayrl`` comes first from ``pythonpath``."""
    code = (
        "import json, relayrl; from benchmarks.multiagent_fps import run_once; print(relayrl.__file__); "
        f"print(json.dumps(run_once({num_policies}, {args.seconds}, {seed}, {train_dir!r}, {args.workers}, "
        f"{args.envs}, {args.backend!r})))"
    )
    first = pythonpath.split(os.pathsep)[0]
    env = {**os.environ, "PYTHONPATH": pythonpath}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=first, check=True, capture_output=True, text=True)
    module, result = out.stdout.splitlines()[-2:]
    assert Path(module).resolve().is_relative_to(Path(first).resolve()), f"imported {module}, not relayrl from {first}"
    fps, cpu = json.loads(result)
    return float(fps), float(cpu)


def _summary(name: str, runs: dict[int, list[tuple[float, float]]]) -> str:
    """Medians of frames/s and CPU per 100k steps with 1 and 2 policies, and their ratios."""
    fps = {p: [r[0] for r in runs[p]] for p in (1, 2)}
    cpu = {p: [r[1] for r in runs[p]] for p in (1, 2)}
    ratios = [b / a for a, b in zip(fps[1], fps[2], strict=True)]
    one, two = statistics.median(fps[1]), statistics.median(fps[2])
    cpu_one, cpu_two = statistics.median(cpu[1]), statistics.median(cpu[2])
    return (
        f"{name}median frames/s 1 policy {one:,.0f}, 2 policies {two:,.0f}, ratio {two / one:.2f} (per repeat: "
        f"{', '.join(f'{x:.2f}' for x in ratios)}, median {statistics.median(ratios):.2f}); CPU s per 100k steps "
        f"1 policy {cpu_one:.2f}, 2 policies {cpu_two:.2f}, ratio {cpu_two / cpu_one:.2f}"
    )


def against(args: argparse.Namespace) -> None:
    """Interleaved repeats: this checkout (``new``) against the relayrl package under ``--against``."""
    here = str(Path(__file__).resolve().parents[1])
    paths = {"new": here, "base": os.pathsep.join([str(Path(args.against).resolve()), here])}
    runs: dict[str, dict[int, list[tuple[float, float]]]] = {arm: {1: [], 2: []} for arm in paths}
    with tempfile.TemporaryDirectory() as train_dir:
        for r in range(args.repeats):
            order = [(arm, p) for arm in paths for p in (1, 2)]
            for arm, p in order if r % 2 == 0 else order[::-1]:
                # a directory per arm: the same experiment in one directory would resume the other's run
                runs[arm][p].append(run_in(paths[arm], p, args, r + 1, os.path.join(train_dir, arm)))
                fps, cpu = runs[arm][p][-1]
                print(
                    f"repeat {r + 1}: {arm} {p} polic{'y' if p == 1 else 'ies'}: {fps:,.0f} frames/s, "
                    f"{cpu:.2f} CPU s per 100k steps (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    for arm in paths:
        print(_summary(f"{arm}: ", runs[arm]))
    print(f"load average after: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--backend", choices=["local", "serial"], default="local")
    parser.add_argument("--against", metavar="DIR", help="interleaved repeats against the relayrl package in DIR")
    args = parser.parse_args()
    if args.against:
        against(args)
        return
    runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    here = str(Path(__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory() as train_dir:
        for r in range(args.repeats):
            order = (1, 2) if r % 2 == 0 else (2, 1)
            for p in order:
                runs[p].append(run_in(here, p, args, r + 1, train_dir))
                fps, cpu = runs[p][-1]
                label = "policy" if p == 1 else "policies"
                print(f"repeat {r + 1}: {p} {label}: {fps:,.0f} frames/s, {cpu:.2f} CPU s per 100k steps", flush=True)
    print(_summary("", runs))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
