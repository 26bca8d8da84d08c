"""The episodes of one worker's rows: running return and length, and an ``EpisodeRecord`` when one ends.

Each row (one agent of one env) has a current episode: its undiscounted return, its length and the
row of the current slot where it began (an env that raises and is restarted has its partial episode
masked out from there on). ``step`` adds one batch step and returns the episodes that ended in it,
with the env's ``episode_extra_stats``; a value that is not a number gets one warning per key and is
skipped.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from relayrl import info_schema
from relayrl.envs import StepResult
from relayrl.envs.episode_stats import EXTRA_STATS_KEY, flatten_extra_stats
from relayrl.worker.report import EpisodeRecord

log = logging.getLogger("relayrl.worker")


class EpisodeAccumulator:
    """Per row: the current episode's return, length and first row in the slot."""

    def __init__(self, num_rows: int, worker_index: int, env_name: str) -> None:
        """``worker_index`` and ``env_name`` name the source in the skipped-key warning."""
        self.returns = np.zeros(num_rows, dtype=np.float64)
        self.lengths = np.zeros(num_rows, dtype=np.int64)
        self.first_rows = np.zeros(num_rows, dtype=np.int64)
        self.worker_index = worker_index
        self.env_name = env_name
        self.warned_keys: set[str] = set()
        self.ended: list[tuple[EpisodeRecord, int, int]] = []
        """This rollout's finished episodes with their row and the slot step they ended at."""

    def begin_rollout(self) -> None:
        """A new slot: every current episode continues from its row 0."""
        self.first_rows[:] = 0
        self.ended = []

    def first_row(self, row: int) -> int:
        """The slot row where ``row``'s current episode began (0 if before this slot)."""
        return int(self.first_rows[row])

    def step(
        self,
        step: StepResult,
        live: np.ndarray | None,
        dones: np.ndarray,
        t: int,
        controllers: np.ndarray | None,
        opponent_of: Callable[[int, np.ndarray], int | None],
    ) -> list[EpisodeRecord]:
        """Add batch step ``t`` (slot row): ``step.rewards`` of the ``live`` rows (None: all) to the
        returns, then close the episodes of ``dones``. Rows in ``step.errors`` are dropped, not
        recorded. ``controllers``: each row's controller during the step (None: policy 0 everywhere);
        ``opponent_of(row, controllers)``: the controller of another agent of its env."""
        if live is None:
            self.returns += step.rewards
            self.lengths += 1
        else:
            self.returns += np.where(live, step.rewards, 0.0)
            self.lengths += live
        ended: list[EpisodeRecord] = []
        for i in np.flatnonzero(dones):
            row = int(i)
            if row not in step.errors:  # an env that raised: dropped, not a finished episode
                ended.append(self._record(row, step, controllers, opponent_of))
                self.ended.append((ended[-1], row, t))
            self.returns[row] = 0.0
            self.lengths[row] = 0
        self.first_rows[dones] = t + 1
        return ended

    def _record(
        self,
        row: int,
        step: StepResult,
        controllers: np.ndarray | None,
        opponent_of: Callable[[int, np.ndarray], int | None],
    ) -> EpisodeRecord:
        episode = EpisodeRecord(float(self.returns[row]), int(self.lengths[row]))
        if controllers is not None:
            episode.policy_id = int(controllers[row])
            episode.opponent = opponent_of(row, controllers)
        info = step.episode_infos.get(row)
        if info and EXTRA_STATS_KEY in info:
            episode.extra = flatten_extra_stats(info[EXTRA_STATS_KEY], functools.partial(self._skip, env_index=row))
        task = info.get(info_schema.TASK_INFO) if info else None
        if isinstance(task, dict):
            episode.task, episode.num_tasks = int(task["index"]), int(task["num_tasks"])
            episode.task_delays = [float(d) for d in task.get("delays", ())]
        return episode

    def _skip(self, key: str, value: Any, env_index: int) -> None:
        """One warning per key for a non-numeric episode_extra_stats value."""
        if key in self.warned_keys:
            return
        self.warned_keys.add(key)
        log.warning(
            "env %d of worker %d (%s): %s[%r] is %s, not a number (bool, int, float or 0-d array); this key is skipped",
            env_index,
            self.worker_index,
            self.env_name,
            EXTRA_STATS_KEY,
            key,
            type(value).__name__,
        )
