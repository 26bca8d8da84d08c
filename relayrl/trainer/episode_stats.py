"""Aggregation of finished episodes over a window of recent episodes (per policy; one policy now).

Reported from the first episode on: a window that is not full yet aggregates what it has.
Each ``episode_extra_stats`` key has its own window of the last ``window`` episodes that
reported it, so keys that only some episodes report are not diluted.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Any

import numpy as np

from relayrl.worker.report import EpisodeRecord


def _summarize(values: collections.deque[float]) -> dict[str, float]:
    arr = np.fromiter(values, dtype=np.float64, count=len(values))
    return {"mean": float(arr.mean()), "min": float(arr.min()), "max": float(arr.max()), "count": float(len(arr))}


class EpisodeStatsWindow:
    """Recent episode returns, lengths and extra stats."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.reward: collections.deque[float] = collections.deque(maxlen=window)
        self.length: collections.deque[float] = collections.deque(maxlen=window)
        self.extra: dict[str, collections.deque[float]] = {}
        self.total_episodes = 0

    def add(self, episodes: Iterable[EpisodeRecord]) -> None:
        count = 0
        for ep in episodes:
            count += 1
            self.reward.append(ep.reward)
            self.length.append(float(ep.length))
            for key, value in ep.extra.items():
                if key not in self.extra:
                    self.extra[key] = collections.deque(maxlen=self.window)
                self.extra[key].append(value)
        self.total_episodes += count

    def __len__(self) -> int:
        return len(self.reward)

    def summary(self) -> dict[str, Any]:
        """``{"episodes": n, "reward": {mean, min, max, count}, "length": {...},
        "episode_extra_stats": {key: {mean, min, max, count}}}`` (reward/length absent before the
        first episode). This is ``training_info["stats"]``."""
        out: dict[str, Any] = {"episodes": self.total_episodes, "episode_extra_stats": {}}
        if self.reward:
            out["reward"] = _summarize(self.reward)
            out["length"] = _summarize(self.length)
        out["episode_extra_stats"] = {key: _summarize(values) for key, values in sorted(self.extra.items())}
        return out

    def flat(self) -> dict[str, float]:
        """One level: ``reward_mean``, ``length_max``, ``episode_extra_stats/<key>/mean`` ..."""
        s = self.summary()
        out: dict[str, float] = {"episodes": float(s["episodes"])} if self.reward else {}
        for name in ("reward", "length"):
            for stat in ("mean", "min", "max"):
                if name in s:
                    out[f"{name}_{stat}"] = s[name][stat]
        for key, agg in s["episode_extra_stats"].items():
            for stat in ("mean", "min", "max"):
                out[f"episode_extra_stats/{key}/{stat}"] = agg[stat]
        return out
