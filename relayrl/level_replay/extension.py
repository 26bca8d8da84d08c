"""``TaskCurriculumTable``: the trainer side of task curricula (``--task-curriculum``), an Extension.

It credits every episode that a task curriculum played (``EpisodeRecord.task``) to its task:
Prioritized Level Replay keeps the score the worker computed (``EpisodeRecord.score``), learning
progress the episode's success (``--lp-success-key``). After each rollout report that changed the
table it publishes the new sampling distribution at once (``training_info["task_distribution"]``);
each env's wrapper samples its next task from the latest one at reset. The table is sized by the
first episode's ``num_tasks`` and saved in checkpoints (``task_curriculum``).

Reported: ``task_curriculum/seen_levels``, ``/entropy`` (nats), ``/mean_score`` (PLR: of the seen
levels; learning progress: the mean ``|fast - slow|``), ``/replay_share`` (PLR: the share of episodes
since the last report on levels already seen), ``/delay_p90`` and ``/delay_max`` (seconds from a
distribution change, that is from the report that changed it, to its arrival at an env).
At each report at which the distribution changed, it also appends the distribution to the
experiment's ``task_distribution.jsonl`` (``distribution_log.py``; ``relayrl plot`` draws it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from relayrl import info_schema
from relayrl.curriculum.learning_progress import ProgressTable
from relayrl.curriculum.task_math import entropy
from relayrl.level_replay.distribution_log import append_distribution
from relayrl.level_replay.table import LevelTable
from relayrl.trainer.extensions import ExtensionBase, ExtensionContext
from relayrl.worker.report import EpisodeRecord, RolloutReport

log = logging.getLogger("relayrl.level_replay")

KIND = {"plr": "plr", "learning-progress": "learning_progress"}
"""``--task-curriculum`` -> the ``kind`` in the published distribution (the wrappers' ``kind``)."""


def build(ctx: ExtensionContext) -> TaskCurriculumTable:
    """The task-curriculum extension of a run (``--task-curriculum``)."""
    return TaskCurriculumTable(ctx)


class TaskCurriculumTable(ExtensionBase):
    """The level table of a task curriculum (see the module docstring)."""

    name = "task_curriculum"

    def __init__(self, ctx: ExtensionContext) -> None:
        self.cfg = ctx.cfg.task_curriculum
        self.publisher = ctx.publisher
        self.experiment, self.state = ctx.experiment, ctx.state
        self.logged_version = -1
        self.kind = KIND[self.cfg.kind]
        self.plr: LevelTable | None = None
        self.progress: ProgressTable | None = None
        self.version = 0
        self.saved: Mapping[str, Any] | None = None
        self.delays: list[float] = []
        self.replays = self.counted = 0
        self.checked_key = False
        self.warned_size = False

    # ----- the table -----

    @property
    def num_tasks(self) -> int:
        if self.plr is not None:
            return len(self.plr.scores)
        return 0 if self.progress is None else len(self.progress.fast)

    def _make(self, num_tasks: int) -> None:
        c = self.cfg
        if self.kind == "plr":
            self.plr = LevelTable(num_tasks, c.plr_temperature, c.plr_staleness, c.replay_prob)
        else:
            self.progress = ProgressTable(num_tasks, c.lp_fast, c.lp_slow)
        saved = self.saved
        if saved and saved.get("kind") == self.kind and saved.get("num_tasks") == num_tasks:
            (self.plr or self.progress).load(saved["table"])  # type: ignore[union-attr]
            self.version = int(saved.get("version", 0))
            log.info("task curriculum: restored the %s table of %d tasks", self.kind, num_tasks)
        elif saved:
            log.warning(
                "task curriculum: the checkpoint's table (%s, %s tasks) does not match this run's (%s, %d tasks); "
                "starting a new one",
                saved.get("kind"),
                saved.get("num_tasks"),
                self.kind,
                num_tasks,
            )

    def distribution(self) -> np.ndarray:
        """The current sampling distribution (empty before the table exists)."""
        if self.plr is not None:
            return self.plr.distribution()
        if self.progress is not None:
            return self.progress.distribution(self.cfg.lp_floor)
        return np.zeros(0)

    def _publish(self, changed_at: float) -> None:
        self.version += 1
        probs = self.distribution()
        self.publisher.set_key(
            info_schema.TASK_DISTRIBUTION,
            {"kind": self.kind, "probs": probs.tolist(), "version": self.version, "changed_at": changed_at},
        )
        self.publisher.maybe_publish()  # at once: the loop may train before its next housekeeping

    # ----- hooks -----

    def start(self, saved: Mapping[str, Any] | None) -> None:
        self.saved = saved or None
        if self.saved and int(self.saved.get("num_tasks", 0)) > 0:
            self._make(int(self.saved["num_tasks"]))
            self._publish(time.time())

    def on_rollout(self, report: RolloutReport) -> None:
        received = time.time()
        episodes = [ep for ep in report.episodes if ep.task is not None]
        if not episodes:
            return
        if self.num_tasks == 0:
            self._make(episodes[0].num_tasks)
        if self.kind == "learning_progress" and not self.checked_key:
            self._check_key(episodes)
        changed = False
        for ep in episodes:
            self.delays.extend(ep.task_delays)
            changed = self._count(ep) or changed
        del self.delays[:-1000]
        if changed:
            self._publish(received)

    def _count(self, ep: EpisodeRecord) -> bool:
        task = int(ep.task)  # type: ignore[arg-type]
        if ep.num_tasks != self.num_tasks or not 0 <= task < self.num_tasks:
            if not self.warned_size:
                self.warned_size = True
                log.warning(
                    "task curriculum: an episode reports task %d of %d, the table has %d tasks (the first episode's); "
                    "such episodes are skipped: give every env the same task space",
                    task,
                    ep.num_tasks,
                    self.num_tasks,
                )
            return False
        if self.plr is not None:
            if ep.score is None:
                return False
            self.replays += self.plr.update(task, ep.score)
            self.counted += 1
            return True
        value = ep.extra.get(self.cfg.lp_success_key)
        if value is None or self.progress is None:
            return False
        self.progress.update(task, float(value))
        self.counted += 1
        return True

    def _check_key(self, episodes: list[EpisodeRecord]) -> None:
        """At the first report with task episodes: warn when none of them reports the success key."""
        self.checked_key = True
        key = self.cfg.lp_success_key
        if not any(key in ep.extra for ep in episodes):
            keys = sorted({k for ep in episodes for k in ep.extra})
            log.warning(
                "--lp-success-key %r: no episode reports episode_extra_stats[%r] (reported keys: %s); learning "
                "progress stays uniform until episodes report it",
                key,
                key,
                keys,
            )

    def scalars(self) -> dict[str, float]:
        if self.num_tasks == 0:
            return {}
        probs = self.distribution()
        if self.version != self.logged_version:  # the report is the one place that sees the env steps
            self.logged_version = self.version
            append_distribution(self.experiment, self.state.env_steps, self.kind, self.version, probs.tolist())
        out = {"task_curriculum/entropy": entropy(probs), "task_curriculum/max_prob": float(probs.max())}
        if self.plr is not None:
            out["task_curriculum/seen_levels"] = float(self.plr.seen.sum())
            out["task_curriculum/mean_score"] = self.plr.mean_score()
            if self.counted:
                out["task_curriculum/replay_share"] = self.replays / self.counted
        elif self.progress is not None:
            out["task_curriculum/seen_levels"] = float((self.progress.count > 0).sum())
            out["task_curriculum/mean_score"] = float(np.abs(self.progress.fast - self.progress.slow).mean())
        if self.delays:
            out["task_curriculum/delay_p90"] = float(np.percentile(self.delays, 90))
            out["task_curriculum/delay_max"] = float(max(self.delays))
        self.replays = self.counted = 0
        self.delays = []
        return out

    def state_dict(self) -> dict[str, Any]:
        table = self.plr or self.progress
        if table is None:
            return dict(self.saved) if self.saved else {}
        return {"kind": self.kind, "num_tasks": self.num_tasks, "version": self.version, "table": table.state_dict()}
