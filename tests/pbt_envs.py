"""Envs for the population-based training tests: they report what their training info told them."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from relayrl.envs.info_interface import TrainingInfoInterface


class ProbeEnv(gym.Env, TrainingInfoInterface):
    """Four-step episodes; reports the policy and the env parameters its training info named, at every
    step of the episode (min and max over the window show whether one env ever saw another policy's)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        TrainingInfoInterface.__init__(self)
        self.t = 0
        self.seen: list[tuple[float, float]] = []

    def _now(self) -> tuple[float, float]:
        info = self.training_info
        return float(info.get("policy_id", -1)), float((info.get("env_params") or {}).get("difficulty", -1.0))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        self.seen = []
        return np.zeros(2, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        self.seen.append(self._now())
        done = self.t >= 4
        info: dict[str, Any] = {}
        if done:
            policies = {p for p, _ in self.seen}
            values = {d for _, d in self.seen}
            info["episode_extra_stats"] = {
                "told_policy": self.seen[-1][0],
                "difficulty": self.seen[-1][1],
                "mixed": float(len(policies) > 1 or len(values) > 1),
            }
        return np.zeros(2, np.float32), float(action), done, False, info


def make_probe(config: dict[str, Any] | None = None) -> gym.Env:
    return ProbeEnv(config)
