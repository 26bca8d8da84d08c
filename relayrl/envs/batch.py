"""The per-worker batch of envs: N envs stepped as one, with autoreset.

Two implementations share the ``EnvBatch`` protocol:

* ``ListEnvBatch``: a list of single ``gym.Env`` objects, reset in the same step that ends an episode
  (``autoreset == "same_step"``: ``final_obs`` holds the terminal observation).
* ``VectorEnvBatch``: a Gymnasium ``VectorEnv``. Next-step autoreset envs (e.g. CartPole's vector entry
  point) spend one step on the reset: that step ignores the action and gets ``valid == False``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, Protocol, TypeAlias

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from relayrl.config import ConfigError

Obs: TypeAlias = np.ndarray | dict[str, "Obs"]
"""A batch of observations ``[N, ...]``, or a (nested) dict of them for Dict spaces."""


@dataclasses.dataclass(slots=True)
class StepResult:
    """What one ``EnvBatch.step`` returns (arrays may be reused by the next step: copy to keep)."""

    obs: Obs
    """The observations to act on next ``[N, ...]`` (reset observations where an episode just ended)."""
    rewards: np.ndarray
    """float32 ``[N]``."""
    terminated: np.ndarray
    """bool ``[N]``."""
    truncated: np.ndarray
    """bool ``[N]``."""
    final_obs: dict[int, Any]
    """Same-step batches: env index -> last (unbatched) obs of the episode that just ended. Else empty."""
    episode_infos: dict[int, dict]
    """Env index -> info dict (single-env layout) of the step that ended that env's episode."""
    valid: np.ndarray | None
    """Next-step batches: bool ``[N]``, False on an env's autoreset step (action ignored, reward 0)."""


class EnvBatch(Protocol):
    """``num_envs`` envs stepped as one batch."""

    num_envs: int
    single_observation_space: gym.Space
    single_action_space: gym.Space
    autoreset: Literal["same_step", "next_step"]
    before_reset: Callable[[int], None] | None
    """Called with an env index right before that env resets (first reset included), if set."""

    def reset(self) -> Obs:
        """First reset, with the seeds given at construction."""
        ...

    def step(self, actions: np.ndarray) -> StepResult: ...

    def envs(self) -> list[Any]:
        """The underlying env objects (sub-envs), or ``[vector_env]``."""
        ...

    def close(self) -> None: ...


def _empty_batch(space: gym.Space, n: int) -> Obs:
    """A zeroed ``[n, ...]`` array (or nested dict of arrays) for a Box / Discrete / Dict space."""
    if isinstance(space, gym.spaces.Dict):
        return {key: _empty_batch(sub, n) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Discrete):
        return np.zeros(n, dtype=np.int64)
    return np.zeros((n, *(space.shape or ())), dtype=space.dtype)


def _leaves(buf: Obs, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], np.ndarray]]:
    if isinstance(buf, dict):
        return [leaf for key, sub in buf.items() for leaf in _leaves(sub, (*path, key))]
    return [(path, buf)]


def _obs_writer(buf: Obs) -> Callable[[int, Any], None]:
    """A fast ``write(i, single_obs)`` into row ``i`` of the preallocated batch ``buf``."""
    if not isinstance(buf, dict):

        def write(i: int, obs: Any) -> None:
            buf[i] = obs

        return write
    leaves = _leaves(buf)

    def write_dict(i: int, obs: Any) -> None:
        for path, arr in leaves:
            value = obs
            for key in path:
                value = value[key]
            arr[i] = value

    return write_dict


def _copy_obs(obs: Any) -> Any:
    if isinstance(obs, dict):
        return {key: _copy_obs(value) for key, value in obs.items()}
    return np.array(obs, copy=True)


class ListEnvBatch:
    """Single envs stepped in a Python loop; an env that finishes is reset in the same step.

    ``step`` writes into preallocated arrays and returns the same arrays every step: the caller
    must copy what it keeps before the next ``step`` / ``reset``.
    """

    autoreset: Literal["same_step", "next_step"] = "same_step"

    def __init__(self, envs: list[gym.Env], seed: int | None = None) -> None:
        """Env ``j`` is reset with ``seed + j`` at the first ``reset`` (unseeded when ``seed`` is None)."""
        if not envs:
            raise ValueError("ListEnvBatch needs at least one env")
        self._envs = list(envs)
        self._seed = seed
        self.num_envs = len(self._envs)
        self.single_observation_space = self._envs[0].observation_space
        self.single_action_space = self._envs[0].action_space
        self._obs = _empty_batch(self.single_observation_space, self.num_envs)
        self._write = _obs_writer(self._obs)
        self._array_obs = not isinstance(self._obs, dict)
        self._rewards = np.zeros(self.num_envs, dtype=np.float32)
        self._terminated = np.zeros(self.num_envs, dtype=bool)
        self._truncated = np.zeros(self.num_envs, dtype=bool)
        self._int_actions = isinstance(self.single_action_space, gym.spaces.Discrete)
        self.before_reset: Callable[[int], None] | None = None

    def reset(self) -> Obs:
        write = self._write
        for j, env in enumerate(self._envs):
            if self.before_reset is not None:
                self.before_reset(j)
            obs, _ = env.reset(seed=None if self._seed is None else self._seed + j)
            write(j, obs)
        return self._obs

    def step(self, actions: np.ndarray) -> StepResult:
        # Hot path: one Python iteration per env, no per-step array allocation.
        acts = actions.tolist() if self._int_actions else actions
        buf, rewards, terminated, truncated = self._obs, self._rewards, self._terminated, self._truncated
        write = None if self._array_obs else self._write
        final_obs: dict[int, Any] = {}
        episode_infos: dict[int, dict] = {}
        i = 0
        for env, action in zip(self._envs, acts, strict=True):
            obs, reward, term, trunc, info = env.step(action)
            if term or trunc:
                final_obs[i] = _copy_obs(obs)
                episode_infos[i] = info
                if self.before_reset is not None:
                    self.before_reset(i)
                obs, _ = env.reset()
            if write is None:
                buf[i] = obs  # type: ignore[index]
            else:
                write(i, obs)
            rewards[i] = reward
            terminated[i] = term
            truncated[i] = trunc
            i += 1
        return StepResult(buf, rewards, terminated, truncated, final_obs, episode_infos, None)

    def envs(self) -> list[Any]:
        return self._envs

    def close(self) -> None:
        for env in self._envs:
            env.close()


