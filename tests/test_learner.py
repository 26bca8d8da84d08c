"""The learner on a hand-filled batch: policy lag, V-trace statistics, the lazily built optimizer."""

import dataclasses
import time

import gymnasium as gym
import numpy as np
import pytest
import torch

import relayrl
from relayrl.config import replace
from relayrl.learning.learner import Learner
from relayrl.shared.trajectories import Trajectories, TrajectoryBuffers

OBS = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
ACTIONS = gym.spaces.Discrete(2)


def learner_and_batch(correction: str, slot_version: int, floor: float = 0.1):
    cfg = replace(
        relayrl.Config(env="unused"),
        sampling__num_workers=2,
        sampling__num_envs_per_worker=4,
        sampling__rollout_length=8,
        algorithm__off_policy_correction=correction,
        algorithm__advantage_std_floor=floor,
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
    slots.policy_versions.fill_(slot_version)
    return learner, slots.gather([0, 1])


def test_optimizer_is_built_on_first_use():
    learner, batch = learner_and_batch("none", 0)
    assert learner._optimizer is None
    learner.prepare()
    optimizer = learner._optimizer
    assert optimizer is not None
    learner.train(batch, 0)
    assert learner.optimizer is optimizer and learner.policy_version == 1


def test_optimizer_built_in_the_background_is_the_one_training_uses(monkeypatch):
    import relayrl.learning.learner as learner_module

    built = []
    real_adam = learner_module.build_adam

    def slow_counting_adam(*args):
        time.sleep(0.2)  # still building when training starts
        built.append(real_adam(*args))
        return built[-1]

    monkeypatch.setattr(learner_module, "build_adam", slow_counting_adam)
    learner, batch = learner_and_batch("none", 0)
    learner.prepare_in_background()
    learner.prepare_in_background()  # a second call starts nothing new
    learner.train(batch, 0)  # waits for the thread instead of building a second optimizer
    assert len(built) == 1 and learner.optimizer is built[0] and built[0].state
    assert learner.policy_version == 1


def test_after_epoch_sees_each_partly_updated_model_under_the_old_version():
    learner, batch = learner_and_batch("none", 0)
    seen: list[tuple[int, torch.Tensor]] = []
    first = next(learner.model.parameters())

    def after_epoch() -> None:
        seen.append((learner.policy_version, first.detach().clone()))

    before = first.detach().clone()
    learner.train(batch, 0, after_epoch)
    assert len(seen) == learner.cfg.algorithm.num_epochs - 1  # the last epoch ends in the regular publish
    assert all(version == 0 for version, _ in seen) and learner.policy_version == 1
    weights = [before, *(w for _, w in seen), first.detach()]
    assert all(not torch.equal(a, b) for a, b in zip(weights, weights[1:], strict=False))  # each epoch moved it


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


def test_advantage_std_floor_keeps_value_noise_from_moving_the_policy():
    # A sparse-reward env before its successes: no reward, advantages are 1e-4-sized value noise.
    # Normalized by their own std they become unit-sized policy updates; with the floor (a tenth of
    # the running std of the returns, set here by an earlier batch with rewards) the update is
    # nearly the one with advantages of exactly 0 (floor 1e6).
    after = {}
    for floor in (0.0, 0.1, 1e6):
        learner, batch = learner_and_batch("none", 0)
        torch.manual_seed(2)
        batch = dataclasses.replace(batch, rewards=torch.randn_like(batch.rewards))  # an earlier batch with signal
        learner.train(batch, 0)
        learner.cfg = replace(learner.cfg, algorithm__advantage_std_floor=floor)
        batch = dataclasses.replace(
            batch,
            rewards=torch.zeros_like(batch.rewards),
            values=1e-4 * torch.randn_like(batch.values),
            bootstrap_value=torch.zeros_like(batch.bootstrap_value),
        )
        with torch.no_grad():
            log_probs = learner.model.evaluate(batch.obs_steps, batch.actions, None, None).log_probs
        batch = dataclasses.replace(batch, log_probs=log_probs)
        stats = learner.train(batch, 0)
        assert stats["advantage_std"] < 1e-3
        assert (stats["advantage_std_floor"] > 0.01) == (floor > 0)
        with torch.no_grad():
            after[floor] = learner.model.evaluate(batch.obs_steps, batch.actions, None, None).log_probs
    noise_moved = float((after[0.0] - after[1e6]).abs().mean())
    assert noise_moved > 1e-3  # without the floor the noise moves the policy
    assert float((after[0.1] - after[1e6]).abs().mean()) < 0.02 * noise_moved


def test_advantage_std_floor_survives_a_resume():
    learner, batch = learner_and_batch("none", 0)
    learner.train(batch, 0)
    state = learner.state_dict()
    fresh, _ = learner_and_batch("none", 0)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.return_stats.var, learner.return_stats.var)
    assert float(fresh.return_stats.count) == float(learner.return_stats.count) > 0


