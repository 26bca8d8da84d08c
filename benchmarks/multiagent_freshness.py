"""Training-info freshness with two policies on the two-player CoinDuel (multi-agent env).

    python -m benchmarks.multiagent_freshness --runs 3 --steps 300000

Each run trains ``benchmarks.training_info_envs:make_duel_with_interface`` (CoinDuel, both players
learning, ``--num-policies 2``, random mapping) with 2 workers x 16 envs. Every env logs the time of
each of its steps and of each delivery with its ``approx_total_training_steps``; freshness against
the true total is computed as in ``benchmarks.training_info`` (deliveries from 1 s after the first
step on). It also counts the deliveries whose ``agents`` entry named a policy for both players.
Prints per-run and median p90 staleness (bar: p90 < 0.1 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import relayrl
from benchmarks.training_info import freshness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300_000)
    args = parser.parse_args()
    p90s, p90_steps = [], []
    with tempfile.TemporaryDirectory() as train_dir:
        for run in range(args.runs):
            log_dir = Path(train_dir, f"log{run}")
            log_dir.mkdir()
            cfg = relayrl.Config(
                env="benchmarks.training_info_envs:make_duel_with_interface",
                train_dir=train_dir,
                experiment=f"run{run}",
                seed=run + 1,
                train_for_env_steps=args.steps,
                environment=relayrl.EnvConfig(env_kwargs={"log_dir": str(log_dir)}),
                sampling=relayrl.SamplingConfig(num_workers=2, num_envs_per_worker=16),
                logging=relayrl.LoggingConfig(progress_bar=False, tensorboard=False),
                multi_agent=relayrl.MultiAgentConfig(num_policies=2),
            )
            summary = relayrl.train(cfg)
            fresh = freshness(log_dir)
            named = [tuple(map(int, p.read_text().split())) for p in log_dir.glob("agents_*.txt")]
            with_agents, total = sum(n for n, _ in named), sum(t for _, t in named)
            p90s.append(fresh["seconds"]["p90"])
            p90_steps.append(fresh["steps"]["p90"])
            print(
                f"run {run + 1}: {summary.fps:,.0f} frames/s, {fresh['deliveries']} deliveries, staleness median "
                f"{fresh['seconds']['median'] * 1e3:.1f} ms / {fresh['steps']['median']:.0f} steps, p90 "
                f"{fresh['seconds']['p90'] * 1e3:.1f} ms / {fresh['steps']['p90']:.0f} steps, max "
                f"{fresh['seconds']['max'] * 1e3:.1f} ms; deliveries naming both players' policies: {with_agents}/{total}",
                flush=True,
            )
    print(f"median p90 staleness: {statistics.median(p90s) * 1e3:.1f} ms, {statistics.median(p90_steps):.0f} steps")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
