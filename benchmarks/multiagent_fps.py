"""Frames/s with two policies against one, on CoinDuel (both players learning, same agents and envs).

    python -m benchmarks.multiagent_fps --repeats 3 --seconds 40

Each repeat trains ``relayrl.envs.coin_duel:make_duel`` once with ``--num-policies 1`` and once with
``--num-policies 2`` (random mapping: each player a random policy per episode), alternating, for
--seconds of training each, with the same workers, envs and hyperparameters; frames/s is env steps
(one step of the two-player game) per second of training (``TrainSummary.env_steps / train_seconds``).
Prints the per-run numbers, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--envs", type=int, default=16)
    args = parser.parse_args()
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