def test_train_leaves_the_batch_as_it_was():
    learner, batch = learner_and_batch("vtrace", 0)
    learner.policy_version = 1  # lagged: the V-trace path reads the batch too
    before = {f.name: getattr(batch, f.name).clone() for f in dataclasses.fields(Trajectories)}
    learner.train(batch, 0)
    for name, value in before.items():
        assert torch.equal(getattr(batch, name), value), name
    with pytest.raises(dataclasses.FrozenInstanceError):
        batch.rewards = torch.zeros(1)  # type: ignore[misc]


def test_cpu_learner_keeps_convolutions_channels_last():
    image = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    learner = Learner(relayrl.Config(env="unused"), image, ACTIONS, torch.device("cpu"))
    convs = [m for m in learner.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    x = torch.randint(0, 256, (2, 3, 4, 84, 84), dtype=torch.uint8)
    assert learner.model.obs_preprocessor(x)[0].is_contiguous(memory_format=torch.channels_last)


def test_small_images_keep_the_default_layout():
    image = gym.spaces.Box(0.0, 1.0, (3, 7, 7), np.float32)  # the small CNN: channels-last made it slower
    learner = Learner(relayrl.Config(env="unused"), image, ACTIONS, torch.device("cpu"))
    convs = [m for m in learner.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous() for c in convs)
    assert not learner.model.obs_preprocessor.images_channels_last


@pytest.mark.parametrize("closed_form", [True, False])
def test_a_policy_sharing_the_slots_draws_only_its_own_steps_so_its_minibatches_carry_no_mask(monkeypatch, closed_form):
    """Several policies: a learner's flat minibatches hold only its own (valid) steps, so they take the
    mask-free loss (no masked means over an all-true mask)."""
    import relayrl.learning.learner as learner_module

    cfg = replace(
        relayrl.Config(env="unused"),
        sampling__num_workers=2,
        sampling__num_envs_per_worker=4,
        sampling__rollout_length=8,
        multi_agent__num_policies=2,
    )
    torch.manual_seed(0)
    learner = Learner(cfg, OBS, ACTIONS, torch.device("cpu"), closed_form=closed_form)
    slots = TrajectoryBuffers.allocate(2, 8, 4, OBS, ACTIONS, 0, shared=False, num_policies=2)
    slots.obs.uniform_(-1, 1)
    slots.actions.random_(0, 2)
    slots.rewards.normal_()
    slots.log_probs.fill_(float(np.log(0.5)))
    slots.policy_ids.copy_(torch.tensor([0, 1, 1, 0], dtype=torch.int16))  # per column
    batch = slots.gather([0, 1]).for_policy(1)
    masks = []
    real_loss = learner_module.ppo_loss

    def spy_loss(*args, **kwargs):
        masks.append(kwargs.get("mask"))
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(learner_module, "ppo_loss", spy_loss)
    if closed_form:
        real_step = learner_module.ClosedFormPPO.step

        def spy_step(self, *args, **kwargs):
            masks.append(kwargs.get("mask"))
            return real_step(self, *args, **kwargs)

        monkeypatch.setattr(learner_module.ClosedFormPPO, "step", spy_step)
    stats = learner.train(batch, 0)
    assert masks and all(mask is None for mask in masks)
    assert stats["num_minibatch_steps"] == cfg.algorithm.num_epochs * 2  # half the steps, half the minibatches
