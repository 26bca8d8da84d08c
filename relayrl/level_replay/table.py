"""The level tables a task curriculum keeps in the trainer (pure: no I/O, no processes).

``LevelTable`` (Prioritized Level Replay): per task its latest score, whether it was seen, and the
task-episode count when it was last played (staleness). ``relayrl.curriculum.learning_progress.
ProgressTable`` is the learning-progress one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from relayrl.curriculum.task_math import plr_distribution


class LevelTable:
    """Prioritized Level Replay's table over ``num_tasks`` levels."""

    def __init__(
        self, num_tasks: int, temperature: float = 0.1, staleness_coef: float = 0.1, replay_prob: float | None = None
    ) -> None:
        self.temperature, self.staleness_coef, self.replay_prob = temperature, staleness_coef, replay_prob
        self.scores = np.zeros(num_tasks)
        self.seen = np.zeros(num_tasks, dtype=bool)
        self.last_played = np.zeros(num_tasks, dtype=np.int64)
        self.count = np.zeros(num_tasks, dtype=np.int64)
        self.episodes = 0
        """Episodes counted so far (the staleness clock)."""

    def update(self, task: int, score: float) -> bool:
        """Record an episode of ``task`` with ``score`` (the latest score replaces the previous one, the
        paper's ``alpha = 1``); returns whether the level had been seen before (a replay)."""
        replay = bool(self.seen[task])
        self.episodes += 1
        self.scores[task] = score
        self.seen[task] = True
        self.last_played[task] = self.episodes
        self.count[task] += 1
        return replay

    def distribution(self) -> np.ndarray:
        """The probability of each level being played next (``task_math.plr_distribution``)."""
        return plr_distribution(
            self.scores,
            self.seen,
            self.last_played,
            self.episodes,
            self.temperature,
            self.staleness_coef,
            self.replay_prob,
        )

    def mean_score(self) -> float:
        """The mean score of the seen levels (0 before any)."""
        return float(self.scores[self.seen].mean()) if self.seen.any() else 0.0

    def state_dict(self) -> dict[str, Any]:
        return {
            "scores": self.scores.tolist(),
            "seen": self.seen.tolist(),
            "last_played": self.last_played.tolist(),
            "count": self.count.tolist(),
            "episodes": self.episodes,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore ``state_dict()`` (a table of another size is ignored)."""
        if len(state.get("scores", ())) != len(self.scores):
            return
        self.scores[:] = state["scores"]
        self.seen[:] = state["seen"]
        self.last_played[:] = state["last_played"]
        self.count[:] = state["count"]
        self.episodes = int(state["episodes"])
