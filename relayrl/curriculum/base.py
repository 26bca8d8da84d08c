"""The ``Curriculum`` wrapper: a level on the wrapped env, changed only between episodes.

A curriculum drives a *level* on the env it wraps through a user setter, reports it in
``episode_extra_stats`` and receives training info (it implements ``TrainingInfoInterface``).
Subclasses decide the level (``choose_level``) and may learn from finished episodes
(``episode_finished``); their state (``get_state`` / ``set_state``) is saved with checkpoints and
restored on resume, per env index (docs/curriculum.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym

from relayrl import info_schema
from relayrl.envs.episode_stats import EXTRA_STATS_KEY
from relayrl.envs.info_interface import TrainingInfoInterface, find_training_info_interface

log = logging.getLogger("relayrl.curriculum")

LevelSetter = Callable[[Any, Any], Any] | str
"""``set_level(env, level_value)``, or the name of a method of the unwrapped env that takes the value."""


class Curriculum(gym.Wrapper, TrainingInfoInterface):
    """Base class: holds the current level and applies it to the wrapped env at resets.

    Args:
        env: the env to drive.
        set_level: ``set_level(env, value)`` (``env`` is the env passed here) or a method name string,
            called as ``getattr(env.unwrapped, name)(value)``. Called before the inner ``reset`` of the
            first episode and of every episode whose level differs from the previous one.
        levels: ``n`` (levels ``0 .. n-1``, the value is the index), or a list of task settings
            (level ``i`` has the value ``levels[i]``), or None for a continuous level (the value is
            the level itself; ``ProgressCurriculum.linear``).
        start_level: the level before any decision.
        name: prefix of the reported stats: ``<name>/level`` in ``episode_extra_stats``.
        eval_level: the level every episode plays while the env is an evaluation env
            (``training_info["evaluation"]``: evaluation during training, ``relayrl enjoy``); default:
            the top level (a continuous level: the current one; ``ProgressCurriculum.linear``: its end
            value). Evaluation episodes neither move the curriculum nor enter its windows, so its state
            stays as it was.

    On the last step of every episode ``info["episode_extra_stats"]`` gets ``<name>/level`` (the
    level index that episode was played at), merged into a copy of what the env reported.

    Subclass contract (also for user-written curricula): override ``choose_level()`` (called in
    ``reset``, before the inner reset: returns the level of the episode about to start and may move
    ``self.level``), optionally ``episode_finished(episode_return, extra_stats)``, and extend
    ``get_state()`` / ``set_state(state)`` (plain picklable dicts: ints, floats, lists, dicts). The
    framework calls ``set_state`` with the saved dict before the env's first reset in a resumed run.
    """

    def __init__(
        self,
        env: gym.Env,
        set_level: LevelSetter,
        levels: int | Sequence[Any] | None,
        start_level: int | float = 0,
        name: str = "curriculum",
        eval_level: int | float | None = None,
    ) -> None:
        gym.Wrapper.__init__(self, env)
        TrainingInfoInterface.__init__(self)
        if isinstance(set_level, str):
            if not callable(getattr(env.unwrapped, set_level, None)):
                raise ValueError(f"set_level={set_level!r}: {type(env.unwrapped).__name__} has no such method")
        elif not callable(set_level):
            raise TypeError(f"set_level must be a callable or a method name, got {type(set_level).__name__}")
        self.set_level = set_level
        self.levels: int | list[Any] | None
        if levels is None:
            self.levels = None
        elif isinstance(levels, int):
            if isinstance(levels, bool) or levels < 1:
                raise ValueError(f"levels must be an int >= 1 or a list of settings, got {levels!r}")
            self.levels = levels
        else:
            self.levels = list(levels)
            if not self.levels:
                raise ValueError("levels must not be empty")
        self.name = name
        self.level: int | float = self._clamp(start_level)
        """The curriculum's current level (index; the value itself for a continuous level)."""
        self.episode_level: int | float = self.level
        self.eval_level = None if eval_level is None else self._clamp(eval_level)
        """The level of evaluation episodes (None: ``evaluation_level()``'s default)."""
        """The level of the episode being played (differs from ``level`` for a replay episode)."""
        self._applied: int | float | None = None
        self._episode_return = 0.0
        self._inner_info = find_training_info_interface(env)

    # ----- levels -----

    @property
    def num_levels(self) -> int | None:
        """Number of discrete levels (None for a continuous level)."""
        if self.levels is None:
            return None
        return self.levels if isinstance(self.levels, int) else len(self.levels)

    @property
    def max_level(self) -> int:
        n = self.num_levels
        if n is None:
            raise TypeError("a continuous curriculum has no max level")
        return n - 1

    def level_value(self, level: int | float) -> Any:
        """The task setting of ``level``: ``levels[level]`` for a list, else the level itself."""
        if isinstance(self.levels, list):
            return self.levels[int(level)]
        return level

    def _clamp(self, level: int | float) -> int | float:
        n = self.num_levels
        if n is None:
            return float(level)
        clamped = min(max(int(level), 0), n - 1)
        if clamped != level:
            log.warning("%s: level %r is outside 0..%d; using %d", type(self).__name__, level, n - 1, clamped)
        return clamped

    def _apply(self, level: int | float) -> None:
        value = self.level_value(level)
        if isinstance(self.set_level, str):
            getattr(self.env.unwrapped, self.set_level)(value)
        else:
            self.set_level(self.env, value)
        self._applied = level

    @property
    def evaluating(self) -> bool:
        """Whether the env was told it is an evaluation env (``training_info["evaluation"]``)."""
        return bool(self.training_info.get(info_schema.EVALUATION))

    def evaluation_level(self) -> int | float:
        """The level of an evaluation episode: ``eval_level``, else the top level (a continuous level:
        the current one)."""
        if self.eval_level is not None:
            return self.eval_level
        return self.level if self.num_levels is None else self.max_level

    # ----- hooks for subclasses -----

    def choose_level(self) -> int | float:
        """The level of the episode about to start (may update ``self.level``). Default: ``self.level``."""
        return self.level

    def episode_finished(self, episode_return: float, extra_stats: Any) -> None:
        """Called on the last step of an episode with its return (summed here) and the env's own
        ``episode_extra_stats`` (None if it reported none)."""

    def get_state(self) -> dict[str, Any]:
        """A picklable snapshot of the curriculum (saved with checkpoints, per env index)."""
        return {"level": self.level}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore a ``get_state()`` snapshot; takes effect at the next reset."""
        if "level" in state:
            self.level = self._clamp(state["level"])
            self.episode_level = self.level

    # ----- trainer -> env -----

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        """Keep the dict, and pass it on to an implementer inside the wrapped env (if any)."""
        super().set_training_info(training_info)
        if self._inner_info is not None:
            self._inner_info.set_training_info(training_info)

    # ----- gym.Wrapper -----

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if seed is not None:
            self.seed_curriculum(seed)
        # an evaluation episode plays the held-out level and leaves the curriculum's own state alone
        level = self.evaluation_level() if self.evaluating else self.choose_level()
        if self._applied is None or level != self._applied:
            self._apply(level)
        self.episode_level = level
        self._episode_return = 0.0
        return self.env.reset(seed=seed, options=options)

    def seed_curriculum(self, seed: int) -> None:
        """Called with the env's reset seed (when one is given); subclasses with an RNG seed it here."""

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._episode_return += float(reward)
        if terminated or truncated:
            extra = info.get(EXTRA_STATS_KEY) if isinstance(info, Mapping) else None
            if not self.evaluating:
                self.episode_finished(self._episode_return, extra)
            info = self._with_level(info, extra)
        return obs, reward, terminated, truncated, info

    def extra_stats(self) -> dict[str, float]:
        """What this curriculum adds to ``episode_extra_stats`` at the end of an episode."""
        return {f"{self.name}/level": self.episode_level}

    def _with_level(self, info: Any, extra: Any) -> Any:
        if not isinstance(info, Mapping):
            return info
        if extra is None:
            merged: dict[str, Any] = {}
        elif isinstance(extra, Mapping):
            merged = dict(extra)
        else:
            return info  # not a dict: the worker warns about it, naming the key
        merged.update(self.extra_stats())
        out = dict(info)
        out[EXTRA_STATS_KEY] = merged
        return out
