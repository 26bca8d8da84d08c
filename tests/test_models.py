"""Tests for relayrl.models: shapes, log-prob consistency, distributions, RNN resets, normalizers."""

from __future__ import annotations

import dataclasses
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from relayrl.config import ConfigError, ModelConfig
from relayrl.models import ActorCritic, build_actor_critic
from relayrl.models.distributions import (
    categorical_entropy,
    categorical_log_prob,
    gaussian_entropy,
    gaussian_log_prob,
)
from relayrl.models.normalization import RunningMeanStd

Box, Discrete, Dict = gym.spaces.Box, gym.spaces.Discrete, gym.spaces.Dict

VEC = Box(-1.0, 1.0, (4,), np.float32)
IMG_HWC = Box(0, 255, (84, 84, 4), np.uint8)
IMG_CHW = Box(0, 255, (4, 84, 84), np.uint8)
SMALL_IMG = Box(0.0, 1.0, (7, 7, 3), np.float32)
DICT_OBS = Dict({"image": Box(0, 255, (7, 7, 3), np.uint8), "dir": Discrete(4), "pos": Box(-5, 5, (2,), np.float32)})
ACTIONS = {
    "discrete": Discrete(3),
    "multidiscrete": gym.spaces.MultiDiscrete([3, 2, 4]),
    "box": Box(-1.0, 1.0, (2,), np.float32),
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: one thread is fastest and avoids oversubscription on busy machines."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def cfg(**kw) -> ModelConfig:
    return dataclasses.replace(ModelConfig(hidden_sizes=(32, 32), rnn_size=16), **kw)


def sample_obs(space: gym.Space, lead: tuple[int, ...], seed: int = 0):
    """Random raw observations with leading dims ``lead`` as tensors (dict for Dict spaces)."""
    if isinstance(space, Dict):
        return {k: sample_obs(s, lead, seed + i) for i, (k, s) in enumerate(space.spaces.items())}
    space.seed(seed)
    n = int(np.prod(lead))
    arr = np.stack([space.sample() for _ in range(n)])
    return torch.as_tensor(arr).reshape(lead + arr.shape[1:])


def act_shape(space: gym.Space, b: int) -> tuple[int, ...]:
    if isinstance(space, Discrete):
        return (b,)
    return (b, len(space.nvec)) if isinstance(space, gym.spaces.MultiDiscrete) else (b, space.shape[0])


def make(obs_space, action_space, **kw) -> ActorCritic:
    torch.manual_seed(0)
    return build_actor_critic(obs_space, action_space, cfg(**kw))


@pytest.mark.parametrize(
    "obs_space,action_key",
    [
        (VEC, "discrete"),
        (IMG_HWC, "discrete"),
        (IMG_CHW, "discrete"),
        (SMALL_IMG, "discrete"),
        (DICT_OBS, "discrete"),
        (VEC, "multidiscrete"),
        (VEC, "box"),
        (DICT_OBS, "box"),
    ],
)
@pytest.mark.parametrize("use_rnn,shared", [(False, False), (False, True), (True, False), (True, True)])
def test_shapes_and_dtypes(obs_space, action_key, use_rnn, shared):
    action_space = ACTIONS[action_key]
    model = make(obs_space, action_space, use_rnn=use_rnn, shared_actor_critic=shared)
    b, t = 3, 2
    assert model.rnn_state_size == (0 if not use_rnn else 16 * (1 if shared else 2))
    obs = sample_obs(obs_space, (b,))
    state = torch.zeros(b, model.rnn_state_size) if use_rnn else None
    with torch.inference_mode():
        res = model.act(obs, state, torch.ones(b), deterministic=False)
        value = model.get_value(obs, state, None)
    assert res.actions.shape == act_shape(action_space, b)
    assert res.actions.dtype == (torch.float32 if action_key == "box" else torch.int64)
    assert res.log_probs.shape == (b,) and res.values.shape == (b,) and value.shape == (b,)
    assert torch.isfinite(res.log_probs).all() and torch.allclose(value, res.values, atol=1e-6)
    if use_rnn:
        assert res.rnn_state.shape == (b, model.rnn_state_size)
    else:
        assert res.rnn_state is None
    seq_obs = sample_obs(obs_space, (t, b))
    actions = torch.stack([res.actions] * t)
    ev = model.evaluate(seq_obs, actions, state, torch.zeros(t, b))
    for x in ev:
        assert x.shape == (t, b) and x.dtype == torch.float32
    (ev.log_probs.sum() + ev.values.sum() + ev.entropy.sum()).backward()


def test_image_layouts_and_encoders():
    hwc, chw = make(IMG_HWC, Discrete(2)), make(IMG_CHW, Discrete(2))
    assert hwc.obs_preprocessor.leaves[0].chw == (4, 84, 84) and chw.obs_preprocessor.leaves[0].chw == (4, 84, 84)
    assert hwc.actor_body.encoder.out_dim == 512  # Nature CNN
    small = make(SMALL_IMG, Discrete(2))
    assert small.obs_preprocessor.leaves[0].chw == (3, 7, 7)
    assert small.actor_body.encoder.out_dim == 64  # 7x7 -> 5 -> 3 -> 1 with 64 channels
    five_space = Box(0, 255, (5, 5, 3), np.uint8)
    five = make(five_space, Discrete(2))
    with torch.inference_mode():
        assert five.act(sample_obs(five_space, (2,)), None, None).actions.shape == (2,)
    # uint8 images are scaled to [0, 1] and never normalized by running statistics
    pre = hwc.obs_preprocessor(torch.full((1, 84, 84, 4), 255, dtype=torch.uint8))
    assert pre[0].shape == (1, 4, 84, 84) and torch.allclose(pre[0], torch.ones(1))
    assert len(hwc.obs_preprocessor.normalizers) == 0


@pytest.mark.parametrize(
    ("size", "features"),
    [(1, 64), (2, 64 * 2 * 2), (3, 64), (7, 64), (9, 64 * 3 * 3), (16, 64 * 4 * 4), (35, 64 * 7 * 7)],
)
def test_small_cnn_shapes(size, features):
    """Stride 2 while larger than 10 pixels, then unpadded 3x3 down to 1, then 1x1 convolutions."""
    from relayrl.models.encoders import small_cnn

    out = small_cnn(3, size, size)(torch.zeros(2, 3, size, size))
    assert out.shape == (2, features)


@pytest.mark.parametrize("action_key", ["discrete", "multidiscrete", "box"])
def test_act_log_probs_match_evaluate(action_key):
    model = make(VEC, ACTIONS[action_key])
    model.update_obs_normalizer(sample_obs(VEC, (50,)))
    obs = sample_obs(VEC, (5, 4))
    with torch.inference_mode():
        res = model.act(obs.reshape(20, 4), None, None)
    actions = res.actions.clone().reshape((5, 4) + res.actions.shape[1:])  # clone: not an inference tensor
    ev = model.evaluate(obs, actions, None, None)
    torch.testing.assert_close(ev.log_probs.reshape(20), res.log_probs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.denormalize_values(ev.values).reshape(20), res.values, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shared", [False, True])
def test_rnn_sequence_act_matches_evaluate(shared):
    model = make(DICT_OBS, ACTIONS["discrete"], use_rnn=True, shared_actor_critic=shared)
    t, b = 6, 3
    obs = sample_obs(DICT_OBS, (t, b))
    starts = torch.zeros(t, b)
    starts[0, :] = 1
    starts[3, 1] = 1
    starts[4, 2] = 1
    state0 = torch.randn(b, model.rnn_state_size)
    state, lps, vals, acts = state0, [], [], []
    with torch.inference_mode():
        for i in range(t):
            res = model.act({k: v[i] for k, v in obs.items()}, state, starts[i])
            state = res.rnn_state
            lps.append(res.log_probs)
            vals.append(res.values)
            acts.append(res.actions)
    ev = model.evaluate(obs, torch.stack(acts), state0, starts)
    torch.testing.assert_close(ev.log_probs, torch.stack(lps), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.denormalize_values(ev.values), torch.stack(vals), rtol=1e-5, atol=1e-5)


def test_rnn_state_zeroed_on_start():
    model = make(VEC, Discrete(2), use_rnn=True)
    obs = sample_obs(VEC, (4,))
    junk = torch.randn(4, model.rnn_state_size)
    with torch.inference_mode():
        fresh = model.act(obs, torch.zeros_like(junk), None, deterministic=True)
        reset = model.act(obs, junk, torch.tensor([True, False, True, False]), deterministic=True)
        none_state = model.act(obs, None, None, deterministic=True)
    torch.testing.assert_close(reset.rnn_state[[0, 2]], fresh.rnn_state[[0, 2]])
    torch.testing.assert_close(reset.values[[0, 2]], fresh.values[[0, 2]])
    assert not torch.allclose(reset.rnn_state[[1, 3]], fresh.rnn_state[[1, 3]])
    torch.testing.assert_close(none_state.rnn_state, fresh.rnn_state)


def test_categorical_math():
    logits = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, -1.0]])
    log_p = torch.log_softmax(logits, -1)
    p = [[math.exp(v) for v in row] for row in logits.tolist()]
    p = [[v / sum(row) for v in row] for row in p]
    idx = torch.tensor([2, 1])
    expected_lp = torch.tensor([math.log(p[0][2]), math.log(p[1][1])])
    expected_ent = torch.tensor([-sum(v * math.log(v) for v in row) for row in p])
    torch.testing.assert_close(categorical_log_prob(log_p, idx), expected_lp)
    torch.testing.assert_close(categorical_entropy(log_p), expected_ent)


