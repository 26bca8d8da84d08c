"""A worker's inference alone: one stacked ``act`` for several controllers against one call each.

    python -m benchmarks.stacked_inference                         # CoinDuel's sizes, 2 policies
    python -m benchmarks.stacked_inference --policies 2 --snapshots 4 --rows 64

Times ``WorkerPolicies.act`` (the call a rollout worker makes every step, under inference mode, one
thread) on ``--rows`` rows of random observations, with the rows spread at random over the
controllers (``--policies`` policies and ``--snapshots`` self-play snapshots): ``stacked`` is one
call over the stacked parameters (relayrl/models/stacked.py), ``separate`` one call per controller
on its rows (``WorkerPolicies(stack=False)``), ``one policy`` one call of a single model over every
row (a one-policy run). Defaults are CoinDuel's: 10 floats, Discrete(5), the default 64x64 tanh
actor and critic, 2 workers' 16 envs x 2 players = 32 rows. The three are interleaved, ``--repeats``
blocks of ``--calls`` calls each; prints each one's median microseconds per call.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

from relayrl.config import Config
from relayrl.models import build_actor_critic
from relayrl.shared.weights import SharedWeights
from relayrl.worker.policies import WorkerPolicies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, default=2)
    parser.add_argument("--snapshots", type=int, default=0)
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--obs-size", type=int, default=10)
    parser.add_argument("--actions", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = Config(env="CartPole-v1")
    obs_space = gym.spaces.Box(0.0, 1.0, (args.obs_size,), np.float32)
    action_space = gym.spaces.Discrete(args.actions)
    count = args.policies + args.snapshots
    weights = [SharedWeights(build_actor_critic(obs_space, action_space, cfg.model).state_dict()) for _ in range(count)]

    def build(stack: bool) -> WorkerPolicies:
        policies = WorkerPolicies(
            cfg, obs_space, action_space, weights[: args.policies], weights[args.policies :], stack
        )
        policies.load()
        return policies

    one = WorkerPolicies(cfg, obs_space, action_space, weights[:1], [])
    one.load()
    stacked, separate = build(True), build(False)
    rng = np.random.default_rng(0)
    controller = rng.integers(0, count, args.rows)
    obs = torch.from_numpy(rng.random((args.rows, args.obs_size), dtype=np.float32))
    starts = torch.zeros(args.rows, dtype=torch.bool)
    arms = {
        "one policy": (one, None, one.groups(None)),
        "separate": (separate, controller, separate.groups(controller)),
        "stacked": (stacked, controller, stacked.groups(controller)),
    }
    times: dict[str, list[float]] = {name: [] for name in arms}
    with torch.inference_mode():
        for r in range(args.repeats + 1):
            for name, (policies, ctrl, groups) in arms.items():
                t0 = time.perf_counter()
                for _ in range(args.calls):
                    policies.act(obs, None, starts, ctrl, groups)
                if r > 0:  # the first block warms up
                    times[name].append((time.perf_counter() - t0) / args.calls * 1e6)
    print(f"{args.rows} rows, {args.policies} policies + {args.snapshots} snapshots, median us per act:")
    for name, values in times.items():
        print(f"  {name:>10}: {statistics.median(values):7.1f}  (range {min(values):.1f}-{max(values):.1f})")


if __name__ == "__main__":
    main()
