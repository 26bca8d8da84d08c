"""CartPole-v1 wrappers for ``benchmarks.training_info``: identical per-step work, with and without
``TrainingInfoInterface``.

Both wrappers append ``time.monotonic()`` to a Python list after every env step (ground truth for
the freshness measurement, and equal cost on both sides of the throughput comparison) and, at
``close()``, write ``steps`` (step timestamps) and ``deliveries`` (``[k, 2]``: time,
``approx_total_training_steps``) to an ``.npz`` in ``env_kwargs["log_dir"]``. Only
``make_with_interface`` envs receive training info, so only they record deliveries.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import gymnasium as gym
import numpy as np

from relayrl.envs.info_interface import TrainingInfoInterface

_ids = itertools.count()


class StepTimeLogger(gym.Wrapper):
    """CartPole that logs the monotonic time of each of its steps (does not implement the interface)."""

    def __init__(self, env: gym.Env, log_dir: str | None) -> None:
        super().__init__(env)
        self.log_dir = log_dir
        self.step_times: list[float] = []
        self.deliveries: list[tuple[float, int]] = []
        self._append = self.step_times.append
        self._closed = False

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        out = self.env.step(action)
        self._append(time.monotonic())
        return out

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.log_dir is not None and (self.step_times or self.deliveries):
                path = os.path.join(self.log_dir, f"env_{os.getpid()}_{next(_ids)}.npz")
                np.savez(
                    path,
                    steps=np.asarray(self.step_times, dtype=np.float64),
                    deliveries=np.asarray(self.deliveries, dtype=np.float64).reshape(-1, 2),
                )
        super().close()


class StepTimeLoggerWithInterface(StepTimeLogger, TrainingInfoInterface):
    """The same wrapper, plus ``TrainingInfoInterface``: stores the dict and logs (time, step count)."""

    def __init__(self, env: gym.Env, log_dir: str | None) -> None:
        StepTimeLogger.__init__(self, env, log_dir)
        TrainingInfoInterface.__init__(self)

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        self.training_info = training_info
        self.deliveries.append((time.monotonic(), training_info["approx_total_training_steps"]))


def make_with_interface(env_kwargs: dict[str, Any]) -> gym.Env:
    return StepTimeLoggerWithInterface(gym.make("CartPole-v1"), env_kwargs.get("log_dir"))


def make_without_interface(env_kwargs: dict[str, Any]) -> gym.Env:
    return StepTimeLogger(gym.make("CartPole-v1"), env_kwargs.get("log_dir"))
