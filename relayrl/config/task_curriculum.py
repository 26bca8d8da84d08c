"""``TaskCurriculumConfig``: the trainer's level table for task curricula (docs/curriculum.md, "Task
curricula"): Prioritized Level Replay or learning progress over the tasks of the env's task space."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Literal

from relayrl.config.groups import flag
from relayrl.errors import require
from relayrl.hooks import import_object

if TYPE_CHECKING:
    from relayrl.config import Config

PLR_SCORES = ("positive_value_loss", "gae")


@dataclasses.dataclass(frozen=True)
class TaskCurriculumConfig:
    """A level table in the trainer that chooses each episode's task (docs/curriculum.md)."""

    kind: Annotated[Literal["none", "plr", "learning-progress"], flag("task-curriculum")] = "none"
    """``plr``: Prioritized Level Replay (the env is wrapped in ``relayrl.curriculum.PrioritizedLevelReplay``);
    ``learning-progress``: learning progress over all envs (``LearningProgressCurriculum(mode="global")``).
    The trainer keeps the table (saved in checkpoints) and publishes the sampling distribution in
    training info (``task_distribution``)."""

    plr_score: Annotated[str, flag("plr-score")] = "positive_value_loss"
    """The level score: ``positive_value_loss`` (mean positive GAE of the episode), ``gae`` (mean |GAE|)
    or ``package.module:function`` (``function(episode) -> float``, called in the workers)."""

    plr_temperature: Annotated[float, flag("plr-temperature")] = 0.1
    """Rank prioritization temperature beta: weights ``(1 / rank) ** (1 / beta)``."""

    plr_staleness: Annotated[float, flag("plr-staleness")] = 0.1
    """Staleness coefficient rho: the replay distribution is ``(1 - rho) * P_score + rho * P_staleness``."""

    plr_replay_prob: Annotated[float, flag("plr-replay-prob")] = -1.0
    """Probability that an episode replays a seen level rather than an unseen one; -1 (default): the
    share of levels seen so far (the paper's proportionate schedule)."""

    lp_success_key: Annotated[str, flag("lp-success-key")] = "success"
    """``learning-progress``: the ``episode_extra_stats`` key whose value is an episode's success."""

    lp_fast: Annotated[float, flag("lp-fast")] = 0.1
    """``learning-progress``: the rate of the fast moving average of each task's success."""

    lp_slow: Annotated[float, flag("lp-slow")] = 0.02
    """``learning-progress``: the rate of the slow moving average (below ``--lp-fast``)."""

    lp_floor: Annotated[float, flag("lp-floor")] = 0.2
    """``learning-progress``: the share of uniform sampling mixed in (exploration floor)."""

    @property
    def enabled(self) -> bool:
        return self.kind != "none"

    @property
    def replay_prob(self) -> float | None:
        """``--plr-replay-prob``, None for the proportionate schedule."""
        return None if self.plr_replay_prob < 0 else self.plr_replay_prob

    def validate(self, cfg: Config) -> None:
        require(self.plr_temperature > 0, f"--plr-temperature must be > 0 (got {self.plr_temperature}).")
        require(0 <= self.plr_staleness <= 1, f"--plr-staleness must be in [0, 1] (got {self.plr_staleness}).")
        require(
            self.plr_replay_prob == -1 or 0 <= self.plr_replay_prob <= 1,
            f"--plr-replay-prob must be in [0, 1], or -1 for the share of levels seen (got {self.plr_replay_prob}).",
        )
        if self.plr_score not in PLR_SCORES:
            require(
                ":" in self.plr_score,
                f"--plr-score {self.plr_score!r}: give positive_value_loss, gae or package.module:function.",
            )
            fn = import_object(self.plr_score, f"--plr-score {self.plr_score!r}")
            require(callable(fn), f"--plr-score {self.plr_score!r} is not callable; name a function(episode) -> float.")
        require(
            0 < self.lp_slow < self.lp_fast <= 1,
            f"--lp-slow ({self.lp_slow}) and --lp-fast ({self.lp_fast}) need 0 < slow < fast <= 1.",
        )
        require(0 <= self.lp_floor <= 1, f"--lp-floor must be in [0, 1] (got {self.lp_floor}).")
        require(bool(self.lp_success_key), "--lp-success-key is empty: give an episode_extra_stats key.")
