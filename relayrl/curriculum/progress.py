"""``ProgressCurriculum``: the level follows training progress (``approx_total_training_steps``)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from relayrl.curriculum.base import Curriculum, LevelSetter


class ProgressCurriculum(Curriculum):
    """Level = number of step thresholds reached by ``training_info["approx_total_training_steps"]``.

    Args:
        env, set_level, start_level, name, eval_level: see ``Curriculum``.
        thresholds: increasing env-step counts; level ``k`` starts once ``k`` of them are reached
            (``[100_000, 300_000]``: level 0 before 100k steps, 1 until 300k, then 2).
        levels: ``len(thresholds) + 1`` levels: that count (default) or a list of task settings.

    All env instances see (nearly) the same step count, so they move together. The level is
    decided at each reset from the latest training info; an env that has received none yet (for
    example under ``relayrl enjoy``) stays at ``start_level``.

    ``ProgressCurriculum.linear(...)`` interpolates a numeric setting instead of stepping through levels.
    """

    def __init__(
        self,
        env: gym.Env,
        set_level: LevelSetter,
        thresholds: Sequence[int],
        levels: int | Sequence[Any] | None = None,
        start_level: int = 0,
        name: str = "curriculum",
        eval_level: int | None = None,
    ) -> None:
        self.thresholds = [int(t) for t in thresholds]
        if any(b <= a for a, b in zip(self.thresholds, self.thresholds[1:], strict=False)):
            raise ValueError(f"thresholds must be strictly increasing, got {list(thresholds)}")
        expected = len(self.thresholds) + 1
        if levels is None:
            levels = expected
        count = levels if isinstance(levels, int) else len(levels)
        if count != expected:
            raise ValueError(f"{len(self.thresholds)} thresholds make {expected} levels, but levels has {count}")
        self._linear: tuple[float, float, float, float] | None = None
        super().__init__(env, set_level, levels, start_level, name, eval_level)

    @classmethod
    def linear(
        cls,
        env: gym.Env,
        set_level: LevelSetter,
        start_value: float,
        end_value: float,
        start_steps: int,
        end_steps: int,
        name: str = "curriculum",
        eval_level: float | None = None,
    ) -> ProgressCurriculum:
        """A continuous level: ``start_value`` until ``start_steps`` env steps, then linear to
        ``end_value`` at ``end_steps``, constant after. ``set_level`` gets the float (round it there if
        the env needs an int); ``<name>/level`` reports it too. Evaluation episodes play ``eval_level``
        (default ``end_value``)."""
        if end_steps < start_steps:
            raise ValueError(f"end_steps ({end_steps}) must be >= start_steps ({start_steps})")
        self = cls.__new__(cls)
        self.thresholds = []
        self._linear = (float(start_value), float(end_value), float(start_steps), float(end_steps))
        Curriculum.__init__(self, env, set_level, None, float(start_value), name, eval_level)
        if eval_level is None:
            self.eval_level = float(end_value)
        return self

    def level_at(self, steps: int) -> int | float:
        """The level at ``steps`` env steps."""
        if self._linear is None:
            return bisect.bisect_right(self.thresholds, steps)
        v0, v1, s0, s1 = self._linear
        if steps <= s0:
            return v0
        if steps >= s1:
            return v1
        return v0 + (v1 - v0) * (steps - s0) / (s1 - s0)

    def choose_level(self) -> int | float:
        steps = self.training_info.get("approx_total_training_steps")
        if steps is not None:
            level = self.level_at(int(steps))
            self.level = level if self._linear is not None else self._clamp(level)
        return self.level