def test_gaussian_math():
    mean, log_std, x = torch.tensor([[0.5, -1.0]]), torch.tensor([0.3, -0.2]), torch.tensor([[1.0, 0.0]])
    std = log_std.exp()
    expected = sum(
        -((x[0, i] - mean[0, i]) ** 2) / (2 * std[i] ** 2) - math.log(std[i] * math.sqrt(2 * math.pi)) for i in range(2)
    )
    torch.testing.assert_close(gaussian_log_prob(mean, log_std, x), expected.reshape(1))
    expected_ent = sum(0.5 * math.log(2 * math.pi * math.e * std[i] ** 2) for i in range(2))
    torch.testing.assert_close(gaussian_entropy(log_std), torch.tensor(expected_ent))


def test_discrete_and_multidiscrete_action_ranges():
    model = make(VEC, Discrete(3))
    md = make(VEC, gym.spaces.MultiDiscrete([2, 5]))
    obs = sample_obs(VEC, (500,))
    with torch.inference_mode():
        a = model.act(obs, None, None).actions
        m = md.act(obs, None, None).actions
    assert set(a.tolist()) == {0, 1, 2}
    assert set(m[:, 0].tolist()) == {0, 1} and set(m[:, 1].tolist()) == {0, 1, 2, 3, 4}
    ev = model.evaluate(obs.reshape(1, 500, 4), a.clone().reshape(1, 500), None, None)
    assert torch.isfinite(ev.log_probs).all()