def _index(x: Any, i: int) -> Any:
    """Element ``i`` of a batched value (array, object array, or dict of those)."""
    if isinstance(x, dict):
        return {key: _index(value, i) for key, value in x.items()}
    return x[i]


def unbatch_info(infos: dict[str, Any], i: int) -> dict[str, Any]:
    """Env ``i``'s info dict from a vector env's dict-of-arrays infos with ``_key`` masks."""
    out: dict[str, Any] = {}
    for key, value in infos.items():
        if key.startswith("_") and key[1:] in infos:
            continue
        mask = infos.get("_" + key)
        if mask is not None and not mask[i]:
            continue
        if isinstance(value, dict):
            out[key] = unbatch_info(value, i)
        else:
            try:
                out[key] = value[i]
            except (TypeError, IndexError, KeyError):
                out[key] = value
    return out


class VectorEnvBatch:
    """A Gymnasium ``VectorEnv`` as an ``EnvBatch`` (next-step or same-step autoreset)."""

    def __init__(self, env: gym.vector.VectorEnv, seed: int | None = None) -> None:
        """``env.reset(seed=seed)`` at the first ``reset`` (sub-env ``j`` then gets ``seed + j``)."""
        self._env = env
        self._seed = seed
        self.num_envs = env.num_envs
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        mode = AutoresetMode(mode.value if isinstance(mode, AutoresetMode) else mode)
        if mode == AutoresetMode.NEXT_STEP:
            self.autoreset: Literal["same_step", "next_step"] = "next_step"
        elif mode == AutoresetMode.SAME_STEP:
            self.autoreset = "same_step"
        else:
            raise ConfigError(
                f"vector env {env} uses autoreset mode {mode.value}; relayrl supports NextStep and SameStep."
            )
        self._prev_done = np.zeros(self.num_envs, dtype=bool)
        self.before_reset: Callable[[int], None] | None = None
        """Next-step autoreset: called before the step that resets the env (exact). Same-step
        autoreset resets inside the step that ends the episode, so it is called right after it."""

    def reset(self) -> Obs:
        if self.before_reset is not None:
            for i in range(self.num_envs):
                self.before_reset(i)
        obs, _ = self._env.reset(seed=self._seed)
        self._prev_done[:] = False
        return obs

    def step(self, actions: np.ndarray) -> StepResult:
        if self.before_reset is not None and self.autoreset == "next_step" and self._prev_done.any():
            for i in np.flatnonzero(self._prev_done).tolist():
                self.before_reset(i)
        obs, rewards, terminated, truncated, infos = self._env.step(actions)
        rewards = np.asarray(rewards, dtype=np.float32)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        done = terminated | truncated
        final_obs: dict[int, Any] = {}
        episode_infos: dict[int, dict] = {}
        valid = None
        if self.autoreset == "next_step":
            valid = ~self._prev_done
            if not valid.all():
                rewards = np.where(valid, rewards, np.float32(0.0))
                terminated, truncated, done = terminated & valid, truncated & valid, done & valid
            self._prev_done = done
            for i in np.flatnonzero(done).tolist():
                episode_infos[i] = unbatch_info(infos, i)
        elif done.any():
            final_info = infos.get("final_info", {})
            batched_final_obs = infos.get("final_obs")
            for i in np.flatnonzero(done).tolist():
                episode_infos[i] = unbatch_info(final_info, i)
                if batched_final_obs is not None:
                    final_obs[i] = _index(batched_final_obs, i)
                if self.before_reset is not None:
                    self.before_reset(i)
        return StepResult(obs, rewards, terminated, truncated, final_obs, episode_infos, valid)

    def envs(self) -> list[Any]:
        return [self._env]

    def close(self) -> None:
        self._env.close()
