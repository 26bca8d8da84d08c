"""Curricula driven by performance: of this env instance (``PerformanceCurriculum``) or of all envs
together (``GlobalPerformanceCurriculum``, from ``training_info["stats"]``)."""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from relayrl.curriculum.base import Curriculum, LevelSetter, log
from relayrl.envs.episode_stats import flatten_extra_stats


def _check_thresholds(promote: float, demote: float | None) -> None:
    if demote is not None and demote >= promote:
        raise ValueError(f"demote_threshold ({demote}) must be below promote_threshold ({promote})")


class _Decision:
    """Promote / demote / stay, from an average metric value."""

    def __init__(self, promote_threshold: float, demote_threshold: float | None) -> None:
        _check_thresholds(promote_threshold, demote_threshold)
        self.promote = float(promote_threshold)
        self.demote = None if demote_threshold is None else float(demote_threshold)

    def step(self, value: float, level: int, max_level: int) -> int:
        if value >= self.promote and level < max_level:
            return level + 1
        if self.demote is not None and value < self.demote and level > 0:
            return level - 1
        return level


class PerformanceCurriculum(Curriculum):
    """Per env instance: promote / demote on this instance's recent episodes at its current level.

    Args:
        env, set_level, levels, start_level, name, eval_level: see ``Curriculum`` (``levels``: an int or a
            list).
        metric: ``"reward"`` (the episode return, summed by the wrapper) or an ``episode_extra_stats``
            key path reported by the env (``"success"``, ``"coins/gold"``: nested dicts flattened).
            Episodes that do not report it are not counted.
        window: average over the last ``window`` episodes played at the current level.
        promote_threshold: move one level up when the average is >= this.
        demote_threshold: move one level down when the average is < this (None: never demote).
        min_episodes: decide only after this many episodes at the current level (default ``window``).
            The window is emptied on every level change.
        replay_probability: chance that an episode is played at a uniformly sampled lower level;
            such episodes report their own level (and ``<name>/replay`` = 1) but are not counted.
        seed: seeds the replay RNG; by default it is seeded from the env's first seeded reset.
    """

    def __init__(
        self,
        env: gym.Env,
        set_level: LevelSetter,
        levels: int | Sequence[Any],
        metric: str = "success",
        window: int = 20,
        promote_threshold: float = 0.8,
        demote_threshold: float | None = None,
        min_episodes: int | None = None,
        replay_probability: float = 0.0,
        seed: int | None = None,
        start_level: int = 0,
        name: str = "curriculum",
        eval_level: int | None = None,
    ) -> None:
        if levels is None:
            raise ValueError("PerformanceCurriculum needs discrete levels (an int or a list)")
        super().__init__(env, set_level, levels, start_level, name, eval_level)
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if not 0.0 <= replay_probability <= 1.0:
            raise ValueError(f"replay_probability must be in [0, 1], got {replay_probability}")
        self.metric = metric
        self.decision = _Decision(promote_threshold, demote_threshold)
        self.min_episodes = window if min_episodes is None else int(min_episodes)
        if self.min_episodes < 1:
            raise ValueError(f"min_episodes must be >= 1, got {min_episodes}")
        self.replay_probability = float(replay_probability)
        self.values: collections.deque[float] = collections.deque(maxlen=window)
        """Metric values of the last ``window`` counted episodes at the current level."""
        self.episodes_at_level = 0
        self.replay = False
        self._seeded = seed is not None
        self.rng = np.random.default_rng(seed)
        self._warned_metric = False

    def seed_curriculum(self, seed: int) -> None:
        if not self._seeded:
            self._seeded = True
            self.rng = np.random.default_rng(seed)

    def average(self) -> float | None:
        return float(np.mean(self.values)) if self.values else None

    def _metric_value(self, episode_return: float, extra_stats: Any) -> float | None:
        if self.metric == "reward":
            return episode_return
        flat = flatten_extra_stats(extra_stats, lambda key, value: None) if isinstance(extra_stats, Mapping) else {}
        value = flat.get(self.metric)
        if value is None and not self._warned_metric:
            self._warned_metric = True
            log.warning(
                "PerformanceCurriculum: an episode of %s did not report episode_extra_stats[%r]; "
                "such episodes are not counted (reported keys: %s)",
                type(self.env.unwrapped).__name__,
                self.metric,
                sorted(flat),
            )
        return value

    def episode_finished(self, episode_return: float, extra_stats: Any) -> None:
        if self.replay or self.episode_level != self.level:
            return
        value = self._metric_value(episode_return, extra_stats)
        if value is not None:
            self.values.append(value)
            self.episodes_at_level += 1

    def _set_level(self, level: int) -> None:
        if level != self.level:
            self.level = level
            self.values.clear()
            self.episodes_at_level = 0

    def decide_level(self) -> int:
        """The level after the episodes so far (called at each reset): one up or down by the window's average
        once ``min_episodes`` were counted at the current level. Subclasses may decide otherwise."""
        average = self.average()
        if average is not None and self.episodes_at_level >= self.min_episodes:
            return self.decision.step(average, int(self.level), self.max_level)
        return int(self.level)

    def choose_level(self) -> int | float:
        self._set_level(self.decide_level())
        self.replay = self.level > 0 and self.replay_probability > 0 and self.rng.random() < self.replay_probability
        if self.replay:
            return int(self.rng.integers(0, int(self.level)))
        return self.level

    def extra_stats(self) -> dict[str, float]:
        out = super().extra_stats()
        if self.replay_probability > 0:
            out[f"{self.name}/replay"] = float(self.replay)
        return out

    def get_state(self) -> dict[str, Any]:
        return {
            **super().get_state(),
            "values": list(self.values),
            "episodes_at_level": self.episodes_at_level,
            "rng": self.rng.bit_generator.state,
            "seeded": self._seeded,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        self.values.clear()
        self.episodes_at_level = 0
        if self.level == state.get("level"):  # the saved window belongs to this level (not clamped)
            self.values.extend(float(v) for v in state.get("values", []))
            self.episodes_at_level = int(state.get("episodes_at_level", len(self.values)))
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]
            self._seeded = bool(state.get("seeded", True))
        self.replay = False


