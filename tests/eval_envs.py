"""An env that knows whether it is evaluated, for tests/test_evaluation_during_training.py (importable by
worker and evaluator processes as ``eval_envs:EvalAwareEnv``)."""

from __future__ import annotations

import os
import time
from typing import Any

import gymnasium as gym
import numpy as np

import relayrl


class EvalAwareEnv(gym.Env, relayrl.TrainingInfoInterface):
    """Episodes of ``horizon`` steps (obs [0], two actions, both alike). Reward per step, from the
    training info: in training ``steps / 10,000`` (it rises with training), in evaluation
    ``1 - steps / 8,192`` (it falls): a late policy has a high training return and a low evaluated one.
    Every episode reports ``episode_extra_stats["evaluation"]`` (1.0 when its training info said so), and
    an evaluation episode its process's niceness (``niceness``).
    Config: ``level`` (must be >= 0), ``eval_step_seconds`` (each evaluation step sleeps this long)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        relayrl.TrainingInfoInterface.__init__(self)
        config = config or {}
        if int(config.get("level", 0)) < 0:
            raise ValueError(f"level must be >= 0, got {config['level']}")
        self.horizon = int(config.get("horizon", 8))
        self.eval_step_seconds = float(config.get("eval_step_seconds", 0.0))
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    @property
    def evaluating(self) -> bool:
        return bool(self.training_info.get("evaluation"))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.t += 1
        steps = int(self.training_info.get("approx_total_training_steps", 0))
        if self.evaluating:
            time.sleep(self.eval_step_seconds)
            reward = 1.0 - steps / 8192
        else:
            reward = steps / 10_000
        info: dict[str, Any] = {}
        done = self.t >= self.horizon
        if done:
            info["episode_extra_stats"] = {"evaluation": float(self.evaluating)}
            if self.evaluating:
                info["episode_extra_stats"]["niceness"] = float(os.nice(0))
        return np.zeros(1, np.float32), float(reward), done, False, info
