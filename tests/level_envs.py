"""A single-agent env against scripted opponent levels whose results are fixed by the level, for
tests/test_opponent_levels.py (importable by worker processes as ``level_envs:make_ladder``)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

import relayrl
from relayrl.curriculum.opponents import OpponentCurriculum


class Ladder(gym.Env, relayrl.TrainingInfoInterface):
    """Episodes of 4 steps against opponent level ``level`` (``set_opponent``): won against every level
    below ``beats`` (``episode_extra_stats["win"]`` 1, return +1), lost against the others (0, -1),
    whatever the actions. From ``improve_at`` env steps of training on (training info), it beats the
    levels below ``improved`` instead: a policy that got better."""

    def __init__(self, beats: int = 2, improve_at: int | None = None, improved: int = 5) -> None:
        relayrl.TrainingInfoInterface.__init__(self)
        self.beats, self.improve_at, self.improved = beats, improve_at, improved
        self.level, self.t = 0, 0
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def set_opponent(self, level: int) -> None:
        self.level = int(level)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.t += 1
        if self.t < 4:
            return np.zeros(1, np.float32), 0.0, False, False, {}
        steps = int(self.training_info.get("approx_total_training_steps", 0))
        improved = self.improve_at is not None and steps >= self.improve_at
        won = self.level < (self.improved if improved else self.beats)
        info = {"episode_extra_stats": {"win": float(won)}}
        return np.zeros(1, np.float32), 1.0 if won else -1.0, True, False, info


def make_ladder(config: dict[str, Any] | None = None) -> OpponentCurriculum:
    """``Ladder`` under an ``OpponentCurriculum`` of 5 levels; config: ``beats`` (2), ``improve_at`` (None),
    ``improved`` (5), ``gate`` ("rating"), ``probe_probability`` (0.1)."""
    config = dict(config or {})
    improve_at = config.get("improve_at")
    env = Ladder(
        int(config.get("beats", 2)), None if improve_at is None else int(improve_at), int(config.get("improved", 5))
    )
    return OpponentCurriculum(
        env,
        "set_opponent",
        5,
        gate=str(config.get("gate", "rating")),
        probe_probability=float(config.get("probe_probability", 0.1)),
    )
