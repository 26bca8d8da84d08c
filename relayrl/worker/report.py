"""``RolloutReport``: what a worker says about one filled trajectory slot (it crosses a process
boundary once per rollout, so it stays small: the trajectory itself is in the slot)."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class EpisodeRecord:
    """One finished episode, as the worker saw it."""

    reward: float
    """Undiscounted return of the raw env rewards."""
    length: int
    extra: dict[str, float] = dataclasses.field(default_factory=dict)
    """The episode's ``episode_extra_stats``, flattened to ``a/b/c`` paths, numbers only."""
    policy_id: int = 0
    """The controller of the agent: a policy id, or ``num_policies + slot`` for a self-play snapshot."""
    opponent: int | None = None
    """Multi-agent envs: the controller of another agent of the same env (self-play: the snapshot)."""
    task: int | None = None
    """A task curriculum's index of the episode's task in its task space (None: no task curriculum)."""
    num_tasks: int = 0
    """The size of that task space."""
    task_delays: list[float] = dataclasses.field(default_factory=list)
    """Seconds from each task-distribution change to its arrival at the env (since its last episode)."""
    score: float | None = None
    """The episode's level score (``--task-curriculum plr``): computed by the worker from the rollout's
    values and rewards (``--plr-score``)."""


@dataclasses.dataclass
class RolloutReport:
    """One filled slot: who filled it, with which weights, and what happened meanwhile."""

    worker: int
    slot: int
    policy_versions: tuple[int, ...]
    """Version of each policy's weights (index = policy id) that collected the slot."""
    env_steps: int
    episodes: list[EpisodeRecord]
    timing: dict[str, float]
    """Seconds spent per phase of the rollout (``env_step``, ``inference``, ``other``)."""
    staleness_steps: list[float] = dataclasses.field(default_factory=list)
    """Per training-info delivery: env steps the true total moved on between reading and arrival."""
    staleness_seconds: list[float] = dataclasses.field(default_factory=list)
    env_errors: int = 0
    """Envs that raised and were restarted during this rollout."""
    curriculum_states: dict[int, dict[str, Any]] | None = None
    """``get_state()`` of each env's curriculum by global env index: in a worker's first report,
    then at most about once a second; None in between and when no env has a curriculum."""
    policy_steps: dict[int, int] = dataclasses.field(default_factory=dict)
    """Agent steps taken by each policy in this rollout (one policy, one agent per env: the env steps)."""
    node: str | None = None
    """The cluster node the worker ran on (a Ray node id); None for workers on the trainer's machine."""
