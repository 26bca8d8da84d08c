"""Worker-side cost of training info, isolated from the learner and from machine-wide noise.

    python -m benchmarks.training_info_worker --repeats 7

One RolloutWorker (CartPole-v1, 16 envs, default rollout length and --training-info-interval) runs
in this process, with the trainer part of training info republished every 50 ms as a running
trainer does. A: every env implements TrainingInfoInterface; B: the same wrapper without it
(benchmarks.training_info_envs). Interleaved A B A B ..., each repeat times 400 rollouts; prints
the median worker time per env step of each and the ratio. This is the work the interface adds;
in a full run it shows up in fps only through CPU contention with the learner.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import relayrl
from relayrl.config import replace
from relayrl.envs import probe_spaces
from relayrl.models import build_actor_critic
from relayrl.shared.progress import SharedBlob, StepCounters
from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.shared.weights import SharedWeights
from relayrl.trainer.info_publisher import TrainerView, TrainingInfoPublisher
from relayrl.trainer.state import TrainState
from relayrl.worker.context import WorkerContexts
from relayrl.worker.rollout import RolloutWorker

STATS = {
    "episodes": 1000,
    "reward": {"mean": 200.0, "min": 10.0, "max": 500.0, "count": 100.0},
    "length": {"mean": 200.0, "min": 10.0, "max": 500.0, "count": 100.0},
    "episode_extra_stats": {"success": {"mean": 0.5, "min": 0.0, "max": 1.0, "count": 100.0}},
}


def standalone_worker(cfg: relayrl.Config, blob: SharedBlob) -> RolloutWorker:
    """One ``RolloutWorker`` (worker 0 of ``cfg``) in this process, with its own trajectory slot and
    the initial weights of a model built from ``cfg``; ``blob`` carries its training info."""
    obs_space, action_space = probe_spaces(cfg)
    model = build_actor_critic(obs_space, action_space, cfg.model)
    n, t_len = cfg.sampling.num_envs_per_worker, cfg.sampling.rollout_length
    buffers = TrajectoryBuffers.allocate(1, t_len, n, obs_space, action_space, model.rnn_state_size, shared=False)
    weights = SharedWeights(model.state_dict())
    weights.publish(model.state_dict(), 0)
    contexts = WorkerContexts(
        cfg, buffers, (weights,), StepCounters(1), blob, base_seed=0, curriculum_states=lambda w: {}
    )
    return RolloutWorker(contexts(0))


def time_worker(factory: str, rollouts: int) -> float:
    cfg = replace(relayrl.Config(env=f"benchmarks.training_info_envs:{factory}", seed=0), sampling__num_workers=1)
    n, t_len = cfg.sampling.num_envs_per_worker, cfg.sampling.rollout_length
    blob = SharedBlob(capacity=1 << 16)
    view = lambda: TrainerView(0, 0, 0.0, STATS, {}, cfg)  # type: ignore[arg-type]  # noqa: E731
    publisher = TrainingInfoPublisher(cfg, blob, TrainState(), view, lambda: {0: {"policy_version": 0, "stats": STATS}})
    publisher.maybe_publish(force=True)
    worker = standalone_worker(cfg, blob)
    try:
        for _ in range(20):  # warm-up
            worker.collect(0)
        t0 = time.perf_counter()
        for _ in range(rollouts):
            worker.collect(0)
            publisher.maybe_publish()  # every 50 ms, as the trainer does
        return (time.perf_counter() - t0) / (rollouts * n * t_len)
    finally:
        worker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rollouts", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with_, without = [], []
    for _ in range(args.repeats):
        with_.append(time_worker("make_with_interface", args.rollouts))
        without.append(time_worker("make_without_interface", args.rollouts))
    a, b = statistics.median(with_), statistics.median(without)
    print(
        f"worker time per env step: with interface {a * 1e6:.2f} us (min {min(with_) * 1e6:.2f}), "
        f"without {b * 1e6:.2f} us (min {min(without) * 1e6:.2f})"
    )
    print(f"ratio with/without: median {a / b:.4f}, min-of-repeats {min(with_) / min(without):.4f}")


if __name__ == "__main__":
    main()
