"""Time one PPO update of the learner alone (no workers, no envs): milliseconds per update.

    python -m benchmarks.learner_update --model mlp --device cpu
    python -m benchmarks.learner_update --model small-cnn --device cuda
    python -m benchmarks.learner_update --model nature-cnn --device cuda --threads 2

Builds a ``Learner`` for an observation like CartPole's (``mlp``, 4 floats), MiniGrid's 7x7 view
(``small-cnn``, float 3x7x7) or Atari's (``nature-cnn``, uint8 4x84x84), fills one batch of
``--workers x --envs x --rollout`` random steps in trajectory slots, and times ``Learner.train``
(gathering the batch included) over ``--updates`` updates after warm-up, ``--repeats`` times;
prints the median and the range. The rest of the configuration is relayrl's default (4 epochs x
4 minibatches).
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

import relayrl
from relayrl.config import replace
from relayrl.learning.learner import Learner
from relayrl.shared.trajectories import TrajectoryBuffers

OBS = {
    "mlp": gym.spaces.Box(-1.0, 1.0, (4,), dtype=np.float32),
    "small-cnn": gym.spaces.Box(0.0, 1.0, (3, 7, 7), dtype=np.float32),
    "nature-cnn": gym.spaces.Box(0, 255, (4, 84, 84), dtype=np.uint8),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(OBS), default="mlp")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--rollout", type=int, default=32)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    obs_space, action_space = OBS[args.model], gym.spaces.Discrete(6)
    cfg = replace(
        relayrl.Config(env="benchmark"),
        sampling__num_workers=args.workers,
        sampling__num_envs_per_worker=args.envs,
        sampling__rollout_length=args.rollout,
    )
    device = torch.device(args.device)
    learner = Learner(cfg, obs_space, action_space, device)
    slots = TrajectoryBuffers.allocate(
        args.workers, args.rollout, args.envs, obs_space, action_space, learner.model.rnn_state_size, shared=False
    )
    if args.model == "nature-cnn":
        slots.obs.random_(0, 256)
    else:
        slots.obs.uniform_()
    slots.rewards.normal_()
    slots.values.normal_()
    slots.log_probs.fill_(-float(np.log(6)))
    slots.actions.random_(0, 6)

    def update() -> None:
        learner.train(slots.gather(list(range(args.workers)), device), 0)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(3):
        update()
    times = []
    for _ in range(args.repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(args.updates):
            update()
        sync()
        times.append((time.perf_counter() - t0) / args.updates * 1000)
    batch = args.workers * args.envs * args.rollout
    med = statistics.median(times)
    print(
        f"{args.model} on {args.device} ({args.threads} thread(s)), batch {batch}: {med:.1f} ms per update "
        f"(min {min(times):.1f}, max {max(times):.1f}; {batch / med * 1000:,.0f} samples/s)"
    )


if __name__ == "__main__":
    main()
