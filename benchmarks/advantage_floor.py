"""What ``--advantage-std-floor`` changes: the policy's entropy and return, with and without it.

    python -m benchmarks.advantage_floor                                    # reward-free DoorKey-8x8
    python -m benchmarks.advantage_floor --env Acrobot-v1 --steps 200000 --seeds 1 2 3
    python -m benchmarks.advantage_floor --floors 0 0.01 0.03 0.1

The default env is MiniGrid DoorKey-8x8 with its reward removed (the benchmark's 7x7 view): no
signal at all, so every policy update comes from advantages that are value-function noise. Without
the floor, normalizing them by their own tiny std turns them into full-size updates and the
policy's entropy drifts down from ln 7 = 1.95 (a sparse-reward run loses its random exploration
before it finds the reward); with it, the entropy bonus keeps the policy near uniform. On an env
with rewards the same script shows whether the floor slows learning. Settings are relayrl's
defaults with the benchmark workloads' 2 workers x 16 envs, rollout 32, batch 1024, entropy bonus
0.01 and a constant learning rate. For each run it prints the entropy and mean return at a
quarter, half, three quarters and the end of the budget, and how far the advantages' std was
above the floor (median over updates; below 1 means the floor was the divisor). Runs are
sequential; keep the machine quiet.
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

import gymnasium as gym

import relayrl
from relayrl.config import replace

REWARD_FREE = "benchmarks.advantage_floor:make_reward_free_doorkey"


def make_reward_free_doorkey(config: Any = None, *args: Any, **kwargs: Any) -> gym.Env:
    """DoorKey-8x8 as in the benchmarks' MiniGrid workload, with every reward replaced by 0."""
    runners = str(Path(__file__).resolve().parent / "peer_runners")
    if runners not in sys.path:  # called once per env
        sys.path.insert(0, runners)
    import bench_common as bc

    os.environ[bc.MINIGRID_ID_VAR] = "MiniGrid-DoorKey-8x8-v0"
    return gym.wrappers.TransformReward(bc.make_minigrid(), lambda r: 0.0)


def run(env: str, floor: float, seed: int, steps: int, train_dir: str) -> dict[str, Any]:
    cfg = relayrl.Config(
        env=env, train_dir=train_dir, experiment=f"floor{floor}_seed{seed}", seed=seed, train_for_env_steps=steps
    )
    cfg = replace(
        cfg,
        sampling__num_workers=2,
        sampling__num_envs_per_worker=16,
        sampling__rollout_length=32,
        algorithm__batch_size=1024,
        algorithm__ent_coef=0.01,
        algorithm__lr_schedule="constant",
        algorithm__advantage_std_floor=floor,
        logging__progress_bar=False,
        logging__report_interval=2.0,
    )
    relayrl.train(cfg)
    with open(Path(cfg.experiment_dir) / "progress.jsonl") as f:
        rows = [r for r in map(json.loads, f) if "learner/entropy_loss" in r]
    marks = []
    for fraction in (0.25, 0.5, 0.75, 1.0):
        row = min(rows, key=lambda r: abs(r["env_steps"] - fraction * steps))
        marks.append((row["env_steps"], row["learner/entropy_loss"], row.get("reward_mean")))
    ratios = [r["learner/advantage_std"] / r["learner/advantage_std_floor"] for r in rows if floor > 0]
    return {"marks": marks, "std_over_floor": statistics.median(ratios) if ratios else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default=REWARD_FREE, help="env id or factory (default: reward-free DoorKey-8x8)")
    parser.add_argument("--steps", type=int, default=300_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--floors", type=float, nargs="+", default=[0.0, 0.1])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relayrl-floor-") as train_dir:
        for seed in args.seeds:
            for floor in args.floors:
                result = run(args.env, floor, seed, args.steps, train_dir)
                cells = " | ".join(
                    f"{s // 1000}k: H {h:.2f}, return {'-' if r is None else f'{r:.2f}'}" for s, h, r in result["marks"]
                )
                ratio = result["std_over_floor"]
                print(
                    f"seed {seed} floor {floor:g}: {cells} | adv std / floor "
                    f"{'-' if ratio is None else f'{ratio:.2f}'}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
