"""Synthetic envs for throughput measurements (no simulator cost beyond producing observations)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class RandomImageEnv(gym.Env):
    """Atari-shaped observations (4, 84, 84) uint8, 6 actions, reward 1 when the action matches a
    fixed pixel's parity, 200-step episodes. Stands in for Atari where ale-py is unavailable."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.observation_space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
        self.action_space = gym.spaces.Discrete(6)
        self._frames = np.random.default_rng(0).integers(0, 255, (64, 4, 84, 84), dtype=np.uint8)
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._frames[0], {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs = self._frames[self.t % 64]
        reward = float(int(action) % 2 == obs[0, 0, 0] % 2)
        self.t += 1
        return self._frames[self.t % 64], reward, False, self.t >= 200, {}


def make_image_env(config: dict[str, Any] | None = None) -> gym.Env:
    return RandomImageEnv(config)
