"""Closed-form PPO gradients equal autograd's on the same loss, and the learner uses them."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

import relayrl
from relayrl.algo import ppo_loss
from relayrl.config import ModelConfig, replace
from relayrl.learning.closed_form import ClosedFormPPO, clip_flat_grad_
from relayrl.learning.learner import Learner
from relayrl.models import build_actor_critic
from relayrl.shared.trajectories import TrajectoryBuffers

OBS = gym.spaces.Box(-1.0, 1.0, (5,), np.float32)
SPACES = {"discrete": gym.spaces.Discrete(3), "box": gym.spaces.Box(-1.0, 1.0, (2,), np.float32)}


def _minibatch(action_space: gym.Space, m: int = 24):
    g = torch.Generator().manual_seed(3)
    obs = torch.randn(m, 5, generator=g)
    if isinstance(action_space, gym.spaces.Discrete):
        actions = torch.randint(0, int(action_space.n), (m,), generator=g)
    else:
        actions = torch.randn(m, 2, generator=g)
    old_log_probs = torch.randn(m, generator=g) * 0.3 - 1.0
    adv, old_values, returns = torch.randn(m, generator=g), torch.randn(m, generator=g), torch.randn(m, generator=g)
    mask = (torch.rand(m, generator=g) > 0.3).float()
    return obs, actions, old_log_probs, adv, old_values, returns, mask


@pytest.mark.parametrize("action", ["discrete", "box"])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("clip_value_loss", [False, True])
def test_gradients_equal_autograd(action, shared, activation, masked, clip_value_loss):
    torch.manual_seed(0)
    cfg = ModelConfig(shared_actor_critic=shared, activation=activation, hidden_sizes=(16, 8), log_std_init=-0.5)
    model = build_actor_critic(OBS, SPACES[action], cfg)
    model.update_obs_normalizer(torch.randn(100, 5) * 2 + 1)
    params = [p for p in model.parameters() if p.requires_grad]
    obs, actions, old_lp, adv, old_v, ret, mask = _minibatch(SPACES[action])
    # ratios far from 1 so that both clip branches occur; value clipping active for some steps
    kwargs = dict(
        clip_coef=0.1, vf_coef=0.7, ent_coef=0.05, clip_value_loss=clip_value_loss, mask=mask if masked else None
    )

    out = model.evaluate(obs.unsqueeze(0), actions.unsqueeze(0), None, None)
    terms = ppo_loss(
        out.log_probs.flatten(), old_lp, adv, out.values.flatten(), old_v, ret, out.entropy.flatten(), **kwargs
    )
    terms.loss.backward()
    expected = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None

    closed = ClosedFormPPO(model, params)
    features = model.obs_preprocessor(obs)[0]
    got = closed.step(features, actions, old_lp, adv, old_v, ret, **kwargs)
    for name, a, b in zip(terms._fields, terms, got, strict=True):
        torch.testing.assert_close(b, a.detach(), msg=name)
    for (name, p), e in zip(model.named_parameters(), expected, strict=True):
        torch.testing.assert_close(p.grad, e, rtol=1e-5, atol=1e-6, msg=name)
    # the flat buffer is the gradients
    assert torch.equal(closed.grad, torch.cat([p.grad.flatten() for p in params]))


def test_flat_clipping_matches_clip_grad_norm():
    grads = [torch.randn(3, 4), torch.randn(7)]
    flat = torch.cat([g.flatten() for g in grads])
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    expected_norm = torch.nn.utils.clip_grad_norm_(params, 0.5)
    norm = clip_flat_grad_(flat, 0.5)
    torch.testing.assert_close(norm, expected_norm)
    torch.testing.assert_close(flat, torch.cat([p.grad.flatten() for p in params]))


def test_supports_only_mlp_models():
    assert ClosedFormPPO.supports(build_actor_critic(OBS, SPACES["box"], ModelConfig()))
    image = gym.spaces.Box(0, 255, (3, 7, 7), np.uint8)
    assert not ClosedFormPPO.supports(build_actor_critic(image, SPACES["discrete"], ModelConfig()))
    assert not ClosedFormPPO.supports(build_actor_critic(OBS, SPACES["discrete"], ModelConfig(use_rnn=True)))
    assert not ClosedFormPPO.supports(build_actor_critic(OBS, SPACES["discrete"], ModelConfig(activation="elu")))


@pytest.mark.parametrize("action", ["discrete", "box"])
def test_learner_update_equals_the_autograd_update(action):
    """One whole update (4 epochs x 4 minibatches, Adam) from the same start: the same weights."""
    cfg = replace(
        relayrl.Config(env="unused"),
        sampling__num_workers=2,
        sampling__num_envs_per_worker=4,
        sampling__rollout_length=8,
    )
    space = SPACES[action]
    learners = []
    for closed_form in (True, False):
        torch.manual_seed(0)
        learner = Learner(cfg, OBS, space, torch.device("cpu"), closed_form=closed_form)
        assert (learner.closed_form is not None) == closed_form
        slots = TrajectoryBuffers.allocate(2, 8, 4, OBS, space, 0, shared=False)
        slots.obs.uniform_(-1, 1)
        slots.actions.copy_(
            torch.randint(0, 3, slots.actions.shape) if action == "discrete" else slots.actions.normal_()
        )
        slots.rewards.normal_()
        slots.log_probs.fill_(-1.0)
        batch = slots.gather([0, 1])
        batch = dataclasses.replace(batch, valid=torch.rand(batch.valid.shape) > 0.1)  # some steps masked out
        torch.manual_seed(1)
        stats = learner.train(batch, 0)
        learners.append((learner, stats))
    (closed, closed_stats), (autograd, autograd_stats) = learners
    for (name, a), b in zip(closed.model.named_parameters(), autograd.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    assert closed_stats.keys() == autograd_stats.keys()
    for key, value in closed_stats.items():
        assert value == pytest.approx(autograd_stats[key], rel=1e-3, abs=1e-5), key
