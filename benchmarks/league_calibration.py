"""League calibration on CoinDuel: do the ratings predict who wins?

    python -m benchmarks.league_calibration --out-dir league_calibration

1. Trains a short self-play run (``relayrl.envs.coin_duel:make_duel --self-play``, --budget env steps),
   writing a checkpoint every --save-every seconds and keeping all of them, so that the experiment
   holds checkpoints of many ages (a finished run is reused).
2. Holds out a round-robin tournament (relayrl/league/tournament.py) among --checkpoints checkpoints of
   evenly spread ages and the scripted bots ``bot_0`` .. ``bot_4``: --games games per pair, seats
   alternating, sampled actions.
3. Splits every pair's games into two halves (even / odd game index, so each half has both seat
   orders): fits the ratings on the first half (``fit_ratings``) and compares, for every pair, the win
   probability ``Ratings.predict_win`` gives with the win rate observed in the other half (draws as
   half a win), then the other way round. Reports the mean absolute error over pairs and the share of
   draws, and saves the calibration plot (predicted vs observed, one dot per pair and direction).

Writes ``results.json`` and ``league_calibration.png`` into --out-dir (``--plot`` copies the plot
elsewhere, e.g. docs/img/league_calibration.png).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import relayrl
from relayrl.envs.coin_duel import BOT_GREEDINESS
from relayrl.experiment import Experiment

EXPERIMENT = "coinduel_league_calibration"
BOTS = [f"relayrl.envs.coin_duel:bot_{level}" for level in range(len(BOT_GREEDINESS))]


def train(args: argparse.Namespace) -> None:
    """The self-play run; skipped when the experiment already reached the budget."""
    experiment = Experiment(args.out_dir, EXPERIMENT)
    done = experiment.checkpoints()
    if done and int(done[-1].stem.rsplit("_", 1)[1]) >= args.budget:
        print(f"{EXPERIMENT}: reusing {len(done)} checkpoints in {experiment.checkpoint_dir}")
        return
    cfg = relayrl.Config(
        env="relayrl.envs.coin_duel:make_duel",
        experiment=EXPERIMENT,
        train_dir=args.out_dir,
        train_for_env_steps=args.budget,
        seed=args.seed,
        sampling=relayrl.SamplingConfig(num_workers=2, num_envs_per_worker=16),
        algorithm=relayrl.AlgorithmConfig(ent_coef=0.01),
        logging=relayrl.LoggingConfig(progress_bar=False, report_interval=10.0),
        # every checkpoint kept: the tournament picks ages spread over the whole run
        checkpointing=relayrl.CheckpointConfig(resume=False, save_every_seconds=args.save_every, keep_checkpoints=1000),
        self_play=relayrl.SelfPlayConfig(enabled=True),
    )
    t0 = time.monotonic()
    summary = relayrl.train(cfg)
    print(f"trained {summary.env_steps:,} env steps in {time.monotonic() - t0:.0f} s ({summary.fps:.0f} env steps/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", default="league_calibration")
    parser.add_argument("--budget", type=int, default=300_000, help="env steps of the self-play run")
    parser.add_argument("--save-every", type=float, default=3.0, help="seconds between checkpoints")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--train-only", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    train(args)


if __name__ == "__main__":
    main()
