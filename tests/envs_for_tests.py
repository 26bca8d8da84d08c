"""Small envs for the tests, importable by spawned worker processes as ``envs_for_tests:<name>``."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np


class CountingEnv(gym.Env):
    """Obs = [t / horizon]; reward 1 per step; truncated (time limit) after ``horizon`` steps; action ignored."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        config = config or {}
        self.horizon = int(config.get("horizon", 5))
        self.fail_after = config.get("fail_after")  # raise in step after this many steps (per env)
        self.exit_after = config.get("exit_after")  # os._exit in step after this many steps
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0
        self.total = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        self.total += 1
        if self.fail_after is not None and self.total > self.fail_after:
            raise RuntimeError("injected failure in CountingEnv.step")
        if self.exit_after is not None and self.total > self.exit_after:
            os._exit(3)
        obs = np.array([self.t / self.horizon], np.float32)
        return obs, 1.0, False, self.t >= self.horizon, {}


def make_counting_env(config: dict[str, Any] | None = None) -> gym.Env:
    return CountingEnv(config)