class GlobalPerformanceCurriculum(Curriculum):
    """All envs together: promote / demote on the aggregated stat in ``training_info["stats"]``.

    Args:
        env, set_level, levels, start_level, name, eval_level: see ``Curriculum`` (``levels``: an int or a
            list).
        metric: ``"reward"`` (``stats["reward"]["mean"]``) or an ``episode_extra_stats`` key
            (``stats["episode_extra_stats"][metric]["mean"]``), aggregated by the trainer over the
            last ``--stats-window`` episodes of all envs.
        promote_threshold, demote_threshold: as in ``PerformanceCurriculum``.
        min_episodes: after a level change (and after start or resume), decide again only once
            ``stats["episodes"]`` has grown by this many, so the decision is not made on stale stats.
            Use at least ``--stats-window`` (default 100) so the aggregate covers only episodes
            finished after the change.

    Every instance sees the same stats and makes the same decision, so all move together (each
    at its next reset).
    """

    def __init__(
        self,
        env: gym.Env,
        set_level: LevelSetter,
        levels: int | Sequence[Any],
        metric: str = "success",
        promote_threshold: float = 0.8,
        demote_threshold: float | None = None,
        min_episodes: int = 100,
        start_level: int = 0,
        name: str = "curriculum",
        eval_level: int | None = None,
    ) -> None:
        if levels is None:
            raise ValueError("GlobalPerformanceCurriculum needs discrete levels (an int or a list)")
        super().__init__(env, set_level, levels, start_level, name, eval_level)
        if min_episodes < 1:
            raise ValueError(f"min_episodes must be >= 1, got {min_episodes}")
        self.metric = metric
        self.decision = _Decision(promote_threshold, demote_threshold)
        self.min_episodes = int(min_episodes)
        self.episodes_mark: int | None = None
        """``stats["episodes"]`` when the current level began (None: not seen stats yet)."""

    def stat_value(self, stats: Mapping[str, Any]) -> float | None:
        """The metric's mean in ``stats``, or None when it is not there yet."""
        entry = (
            stats.get("reward") if self.metric == "reward" else stats.get("episode_extra_stats", {}).get(self.metric)
        )
        if not isinstance(entry, Mapping) or "mean" not in entry:
            return None
        return float(entry["mean"])

    def choose_level(self) -> int | float:
        stats = self.training_info.get("stats")
        if not isinstance(stats, Mapping) or "episodes" not in stats:
            return self.level
        episodes = int(stats["episodes"])
        if self.episodes_mark is None or episodes < self.episodes_mark:
            self.episodes_mark = episodes  # first stats seen, or a new trainer process (resume)
            return self.level
        if episodes - self.episodes_mark < self.min_episodes:
            return self.level
        value = self.stat_value(stats)
        if value is None:
            return self.level
        new = self.decision.step(value, int(self.level), self.max_level)
        if new != self.level:
            self.level = new
            self.episodes_mark = episodes
        return self.level

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        self.episodes_mark = None  # the episode count restarts with the trainer: wait for fresh stats
