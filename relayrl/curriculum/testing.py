"""A small, fast env with a difficulty knob, for curriculum tests and examples (numpy only).

``GoalDistanceEnv``: a 1-D walk from cell 0 to a goal ``distance`` cells to the right. A random
policy reaches a goal 1 cell away almost always and one 8 cells away almost never, so a
curriculum over the distance has something to do, and PPO learns "walk right" in seconds.

    relayrl train --env relayrl.curriculum.testing:GoalDistanceEnv --env-kwargs '{"distance": 4}'
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class GoalDistanceEnv(gym.Env):
    """Walk right to the goal before time runs out.

    env config: ``distance`` (1: the goal's cell), ``max_distance`` (16: scales the observation),
    ``time_factor`` (2) and ``extra_steps`` (4): ``time_factor * distance + extra_steps`` steps allowed.

    - observation: ``[position, distance, time used]``, each scaled to [0, 1];
    - actions: 0 = left (the start is a wall), 1 = right;
    - reward 1 on reaching the goal (terminated), else 0; truncated at the time limit;
    - last step: ``info["episode_extra_stats"] = {"success": reached, "distance": distance}``.

    ``set_distance(d)`` (the curriculum setter) takes effect at the next reset.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        config = config or {}
        self.max_distance = int(config.get("max_distance", 16))
        self.time_factor = int(config.get("time_factor", 2))
        self.extra_steps = int(config.get("extra_steps", 4))
        self.distance = self.next_distance = self._check(config.get("distance", 1))
        self.observation_space = gym.spaces.Box(0.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.pos = 0
        self.t = 0

    def _check(self, distance: Any) -> int:
        d = int(round(float(distance)))
        if not 1 <= d <= self.max_distance:
            raise ValueError(f"distance must be in 1..{self.max_distance}, got {distance!r}")
        return d

    def set_distance(self, distance: Any) -> None:
        """The goal distance from the next episode on (numbers are rounded to an int)."""
        self.next_distance = self._check(distance)

    @property
    def time_limit(self) -> int:
        return self.time_factor * self.distance + self.extra_steps

    def _obs(self) -> np.ndarray:
        m = float(self.max_distance)
        return np.array([self.pos / m, self.distance / m, self.t / self.time_limit], np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.distance = self.next_distance
        self.pos = 0
        self.t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.t += 1
        self.pos = max(0, self.pos + (1 if int(action) == 1 else -1))
        reached = self.pos >= self.distance
        truncated = not reached and self.t >= self.time_limit
        info: dict[str, Any] = {}
        if reached or truncated:
            info["episode_extra_stats"] = {"success": reached, "distance": self.distance}
        return self._obs(), 1.0 if reached else 0.0, reached, truncated, info
