"""The learner on a hand-filled batch: policy lag, V-trace statistics, the lazily built optimizer."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import relayrl
from relayrl.config import replace
from relayrl.learning.learner import Learner
from relayrl.sampling.buffers import TrajectoryBuffers

OBS = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
ACTIONS = gym.spaces.Discrete(2)


def learner_and_batch(correction: str, slot_version: int):
    cfg = replace(
        relayrl.Config(env="unused"),
        sampling__num_workers=2,
        sampling__num_envs_per_worker=4,
        sampling__rollout_length=8,
        algorithm__off_policy_correction=correction,
    )
    torch.manual_seed(0)
    learner = Learner(cfg, OBS, ACTIONS, torch.device("cpu"))
    slots = TrajectoryBuffers.allocate(2, 8, 4, OBS, ACTIONS, learner.model.rnn_state_size, shared=False)
    slots.obs.uniform_(-1, 1)
    slots.actions.random_(0, 2)
    slots.rewards.fill_(1.0)
    slots.values.zero_()
    # behaviour log-probs far from the current policy's (about log 0.5): the importance weights
    # pi/mu are 0.5/0.8 or 0.5/0.2, so truncation at 1 matters for part of the batch
    slots.log_probs.copy_(torch.where(slots.actions == 0, 0.8, 0.2).log())
    slots.policy_version.fill_(slot_version)
    return learner, slots.gather([0, 1])


def test_optimizer_is_built_on_first_use():
    learner, batch = learner_and_batch("none", 0)
    assert learner._optimizer is None
    learner.prepare()
    optimizer = learner._optimizer
    assert optimizer is not None
    learner.train(batch, 0)
    assert learner.optimizer is optimizer and learner.policy_version == 1


@pytest.mark.parametrize("correction", ["none", "vtrace"])
def test_lagged_batch_statistics(correction):
    learner, batch = learner_and_batch(correction, 0)
    learner.policy_version = 2  # the batch is two versions old
    stats = learner.train(batch, 0)
    assert stats["policy_lag_mean"] == 2.0 and stats["policy_lag_max"] == 2.0
    assert all(np.isfinite(v) for v in stats.values())
    if correction == "vtrace":
        # about half the steps have pi/mu ~ 0.6 (truncation does nothing), half ~ 2.5 (-> 1)
        assert 0.6 < stats["vtrace_truncated_rho_mean"] < 1.0
    else:
        assert "vtrace_truncated_rho_mean" not in stats


def test_vtrace_without_lag_is_gae():
    # no lag: V-trace is skipped (it would equal GAE), so both corrections train identically
    results = []
    for correction in ("none", "vtrace"):
        learner, batch = learner_and_batch(correction, 0)
        torch.manual_seed(1)
        stats = learner.train(batch, 0)
        results.append((stats["pg_loss"], stats["v_loss"]))
        assert "vtrace_truncated_rho_mean" not in stats
    assert results[0] == pytest.approx(results[1])
