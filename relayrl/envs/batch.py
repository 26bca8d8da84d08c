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
from relayrl.envs.faults import EnvRestarter, ObsChecker

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
    errors: dict[int, str] = dataclasses.field(default_factory=dict)
    """Env index -> traceback, for envs that raised and were restarted during this step: their
    ``obs`` is the new env's reset observation and the partial episode must be dropped."""
    active: np.ndarray | None = None
    """Multi-agent batches: bool ``[N]``, rows whose agent acts on ``obs`` (an agent that left or has
    not joined has an inactive row: not training data). None: every row is active."""


class EnvBatch(Protocol):
    """``num_envs`` envs stepped as one batch."""

    num_envs: int
    single_observation_space: gym.Space
    single_action_space: gym.Space
    autoreset: Literal["same_step", "next_step"]
    before_reset: Callable[[int], None] | None
    """Called with an env index right before that env resets (first reset included), if set."""
    checker: ObsChecker | None
    """Validates observations against the space (None: unchecked)."""
    training_info_round: Callable[[], Any] | None
    """Called once per ``step``; returns None or a round with ``to_env(i)`` / ``to_whole()`` that the
    batch calls before stepping (so exceptions in ``set_training_info`` count as env errors)."""

    def reset(self) -> Obs:
        """First reset, with the seeds given at construction."""
        ...

    def step(self, actions: np.ndarray) -> StepResult: ...

    def envs(self) -> list[Any]:
        """The underlying env objects (sub-envs), or ``[vector_env]``."""
        ...

    def close(self) -> None: ...


def empty_batch(space: gym.Space, n: int) -> Obs:
    """A zeroed ``[n, ...]`` array (or nested dict of arrays) for a Box / Discrete / Dict space."""
    if isinstance(space, gym.spaces.Dict):
        return {key: empty_batch(sub, n) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Discrete):
        return np.zeros(n, dtype=np.int64)
    return np.zeros((n, *(space.shape or ())), dtype=space.dtype)


def _leaves(buf: Obs, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], np.ndarray]]:
    if isinstance(buf, dict):
        return [leaf for key, sub in buf.items() for leaf in _leaves(sub, (*path, key))]
    return [(path, buf)]


def obs_writer(buf: Obs) -> Callable[[int, Any], None]:
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


def copy_obs(obs: Any) -> Any:
    if isinstance(obs, dict):
        return {key: copy_obs(value) for key, value in obs.items()}
    return np.array(obs, copy=True)


