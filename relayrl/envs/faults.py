"""What happens when an env misbehaves: exceptions, and observations that break their space.

An exception in an env's ``step``, ``reset`` or ``set_training_info`` is handled by the env batch
according to ``--env-error-policy``: ``restart`` recreates that env (the worker drops its partial
episode from the training data) unless it failed more than ``--max-consecutive-env-errors`` times
in a row; ``raise`` stops the run. Observations that do not match the declared space, and NaN or
inf in observations or rewards, stop the run with a message naming the env and the field, unless the
checks are switched off (``--no-check-obs``: nothing is checked then).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

log = logging.getLogger("relayrl.envs")


class EnvError(RuntimeError):
    """An env raised and is not restarted (policy ``raise``, or too many failures in a row)."""


class ObservationError(EnvError):
    """An observation (or reward) that breaks the env's declared space, or is NaN/inf."""


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()


class EnvRestarter:
    """Restart bookkeeping for one env batch: who failed how often in a row, and the policy."""

    def __init__(self, num: int, name: str, restart: bool, max_consecutive: int, make: Callable[[int], Any] | None):
        self.name = name
        self.restart = restart and make is not None
        self.max_consecutive = max_consecutive
        self.make = make
        self.consecutive = [0] * num

    def succeeded(self, i: int) -> None:
        """Env ``i`` finished an episode normally."""
        self.consecutive[i] = 0

    def failed(self, i: int, exc: BaseException, what: str) -> str:
        """Record a failure of env ``i``; returns the traceback text, or raises ``EnvError`` when the
        env must not be restarted."""
        text = format_exception(exc)
        if isinstance(exc, ObservationError):
            raise exc
        if not self.restart:
            raise EnvError(f"{self.name} env {i} raised in {what} (--env-error-policy raise):\n{text}") from exc
        self.consecutive[i] += 1
        if self.consecutive[i] > self.max_consecutive:
            raise EnvError(
                f"{self.name} env {i} failed {self.consecutive[i]} times in a row (more than "
                f"--max-consecutive-env-errors {self.max_consecutive}); last error, in {what}:\n{text}"
            ) from exc
        log.error(
            "%s env %d raised in %s; restarting it (failure %d in a row, at most %d):\n%s",
            self.name,
            i,
            what,
            self.consecutive[i],
            self.max_consecutive,
            text,
        )
        return text


def _leaves(space: gym.Space, keys: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], gym.Space]]:
    if isinstance(space, gym.spaces.Dict):
        return [leaf for key, sub in space.spaces.items() for leaf in _leaves(sub, (*keys, key))]
    return [(keys, space)]


def _get(obs: Any, path_keys: tuple[str, ...]) -> Any:
    for key in path_keys:
        obs = obs[key]
    return obs


class ObsChecker:
    """Checks single observations against the declared space (shape and dtype kind) and batches for
    NaN / inf. Shape and dtype are checked on every env step; the finite check costs one
    ``np.isfinite`` per float leaf and batch step (``--no-check-obs`` skips both)."""

    def __init__(self, space: gym.Space, name: str) -> None:
        self.name = name
        self._ok_dtypes: set[tuple[np.dtype, np.dtype]] = set()
        self.leaves: list[tuple[str, tuple[str, ...], tuple[int, ...], np.dtype, bool]] = []
        for keys, sub in _leaves(space):
            path = "".join(f"[{k!r}]" for k in keys)
            if isinstance(sub, gym.spaces.Box):
                dtype = np.dtype(sub.dtype)
                self.leaves.append((path, keys, tuple(sub.shape), dtype, dtype.kind == "f"))
        single = len(self.leaves) == 1 and not self.leaves[0][1]
        self._plain = (self.leaves[0][2], self.leaves[0][3]) if single else None

    def check_single(self, i: int, obs: Any, batched: bool = False) -> None:
        """``obs`` of env ``i`` (or, with ``batched``, a whole batch ``[N, ...]`` of a vector env)."""
        if self._plain is not None and not batched and type(obs) is np.ndarray:
            if obs.shape == self._plain[0] and obs.dtype == self._plain[1]:
                return  # the common case, kept cheap: this runs for every env step
        for path, keys, shape, dtype, _ in self.leaves:
            value = _get(obs, keys) if keys else obs
            arr_shape = getattr(value, "shape", None)
            arr_dtype = getattr(value, "dtype", None)
            if arr_shape is None or arr_dtype is None:
                value = np.asarray(value)
                arr_shape, arr_dtype = value.shape, value.dtype
            if batched:
                arr_shape = arr_shape[1:]
            if arr_shape == shape and (arr_dtype == dtype or (arr_dtype, dtype) in self._ok_dtypes):
                continue
            if arr_shape == shape and np.can_cast(arr_dtype, dtype, "same_kind"):
                self._ok_dtypes.add((arr_dtype, dtype))
                continue
            raise ObservationError(
                f"{self.name} env {i}: observation{path} has shape {tuple(arr_shape)} and dtype {arr_dtype}, "
                f"but the observation space declares shape {shape} and dtype {dtype}; fix the env or its "
                "observation_space"
            )

    def check_finite(self, batch_obs: Any, rewards: np.ndarray) -> None:
        bad_rewards = ~np.isfinite(rewards)
        if bad_rewards.any():
            envs = np.flatnonzero(bad_rewards).tolist()
            raise ObservationError(f"{self.name} envs {envs}: reward is {rewards[bad_rewards].tolist()} (not finite)")
        for path, keys, _, _, is_float in self.leaves:
            if not is_float:
                continue
            arr = _get(batch_obs, keys) if keys else batch_obs
            finite = np.isfinite(arr)
            if not finite.all():
                envs = np.flatnonzero(~finite.reshape(len(finite), -1).all(axis=1)).tolist()
                raise ObservationError(
                    f"{self.name} envs {envs}: observation{path} contains NaN or inf; fix the env "
                    "(or pass --no-check-obs to skip this check)"
                )
