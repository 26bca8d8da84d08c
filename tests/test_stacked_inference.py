"""Stacked inference (relayrl/models/stacked.py): one ``act`` for several controllers gives what one
call per controller gives, and a worker's stacked parameters follow each policy's publications."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from relayrl.config import Config, ModelConfig
from relayrl.models import ActorCritic, ActResult, build_actor_critic
from relayrl.models.stacked import StackedActorCritic, StackLayout
from relayrl.shared.weights import SharedWeights
from relayrl.worker.policies import WorkerPolicies

Box, Discrete = gym.spaces.Box, gym.spaces.Discrete
VEC = Box(-5.0, 5.0, (6,), np.float32)
DICT = gym.spaces.Dict({"pos": Box(-5.0, 5.0, (2, 3), np.float32), "dir": Discrete(4), "vel": Box(-1, 1, (2,))})
ACTIONS = {
    "discrete": Discrete(5),
    "multidiscrete": gym.spaces.MultiDiscrete([3, 2, 4]),
    "box": Box(-1.0, 1.0, (2,), np.float32),
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _sample_obs(space: gym.Space, n: int, rng: np.random.Generator):
    if isinstance(space, gym.spaces.Dict):
        return {key: _sample_obs(sub, n, rng) for key, sub in space.spaces.items()}
    if isinstance(space, Discrete):
        return torch.from_numpy(rng.integers(0, int(space.n), n))
    return torch.from_numpy(rng.normal(0.0, 2.0, (n, *space.shape)).astype(np.float32))


def _models(obs_space: gym.Space, action_space: gym.Space, cfg: ModelConfig, count: int) -> list[ActorCritic]:
    """``count`` models with their own weights and their own observation and return statistics."""
    rng = np.random.default_rng(7)
    models = []
    for k in range(count):
        torch.manual_seed(100 + k)
        model = build_actor_critic(obs_space, action_space, cfg).eval()
        if cfg.log_std_init is not None and hasattr(model.policy_head, "log_std"):
            with torch.no_grad():
                model.policy_head.log_std.add_(0.3 * k - 0.2)
        model.update_obs_normalizer(_sample_obs(obs_space, 50, rng))
        model.update_return_normalizer(torch.from_numpy(rng.normal(k, 1.0 + k, 50)))
        models.append(model)
    return models


def _separate(models: list[ActorCritic], obs, controller: np.ndarray) -> ActResult:
    """One ``act`` per controller on its rows, lowest id first, put back in row order."""
    n = len(controller)
    parts = []
    for c in np.unique(controller):
        rows = torch.from_numpy(np.flatnonzero(controller == c))
        sub = obs[rows] if isinstance(obs, torch.Tensor) else {k: v[rows] for k, v in obs.items()}
        parts.append((rows, models[int(c)].act(sub, None, torch.zeros(len(rows), dtype=torch.bool))))
    first = parts[0][1]
    actions = torch.empty((n, *first.actions.shape[1:]), dtype=first.actions.dtype)
    log_probs, values = torch.empty(n), torch.empty(n)
    for rows, res in parts:
        actions[rows], log_probs[rows], values[rows] = res.actions, res.log_probs, res.values
    return ActResult(actions, log_probs, values, None)


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("obs_kind", ["vector", "dict"])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("present", [(0, 1, 2), (0, 2), (1,)])
def test_one_stacked_act_gives_the_actions_log_probs_and_values_of_separate_calls(action, obs_kind, shared, present):
    obs_space = VEC if obs_kind == "vector" else DICT
    cfg = ModelConfig(shared_actor_critic=shared, activation="relu" if shared else "tanh", hidden_sizes=(32, 16))
    models = _models(obs_space, ACTIONS[action], cfg, 3)
    stacked = StackedActorCritic(models)
    rng = np.random.default_rng(3)
    controller = rng.choice(present, 41)
    obs = _sample_obs(obs_space, 41, rng)
    layout = StackLayout.build(controller)
    with torch.inference_mode():
        for seed in range(3):
            torch.manual_seed(seed)
            want = _separate(models, obs, controller)
            torch.manual_seed(seed)
            got = stacked.act(obs, layout)
            if action == "box":  # the mean plus the same noise: equal up to the products' rounding
                torch.testing.assert_close(got.actions, want.actions, rtol=0, atol=2e-6)
            else:
                assert torch.equal(got.actions, want.actions)
            torch.testing.assert_close(got.log_probs, want.log_probs, rtol=0, atol=2e-6)
            torch.testing.assert_close(got.values, want.values, rtol=1e-6, atol=2e-6)
            assert got.rnn_state is None
            torch.testing.assert_close(stacked.get_value(obs, layout), got.values, rtol=0, atol=1e-6)


def test_the_layout_pads_each_controllers_rows_and_keeps_their_order():
    controller = np.array([2, 0, 2, 2, 5, 0])
    layout = StackLayout.build(controller)
    assert layout.ids == (0, 2, 5) and layout.width == 3
    # each group's rows in order, padding repeats its first row
    assert layout.gather.tolist() == [1, 5, 1, 0, 2, 3, 4, 4, 4]
    assert layout.gather[layout.position].tolist() == list(range(6))
    assert layout.rank.tolist() == [2, 0, 3, 4, 5, 1]
    assert layout.group.tolist() == [1, 0, 1, 1, 2, 0]


def test_models_that_cannot_be_stacked_are_refused():
    mlp = build_actor_critic(VEC, Discrete(3), ModelConfig())
    rnn = build_actor_critic(VEC, Discrete(3), ModelConfig(use_rnn=True))
    cnn = build_actor_critic(Box(0, 255, (7, 7, 3), np.uint8), Discrete(3), ModelConfig())
    wider = build_actor_critic(VEC, Discrete(3), ModelConfig(hidden_sizes=(64, 32)))
    assert StackedActorCritic.stackable([mlp, mlp])
    assert not StackedActorCritic.stackable([rnn, rnn])
    assert not StackedActorCritic.stackable([cnn, cnn])
    assert not StackedActorCritic.stackable([mlp, wider])


def _worker_policies(cfg: Config, weights: list[SharedWeights], stack: bool) -> WorkerPolicies:
    return WorkerPolicies(cfg, VEC, Discrete(5), weights[:2], weights[2:], stack=stack)


def test_a_worker_acts_in_one_stacked_call_with_each_policys_latest_weights():
    """Two policies and a self-play snapshot: the stacked worker acts as the one calling each model,
    before and after a policy publishes new weights (and normalizer statistics)."""
    cfg = Config(env="CartPole-v1")
    models = _models(VEC, Discrete(5), cfg.model, 3)
    weights = [SharedWeights(m.state_dict()) for m in models]
    stacked, separate = _worker_policies(cfg, weights, True), _worker_policies(cfg, weights, False)
    assert stacked.stacked is not None and separate.stacked is None
    rng = np.random.default_rng(0)
    controller = rng.integers(0, 3, 32)
    obs = _sample_obs(VEC, 32, rng)
    starts = torch.zeros(32, dtype=torch.bool)

    def both() -> tuple[ActResult, ActResult]:
        stacked.load()
        separate.load()
        with torch.inference_mode():
            torch.manual_seed(1)
            a = stacked.act(obs, None, starts, controller, stacked.groups(controller))
            torch.manual_seed(1)
            b = separate.act(obs, None, starts, controller)
        torch.testing.assert_close(a.log_probs, b.log_probs, rtol=0, atol=2e-6)
        torch.testing.assert_close(a.values, b.values, rtol=1e-6, atol=2e-6)
        assert torch.equal(a.actions, b.actions)
        values = stacked.get_value(obs, None, starts, controller)
        torch.testing.assert_close(values, separate.get_value(obs, None, starts, controller), rtol=1e-6, atol=2e-6)
        return a, b

    before, _ = both()
    new = _models(VEC, Discrete(5), cfg.model, 2)[1]  # other weights and statistics for policy 1
    new.update_return_normalizer(torch.full((50,), 30.0))
    weights[1].publish(new.state_dict(), version=1)
    after, _ = both()
    rows = torch.from_numpy(controller == 1)
    assert not torch.allclose(before.values[rows], after.values[rows])
    torch.testing.assert_close(before.values[~rows], after.values[~rows])


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_one_policy_acts_through_numpy_as_its_torch_act(action):
    """The default run's one policy: a worker acts through the stacked (numpy) path, with the
    actions, log-probs and values of ``ActorCritic.act`` on the same torch random draws, and follows
    the policy's publications."""
    cfg = Config(env="CartPole-v1")
    model = _models(VEC, ACTIONS[action], cfg.model, 1)[0]
    weights = [SharedWeights(model.state_dict())]
    fast = WorkerPolicies(cfg, VEC, ACTIONS[action], weights, [])
    torch_act = WorkerPolicies(cfg, VEC, ACTIONS[action], weights, [], stack=False)
    assert fast.stacked is not None and torch_act.stacked is None
    obs = _sample_obs(VEC, 16, np.random.default_rng(1))
    starts = torch.zeros(16, dtype=torch.bool)
    for version in range(2):
        if version:
            new = _models(VEC, ACTIONS[action], cfg.model, 2)[1]
            weights[0].publish(new.state_dict(), version=1)
        assert fast.load() == torch_act.load() == [version]
        with torch.inference_mode():
            torch.manual_seed(5)
            got = fast.act(obs, None, starts, None)
            torch.manual_seed(5)
            want = torch_act.act(obs, None, starts, None)
        if action == "box":
            torch.testing.assert_close(got.actions, want.actions, rtol=0, atol=2e-6)
        else:
            assert torch.equal(got.actions, want.actions)
        assert got.actions.dtype == want.actions.dtype and got.log_probs.dtype == torch.float32
        torch.testing.assert_close(got.log_probs, want.log_probs, rtol=0, atol=2e-6)
        torch.testing.assert_close(got.values, want.values, rtol=1e-6, atol=2e-6)
        value = fast.get_value(obs, None, starts, None)
        torch.testing.assert_close(value, torch_act.get_value(obs, None, starts, None), rtol=1e-6, atol=2e-6)
        torch.testing.assert_close(value, got.values)


def test_a_uniform_draw_of_zero_never_picks_its_choice():
    """torch.rand can return exactly 0 (its float32 draws are multiples of 2^-24): the Gumbel noise
    of that choice is -inf, as in torch, without a numpy warning."""
    from relayrl.models.cpu_ops import gumbel_argmax

    log_p = np.log(np.array([[0.9, 0.1], [0.5, 0.5]], dtype=np.float32))
    u = np.array([[0.0, 0.5], [0.3, 0.0]], dtype=np.float32)
    with np.errstate(all="raise"):
        assert gumbel_argmax(log_p, u).tolist() == [1, 0]