class ListEnvBatch:
    """Single envs stepped in a Python loop; an env that finishes is reset in the same step.

    ``step`` writes into preallocated arrays and returns the same arrays every step: the caller
    must copy what it keeps before the next ``step`` / ``reset``.
    """

    autoreset: Literal["same_step", "next_step"] = "same_step"

    def __init__(
        self,
        envs: list[gym.Env],
        seed: int | None = None,
        restarter: EnvRestarter | None = None,
        checker: ObsChecker | None = None,
    ) -> None:
        """Env ``j`` is reset with ``seed + j`` at the first ``reset`` (unseeded when ``seed`` is None).

        ``restarter`` decides what happens when an env raises (default: the exception propagates);
        ``checker`` validates every observation against the space.
        """
        if not envs:
            raise ValueError("ListEnvBatch needs at least one env")
        self.restarter = restarter or EnvRestarter(len(envs), "", restart=False, max_consecutive=0, make=None)
        self.checker = checker
        self.training_info_round: Callable[[], Any] | None = None
        self._envs = list(envs)
        self._seed = seed
        self.num_envs = len(self._envs)
        self.single_observation_space = self._envs[0].observation_space
        self.single_action_space = self._envs[0].action_space
        self._obs = empty_batch(self.single_observation_space, self.num_envs)
        self._write = obs_writer(self._obs)
        self._array_obs = not isinstance(self._obs, dict)
        self._rewards = np.zeros(self.num_envs, dtype=np.float32)
        self._terminated = np.zeros(self.num_envs, dtype=bool)
        self._truncated = np.zeros(self.num_envs, dtype=bool)
        self._int_actions = isinstance(self.single_action_space, gym.spaces.Discrete)
        self.before_reset: Callable[[int], None] | None = None

    def reset(self) -> Obs:
        for j, env in enumerate(self._envs):
            try:
                if self.before_reset is not None:
                    self.before_reset(j)
                obs, _ = env.reset(seed=None if self._seed is None else self._seed + j)
            except Exception as exc:  # noqa: BLE001 - env errors follow --env-error-policy
                obs, _ = self._restart(j, exc, "reset")
            self._store(j, obs)
        return self._obs

    def _store(self, i: int, obs: Any) -> None:
        if self.checker is not None:
            self.checker.check_single(i, obs)
        self._write(i, obs)

    def _restart(self, i: int, exc: Exception, what: str) -> tuple[Any, str]:
        """Replace env ``i`` by a new one (or raise, per the policy); returns its reset obs and the
        traceback of the failure."""
        text = self.restarter.failed(i, exc, what)
        while True:
            try:
                self._envs[i].close()
            except Exception:  # noqa: BLE001 - the env is being replaced anyway
                pass
            try:
                assert self.restarter.make is not None
                self._envs[i] = self.restarter.make(i)
                if self.before_reset is not None:
                    self.before_reset(i)
                obs, _ = self._envs[i].reset()
                return obs, text
            except Exception as again:  # noqa: BLE001
                self.restarter.failed(i, again, "restart")

    def step(self, actions: np.ndarray) -> StepResult:
        # Hot path: one Python iteration per env, no per-step array allocation; a try block costs
        # nothing until something raises.
        acts = actions.tolist() if self._int_actions else actions
        buf, rewards, terminated, truncated = self._obs, self._rewards, self._terminated, self._truncated
        fast_write = self._array_obs and self.checker is None
        final_obs: dict[int, Any] = {}
        episode_infos: dict[int, dict] = {}
        errors: dict[int, str] = {}
        info_round = self.training_info_round() if self.training_info_round is not None else None
        envs = self._envs
        for i, action in enumerate(acts):
            env = envs[i]
            try:
                if info_round is not None:
                    info_round.to_env(i)
                obs, reward, term, trunc, info = env.step(action)
                if term or trunc:
                    final_obs[i] = copy_obs(obs)
                    episode_infos[i] = info
                    self.restarter.succeeded(i)
                    if self.before_reset is not None:
                        self.before_reset(i)
                    obs, _ = env.reset()
            except Exception as exc:  # noqa: BLE001 - env errors follow --env-error-policy
                obs, errors[i] = self._restart(i, exc, "step / reset / set_training_info")
                reward, term, trunc = 0.0, False, False
                final_obs.pop(i, None)
                episode_infos.pop(i, None)
            if fast_write:
                buf[i] = obs  # type: ignore[index]
            else:
                self._store(i, obs)
            rewards[i] = reward
            terminated[i] = term
            truncated[i] = trunc
        return StepResult(buf, rewards, terminated, truncated, final_obs, episode_infos, None, errors)

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

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        seed: int | None = None,
        restarter: EnvRestarter | None = None,
        checker: ObsChecker | None = None,
    ) -> None:
        """``env.reset(seed=seed)`` at the first ``reset`` (sub-env ``j`` then gets ``seed + j``).

        ``restarter.make(-1)`` rebuilds the whole vector env after an exception (a vector env cannot
        restart one sub-env); its failure counter is index 0.
        """
        self._env = env
        self.restarter = restarter or EnvRestarter(1, "", restart=False, max_consecutive=0, make=None)
        self.checker = checker
        self.training_info_round: Callable[[], Any] | None = None
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

    def _reset(self, seed: int | None) -> Obs:
        if self.before_reset is not None:
            for i in range(self.num_envs):
                self.before_reset(i)
        obs, _ = self._env.reset(seed=seed)
        self._prev_done[:] = False
        if self.checker is not None:
            self.checker.check_single(-1, obs, batched=True)
        return obs

    def reset(self) -> Obs:
        try:
            return self._reset(self._seed)
        except Exception as exc:  # noqa: BLE001 - env errors follow --env-error-policy
            return self._restart(exc, "reset")[0]

    def _restart(self, exc: Exception, what: str) -> tuple[Obs, str]:
        """Rebuild the whole vector env (or raise, per the policy)."""
        text = self.restarter.failed(0, exc, what)
        while True:
            try:
                self._env.close()
            except Exception:  # noqa: BLE001 - being replaced anyway
                pass
            try:
                assert self.restarter.make is not None
                self._env = self.restarter.make(-1)
                return self._reset(None), text
            except Exception as again:  # noqa: BLE001
                self.restarter.failed(0, again, "restart")

    def _restarted_result(self, exc: Exception) -> StepResult:
        obs, text = self._restart(exc, "step / reset / set_training_info")
        n = self.num_envs
        zeros = np.zeros(n, dtype=bool)
        valid = np.ones(n, dtype=bool) if self.autoreset == "next_step" else None
        return StepResult(
            obs, np.zeros(n, np.float32), zeros, zeros.copy(), {}, {}, valid, dict.fromkeys(range(n), text)
        )

    def step(self, actions: np.ndarray) -> StepResult:
        info_round = self.training_info_round() if self.training_info_round is not None else None
        try:
            if self.before_reset is not None and self.autoreset == "next_step" and self._prev_done.any():
                for i in np.flatnonzero(self._prev_done).tolist():
                    self.before_reset(i)
            if info_round is not None:
                info_round.to_whole()
                for i in range(self.num_envs):
                    info_round.to_env(i)
            obs, rewards, terminated, truncated, infos = self._env.step(actions)
            if self.checker is not None:
                self.checker.check_single(-1, obs, batched=True)
        except Exception as exc:  # noqa: BLE001 - env errors follow --env-error-policy
            return self._restarted_result(exc)
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
            if done.any():
                self.restarter.succeeded(0)
        elif done.any():
            final_info = infos.get("final_info", {})
            batched_final_obs = infos.get("final_obs")
            for i in np.flatnonzero(done).tolist():
                episode_infos[i] = unbatch_info(final_info, i)
                if batched_final_obs is not None:
                    final_obs[i] = _index(batched_final_obs, i)
                if self.before_reset is not None:
                    self.before_reset(i)
            self.restarter.succeeded(0)
        return StepResult(obs, rewards, terminated, truncated, final_obs, episode_infos, valid)

    def envs(self) -> list[Any]:
        return [self._env]

    def close(self) -> None:
        self._env.close()