def test_discrete_observation_one_hot():
    space = Dict({"a": Discrete(3), "b": Dict({"c": VEC})})
    model = make(space, Discrete(2))
    pre = model.obs_preprocessor({"a": torch.tensor([0, 2]), "b": {"c": torch.zeros(2, 4)}})
    torch.testing.assert_close(pre[0], torch.tensor([[1.0, 0, 0], [0, 0, 1]]))


def test_running_mean_std_merge_is_exact():
    rms = RunningMeanStd((3,))
    batches = [torch.randn(n, 3, dtype=torch.float64) * 3 + 1 for n in (5, 1, 17, 40)]
    for x in batches:
        rms.update(x)
    allx = torch.cat(batches)
    torch.testing.assert_close(rms.mean, allx.mean(0))
    torch.testing.assert_close(rms.var, allx.var(0, unbiased=False))
    assert rms.count.item() == len(allx)
    assert {k: v.dtype for k, v in rms.state_dict().items()} == dict.fromkeys(("mean", "var", "count"), torch.float64)
    y = rms.normalize(allx.float())
    assert y.dtype == torch.float32
    torch.testing.assert_close(rms.denormalize(y), allx.float(), rtol=1e-4, atol=1e-4)
    assert rms.normalize(torch.full((1, 3), 1e9)).max() == 10.0


