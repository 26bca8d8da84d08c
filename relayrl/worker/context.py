"""What a rollout worker is given when it starts: one frozen ``WorkerContext``.

The trainer builds every context through ``WorkerContexts`` (one place), for a worker's first start
and for each restart; a rollout source passes it to the worker (pickled once at spawn for local
processes). The shared objects in it are handles to memory the trainer allocated, not copies. A worker
uses them only through the three small interfaces below, so a source whose workers cannot map that
memory (Ray actors on other machines) gives them objects of its own with the same methods.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import torch

from relayrl.config import Config
from relayrl.shared.progress import SharedBlob, StepCounters
from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.shared.weights import SharedWeights

SEED_STRIDE_PER_GENERATION = 100_003
"""A restarted worker (generation g) seeds its envs ``g * this`` further on: same envs, new episodes."""


class WeightsReader(Protocol):
    """The learner's published weights, as a worker reads them (``SharedWeights``)."""

    def load_into(self, model: torch.nn.Module, held: tuple[int, int]) -> tuple[int, int]:
        """Load the latest publication into ``model`` unless ``held`` (its ``(serial, version)``) is
        current; return the ``(serial, version)`` that ``model`` holds now."""
        ...


class StepCounting(Protocol):
    """Live env-step and per-policy agent-step counts of all workers (``StepCounters``)."""

    def add(self, worker: int, env_steps: int, policy_steps: np.ndarray | None = None) -> None:
        """Count one batch step of ``worker`` (called after every batch step): ``env_steps`` env steps
        and ``policy_steps[k]`` agent steps of policy ``k`` (an int array indexed by policy id; None:
        one policy and one agent per env, so policy 0 took every env step)."""
        ...

    def total(self) -> int:
        """Env steps of all workers so far, plus the count the run resumed from; never decreases."""
        ...

    def policy_totals(self) -> list[int]:
        """Agent steps of each policy so far (index = policy id) over all workers, plus the count each
        resumed from; none of them ever decreases."""
        ...


class InfoReader(Protocol):
    """The trainer part of training info, as a worker reads it (``SharedBlob``)."""

    def version(self) -> int:
        """Version of the latest publication (0: nothing published yet); cheap to call often."""
        ...

    def read(self) -> tuple[int, Any]:
        """``(version, value)`` of the latest publication (value None before the first)."""
        ...


@dataclasses.dataclass(frozen=True)
class WorkerContext:
    """Everything rollout worker ``worker_index`` needs (see docs/architecture.md)."""

    cfg: Config
    """The run's config without user hooks (hooks run in the trainer only)."""
    worker_index: int
    generation: int
    """0 for the first process of this index, +1 for each restart."""
    seed: int
    """Base seed of this worker's envs and sampling."""
    buffers: TrajectoryBuffers
    """All trajectory slots (the worker writes only the slots it is granted)."""
    weights: tuple[WeightsReader, ...]
    """Each policy's published weights, indexed by policy id (one with a single policy)."""
    counters: StepCounting
    """Live env-step counters (the worker adds to its own entry after every batch step)."""
    info_blob: InfoReader
    """The trainer part of training info."""
    curriculum_states: Mapping[int, Mapping[str, Any]]
    """Saved curriculum states of this worker's envs by global env index (restored before their first
    reset): a resumed run, or a restarted worker."""
    snapshot_weights: tuple[WeightsReader, ...] = ()
    """Self-play: the weights in each snapshot pool slot."""
    pool_table: InfoReader | None = None
    """Self-play: ``{slot: {"version": v, "weight": w}}`` of the filled pool slots."""


class WorkerContexts:
    """Builds the ``WorkerContext`` of any worker and generation from the trainer's shared objects."""

    def __init__(
        self,
        cfg: Config,
        buffers: TrajectoryBuffers,
        weights: tuple[SharedWeights, ...],
        counters: StepCounters,
        info_blob: SharedBlob,
        base_seed: int,
        curriculum_states: Callable[[int], Mapping[int, Mapping[str, Any]]],
        snapshot_weights: tuple[SharedWeights, ...] = (),
        pool_table: SharedBlob | None = None,
    ) -> None:
        """``weights``: every policy's published weights, by policy id. ``curriculum_states(worker)``:
        the trainer's latest states of that worker's envs, read when a context is built (a restarted
        worker continues its envs' curricula)."""
        self.cfg = cfg.without_hooks()
        self.buffers = buffers
        self.weights = weights
        self.counters = counters
        self.info_blob = info_blob
        self.base_seed = base_seed
        self.curriculum_states = curriculum_states
        self.snapshot_weights = snapshot_weights
        self.pool_table = pool_table

    def __call__(self, worker: int, generation: int = 0) -> WorkerContext:
        return WorkerContext(
            cfg=self.cfg,
            worker_index=worker,
            generation=generation,
            seed=self.base_seed + SEED_STRIDE_PER_GENERATION * generation,
            buffers=self.buffers,
            weights=self.weights,
            counters=self.counters,
            info_blob=self.info_blob,
            curriculum_states=dict(self.curriculum_states(worker)),
            snapshot_weights=self.snapshot_weights,
            pool_table=self.pool_table,
        )
