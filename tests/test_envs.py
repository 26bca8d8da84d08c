"""Tests for relayrl.envs: factory, batches (same-step / next-step autoreset), wrappers."""

from __future__ import annotations

import sys
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from relayrl.config import Config, ConfigError, replace
from relayrl.envs import (
    ListEnvBatch,
    VectorEnvBatch,
    check_spaces,
    make_env,
    make_env_batch,
    probe_spaces,
)

HERE = __name__


class TinyEnv(gym.Env):
    """obs = [t, start] (start drawn at reset); reward = action + 1; terminates after ``length`` steps."""

    def __init__(self, length: int = 3, dict_obs: bool = False, render_mode: str | None = None) -> None:
        self.length, self.dict_obs, self.render_mode = length, dict_obs, render_mode
        self.action_space = gym.spaces.Discrete(2)
        box = gym.spaces.Box(-1e6, 1e6, (2,), np.float32)
        if dict_obs:
            self.observation_space = gym.spaces.Dict({"a": box, "b": gym.spaces.Dict({"c": gym.spaces.Discrete(100)})})
        else:
            self.observation_space = box
        self.seeds: list[int | None] = []

    def _obs(self) -> Any:
        arr = np.array([self.t, self.start], dtype=np.float32)
        return {"a": arr, "b": {"c": self.t}} if self.dict_obs else arr

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.seeds.append(seed)
        self.t, self.start = 0, float(self.np_random.integers(0, 1000))
        return self._obs(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.t += 1
        return self._obs(), float(action) + 1.0, self.t >= self.length, False, {"t": self.t}


def tiny_factory(env_config: dict) -> gym.Env:
    return TinyEnv(**env_config)


def tiny_noarg() -> gym.Env:
    return TinyEnv(length=7)


def tiny_vector_factory(env_config: dict, num_envs: int) -> gym.vector.VectorEnv:
    return gym.vector.SyncVectorEnv([lambda: TinyEnv(**env_config)] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP)


def tiny_vector_default(env_config: dict, num_envs: int = 2) -> gym.vector.VectorEnv:
    return tiny_vector_factory(env_config, num_envs)


def tiny_any_kwargs(env_config: dict, **kwargs: Any) -> gym.Env:
    return TinyEnv(**env_config)


def not_an_env(env_config: dict) -> int:
    return 42


def raising_factory(env_config: dict) -> gym.Env:
    raise RuntimeError("boom")


def cfg_for(env: str, **env_changes: Any) -> Config:
    return replace(Config(env=env), **{f"environment__{k}": v for k, v in env_changes.items()})


# ----- factory -----


def test_make_env_gym_id_kwargs_and_time_limit() -> None:
    env = make_env(cfg_for("CartPole-v1", env_kwargs={"sutton_barto_reward": True}, max_episode_steps=5))
    env.reset(seed=0)
    for k in range(5):
        _, reward, term, trunc, _ = env.step(k % 2)
        assert reward == 0.0 and not term  # sutton_barto_reward: 0 per step
    assert trunc
    env.close()


def test_make_env_factory_with_and_without_param() -> None:
    env = make_env(cfg_for(f"{HERE}:tiny_factory", env_kwargs={"length": 5}))
    assert isinstance(env, TinyEnv) and env.length == 5
    env = make_env(cfg_for(f"{HERE}:tiny_noarg"))
    assert env.unwrapped.length == 7
    env = make_env(cfg_for(f"{HERE}:TinyEnv", env_kwargs={"length": 4}), render_mode="rgb_array")
    assert env.length == 4 and env.render_mode == "rgb_array"
    env = make_env(cfg_for(f"{HERE}:tiny_noarg", max_episode_steps=2))
    env.reset()
    env.step(0)
    assert env.step(0)[3]  # truncated by the override


@pytest.mark.parametrize(
    ("env", "kwargs", "needles"),
    [
        ("CartPol-v1", {}, ["unknown env 'CartPol-v1'", "did you mean CartPole-v1"]),
        ("no_such_pkg.mod:make", {}, ["cannot import module 'no_such_pkg.mod'"]),
        (f"{HERE}:missing", {}, ["has no attribute 'missing'"]),
        (f"{HERE}:not_an_env", {}, ["returned int, not a gymnasium.Env"]),
        (f"{HERE}:raising_factory", {}, ["raised RuntimeError: boom"]),
        (f"{HERE}:tiny_vector_factory", {}, ["takes num_envs", "pass --vectorized"]),
        (f"{HERE}:tiny_vector_default", {}, ["returned a VectorEnv; pass --vectorized"]),
        ("CartPole-v1", {"env_kwargs": {"bogus": 1}}, ["could not build env 'CartPole-v1'", "bogus"]),
        ("Acrobot-v1", {"vectorized": True}, ["no Gymnasium vector entry point"]),
        (f"{HERE}:tiny_factory", {"vectorized": True}, ["does not take num_envs", "drop --vectorized"]),
        (f"{HERE}:TinyEnv", {"vectorized": True}, ["does not take num_envs"]),
        (f"{HERE}:tiny_any_kwargs", {"vectorized": True}, ["returned TinyEnv, not a gymnasium.vector.VectorEnv"]),
    ],
)
def test_probe_spaces_errors(env: str, kwargs: dict, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        probe_spaces(cfg_for(env, **kwargs))
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_probe_spaces_ok() -> None:
    obs, act = probe_spaces(Config(env="CartPole-v1"))
    assert obs.shape == (4,) and act == gym.spaces.Discrete(2)
    obs, act = probe_spaces(cfg_for("CartPole-v1", vectorized=True))
    assert obs.shape == (4,) and act == gym.spaces.Discrete(2)
    obs, act = probe_spaces(cfg_for(f"{HERE}:tiny_vector_factory", vectorized=True))
    assert obs.shape == (2,) and act == gym.spaces.Discrete(2)


def test_check_spaces() -> None:
    box = gym.spaces.Box(-1, 1, (3,))
    nested = gym.spaces.Dict({"x": box, "y": gym.spaces.Dict({"z": gym.spaces.Discrete(3)})})
    check_spaces(nested, gym.spaces.Discrete(2))
    check_spaces(box, gym.spaces.MultiDiscrete([2, 3]))
    check_spaces(gym.spaces.Box(0, 255, (3, 8, 8), np.uint8), box)
    bad = [
        (gym.spaces.Text(5), gym.spaces.Discrete(2), "observation space obs"),
        (gym.spaces.Dict({"m": gym.spaces.Text(5)}), gym.spaces.Discrete(2), "obs['m']"),
        (box, gym.spaces.Tuple([gym.spaces.Discrete(2)]), "action space Tuple"),
        (box, gym.spaces.Box(-1, 1, (2, 2)), "action space Box"),
        (box, gym.spaces.Box(-np.inf, np.inf, (2,)), "finite bounds"),
        (box, gym.spaces.Discrete(3, start=-1), "Discrete (start 0)"),
        (box, gym.spaces.MultiDiscrete([2, 5], start=[10, -2]), "MultiDiscrete (start 0)"),
        (gym.spaces.Dict({"a": gym.spaces.Discrete(3, start=5)}), gym.spaces.Discrete(2), "obs['a']"),
    ]
    for obs_space, act_space, needle in bad:
        with pytest.raises(ConfigError, match="unsupported") as info:
            check_spaces(obs_space, act_space)
        assert needle in str(info.value)


def test_missing_optional_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ale_py", None)
    monkeypatch.setitem(sys.modules, "minigrid", None)
    with pytest.raises(ConfigError, match="pip install ale-py"):
        make_env(Config(env="ALE/Pong-v5"))
    with pytest.raises(ConfigError, match="pip install minigrid"):
        make_env(Config(env="MiniGrid-Empty-5x5-v0"))


# ----- ListEnvBatch (same-step autoreset) -----


def test_list_batch_same_step_autoreset() -> None:
    batch = ListEnvBatch([TinyEnv(length=2), TinyEnv(length=3)], seed=10)
    assert batch.autoreset == "same_step" and batch.num_envs == 2
    obs = batch.reset()
    assert obs.shape == (2, 2) and (obs[:, 0] == 0).all()
    starts = obs[:, 1].copy()
    res = batch.step(np.array([0, 1]))
    assert res.valid is None and not res.terminated.any() and res.final_obs == {} and res.episode_infos == {}
    np.testing.assert_array_equal(res.rewards, np.array([1.0, 2.0], np.float32))
    assert res.rewards.dtype == np.float32 and res.terminated.dtype == bool
    res = batch.step(np.array([1, 1]))
    np.testing.assert_array_equal(res.terminated, [True, False])
    assert list(res.final_obs) == [0] and list(res.episode_infos) == [0]
    np.testing.assert_array_equal(res.final_obs[0], [2.0, starts[0]])  # terminal obs, not the reset one
    assert res.episode_infos[0] == {"t": 2}
    assert res.obs[0, 0] == 0 and res.obs[1, 0] == 2
    res = batch.step(np.array([0, 0]))
    np.testing.assert_array_equal(res.terminated, [False, True])
    assert list(res.final_obs) == [1] and res.episode_infos[1] == {"t": 3}
    assert [env.seeds[0] for env in batch.envs()] == [10, 11]
    batch.close()


def test_list_batch_dict_obs() -> None:
    batch = ListEnvBatch([TinyEnv(length=2, dict_obs=True) for _ in range(3)], seed=0)
    obs = batch.reset()
    assert obs["a"].shape == (3, 2) and obs["b"]["c"].shape == (3,)
    batch.step(np.zeros(3, dtype=np.int64))
    res = batch.step(np.zeros(3, dtype=np.int64))
    assert res.terminated.all() and (res.obs["b"]["c"] == 0).all()
    assert res.final_obs[2]["b"]["c"] == 2 and res.final_obs[2]["a"][0] == 2.0


def test_make_env_batch_seeding() -> None:
    cfg = Config(env="CartPole-v1")
    actions = np.random.default_rng(0).integers(0, 2, size=(60, 4))

    def rollout(seed: int, worker: int) -> np.ndarray:
        batch = make_env_batch(cfg, 4, seed=seed, worker_index=worker)
        rows = [batch.reset().copy()]
        rows += [batch.step(a).obs.copy() for a in actions]
        batch.close()
        return np.stack(rows)

    np.testing.assert_array_equal(rollout(3, 1), rollout(3, 1))
    assert not np.array_equal(rollout(3, 0), rollout(3, 1))
    batch = make_env_batch(cfg_for(f"{HERE}:tiny_factory"), 3, seed=100, worker_index=2)
    batch.reset()
    assert [env.seeds[0] for env in batch.envs()] == [106, 107, 108]


# ----- VectorEnvBatch -----


def test_vector_batch_next_step_valid_mask() -> None:
    batch = make_env_batch(cfg_for("CartPole-v1", vectorized=True, max_episode_steps=20), 8, seed=0)
    assert isinstance(batch, VectorEnvBatch) and batch.autoreset == "next_step"
    batch.reset()
    rng = np.random.default_rng(0)
    prev_done = np.zeros(8, dtype=bool)
    ends = 0
    for _ in range(100):
        res = batch.step(rng.integers(0, 2, size=8))
        np.testing.assert_array_equal(res.valid, ~prev_done)
        assert (res.rewards[~res.valid] == 0).all() and (res.rewards[res.valid] == 1).all()
        done = res.terminated | res.truncated
        assert not done[~res.valid].any() and res.final_obs == {}
        assert sorted(res.episode_infos) == np.flatnonzero(done).tolist()
        ends += int(done.sum())
        prev_done = done
    assert ends > 8
    batch.close()


def test_vector_batch_seeding() -> None:
    cfg = cfg_for("CartPole-v1", vectorized=True)
    first = [make_env_batch(cfg, 4, seed=5, worker_index=1).reset() for _ in range(2)]
    np.testing.assert_array_equal(first[0], first[1])


def test_vector_batch_same_step() -> None:
    venv = gym.vector.SyncVectorEnv(
        [lambda: TinyEnv(length=2), lambda: TinyEnv(length=3)], autoreset_mode=AutoresetMode.SAME_STEP
    )
    batch = VectorEnvBatch(venv, seed=0)
    assert batch.autoreset == "same_step"
    batch.reset()
    res = batch.step(np.array([0, 0]))
    assert res.valid is None and res.final_obs == {} and res.episode_infos == {}
    res = batch.step(np.array([1, 0]))
    np.testing.assert_array_equal(res.terminated, [True, False])
    assert list(res.final_obs) == [0] and res.final_obs[0][0] == 2.0 and res.obs[0, 0] == 0
    assert res.episode_infos == {0: {"t": 2}}
    res = batch.step(np.array([1, 1]))
    assert list(res.episode_infos) == [1] and res.episode_infos[1]["t"] == 3 and res.final_obs[1][0] == 3.0
    assert batch.envs() == [venv]
    batch.close()


def test_vector_factory_batch() -> None:
    cfg = cfg_for(f"{HERE}:tiny_vector_factory", vectorized=True, env_kwargs={"length": 2})
    batch = make_env_batch(cfg, 3, seed=1)
    assert batch.num_envs == 3 and batch.autoreset == "same_step"
    batch.reset()
    batch.step(np.zeros(3, dtype=np.int64))
    res = batch.step(np.zeros(3, dtype=np.int64))
    assert res.terminated.all() and sorted(res.final_obs) == [0, 1, 2]


# ----- optional packages -----


def test_minigrid() -> None:
    pytest.importorskip("minigrid")
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

    from relayrl.envs import MiniGridObsWrapper

    expected = [max(OBJECT_TO_IDX.values()), max(COLOR_TO_IDX.values()), max(STATE_TO_IDX.values())]
    np.testing.assert_array_equal(MiniGridObsWrapper.CHANNEL_MAX, expected)
    cfg = Config(env="MiniGrid-Empty-5x5-v0")
    obs_space, act_space = probe_spaces(cfg)
    check_spaces(obs_space, act_space)
    assert set(obs_space.spaces) == {"image", "direction"}
    assert obs_space["image"] == gym.spaces.Box(0.0, 1.0, (7, 7, 3), np.float32)
    assert obs_space["direction"] == gym.spaces.Discrete(4)
    batch = make_env_batch(cfg, 2, seed=0)
    obs = batch.reset()
    assert obs["image"].shape == (2, 7, 7, 3) and obs["image"].dtype == np.float32
    assert obs["image"].max() <= 1.0 and obs["image"].max() > 0
    res = batch.step(np.array([2, 2]))
    assert obs_space.contains({k: v[0] for k, v in res.obs.items()})


def test_atari() -> None:
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    cfg = cfg_for("ALE/Pong-v5", frame_stack=2)
    env = make_env(cfg)
    assert env.observation_space.shape == (2, 84, 84) and env.observation_space.dtype == np.uint8
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 84, 84) and obs.dtype == np.uint8
    assert env.step(0)[0].shape == (2, 84, 84)
    env.close()
