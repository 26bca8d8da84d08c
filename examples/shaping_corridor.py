"""A corridor where the shaped reward the agent learns from differs from the true objective.

    relayrl train --env examples.shaping_corridor:make_env --reward-shaping '{"closeness": 0.01}'
    python -m benchmarks.pbt_showcase          # fixed shaping weights against PBT (docs/pbt.md)

The agent starts two cells from the left end of a corridor of ``length`` cells (default 24).
The left end is a decoy exit (true reward ``decoy``, default 0.5), the right end the goal (true
reward 1); either ends the episode, and ``max_steps`` (default 100) truncates it. The true
objective of an episode is the exit's reward (0 when truncated), reported as
``episode_extra_stats["true_objective"]``; the goal is the better exit for every discount above
about 0.97, but a random walk finds the decoy long before it finds the goal.

Shaping: every step the agent also gets ``w * position / (length - 1)`` with
``w = training_info["reward_shaping"]["closeness"]`` (0 when absent). It pulls the agent away
from the decoy, but it pays for *being near* the goal, not for reaching it: with a large ``w``,
staying next to the goal until the time runs out is worth more than entering it. Too small a
weight leaves the agent at the decoy, too large one keeps it loitering before the goal.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

import relayrl


class ShapingCorridor(gym.Env, relayrl.TrainingInfoInterface):
    """env config: ``length`` (24), ``start`` (2), ``decoy`` (0.5), ``max_steps`` (100)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        relayrl.TrainingInfoInterface.__init__(self)
        config = config or {}
        self.length = int(config.get("length", 24))
        self.start = int(config.get("start", 2))
        self.decoy = float(config.get("decoy", 0.5))
        self.max_steps = int(config.get("max_steps", 100))
        self.observation_space = gym.spaces.Box(0.0, 1.0, (self.length,), np.float32)
        self.action_space = gym.spaces.Discrete(2)  # 0: left, 1: right
        self.weight = 0.0
        self.pos = self.start
        self.t = 0
        self.shaped = 0.0

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        super().set_training_info(training_info)
        self.weight = float((training_info.get("reward_shaping") or {}).get("closeness", 0.0))

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.length, np.float32)
        obs[self.pos] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.pos, self.t, self.shaped = self.start, 0, 0.0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        self.pos += 1 if int(action) == 1 else -1
        true_reward = 0.0
        terminated = False
        if self.pos <= 0:
            self.pos, true_reward, terminated = 0, self.decoy, True
        elif self.pos >= self.length - 1:
            self.pos, true_reward, terminated = self.length - 1, 1.0, True
        shaping = self.weight * self.pos / (self.length - 1) if not terminated else 0.0
        self.shaped += shaping
        truncated = not terminated and self.t >= self.max_steps
        info: dict[str, Any] = {}
        if terminated or truncated:
            info["episode_extra_stats"] = {
                "true_objective": true_reward,
                "goal": float(true_reward == 1.0),
                "shaping_return": self.shaped,
                "closeness_weight": self.weight,
            }
        return self._obs(), true_reward + shaping, terminated, truncated, info


def make_env(config: dict[str, Any] | None = None) -> gym.Env:
    return ShapingCorridor(config)