def test_normalizers_in_state_dict_and_only_for_vectors():
    model = make(DICT_OBS, Discrete(2))
    keys = set(model.state_dict())
    norm_keys = {k for k in keys if k.startswith("obs_preprocessor.normalizers.")}
    assert len(norm_keys) == 3  # only the 'pos' vector: mean, var, count
    assert {"return_normalizer.mean", "return_normalizer.var", "return_normalizer.count"} <= keys
    obs = sample_obs(DICT_OBS, (64,))
    model.update_obs_normalizer(obs)
    (norm,) = model.obs_preprocessor.normalizers.values()
    torch.testing.assert_close(norm.mean, obs["pos"].double().mean(0))
    returns = torch.randn(8, 4) * 5 + 2
    model.update_return_normalizer(returns)
    torch.testing.assert_close(
        model.denormalize_values(model.normalize_returns(returns)), returns, rtol=1e-5, atol=1e-5
    )
    # no normalization at all when disabled
    plain = make(VEC, Discrete(2), normalize_obs=False, normalize_returns=False)
    assert not any("normalizer" in k for k in plain.state_dict())
    x = torch.randn(5)
    assert plain.normalize_returns(x) is x and plain.denormalize_values(x) is x


@pytest.mark.parametrize(
    "obs_space,action_space,name",
    [
        (gym.spaces.Text(5), Discrete(2), "Text"),
        (Dict({"mission": gym.spaces.Text(5), "x": VEC}), Discrete(2), "mission"),
        (gym.spaces.MultiBinary(3), Discrete(2), "MultiBinary"),
        (Box(0, 1, (2, 3, 4, 5)), Discrete(2), "Box"),
        (VEC, gym.spaces.MultiBinary(2), "MultiBinary"),
        (VEC, Box(-1, 1, (2, 2)), "Box"),
        (VEC, gym.spaces.Tuple((Discrete(2), Discrete(3))), "Tuple"),
    ],
)
def test_unsupported_spaces(obs_space, action_space, name):
    with pytest.raises(ConfigError, match=name):
        build_actor_critic(obs_space, action_space, ModelConfig())


def test_multiply_adds_per_sample():
    """Counted by hand: the learner's default thread count depends on it (Config.learner_threads)."""
    actions = Discrete(6)
    mlp = make(Box(-1.0, 1.0, (4,), np.float32), actions, hidden_sizes=(64, 64))
    heads = 64 * 6 + 64  # policy and value heads
    assert mlp.multiply_adds_per_sample() == 2 * (4 * 64 + 64 * 64) + heads
    cnn = make(Box(0.0, 1.0, (3, 7, 7), np.float32), actions, hidden_sizes=(64, 64))
    convs = 5 * 5 * 16 * 3 * 9 + 3 * 3 * 32 * 16 * 9 + 1 * 1 * 64 * 32 * 9  # 7x7 -> 5x5 -> 3x3 -> 1x1
    assert cnn.multiply_adds_per_sample() == 2 * (convs + 64 * 64 + 64 * 64) + heads
    gru = make(Box(-1.0, 1.0, (4,), np.float32), actions, hidden_sizes=(64, 64), use_rnn=True, shared_actor_critic=True)
    assert gru.multiply_adds_per_sample() == 4 * 64 + 64 * 64 + 3 * (64 + 16) * 16 + 16 * 6 + 16
