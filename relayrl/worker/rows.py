"""Which rows of a batch step are training data, and which observations begin an episode.

A row's step is *live* (training data, counted in its episode) when its agent acted on the step's
observation and the env really stepped. Two kinds of env batch leave rows out:

- multi-agent batches: an agent that has left or not joined yet has an inactive row
  (``StepResult.active``, known before the step: the rows that act on the current observation);
- next-step-autoreset batches: an env's reset step ignores the action (``StepResult.valid``, known
  only after the step).

``LiveRows`` folds both into one mask per step (``live``) and keeps the ``starts`` flags that follow
from it: an observation begins an episode after a done, after a reset step, or when its agent joins.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from relayrl.envs import StepResult


class LiveRows:
    """The live mask of each step and the episode-start flags of the next observation."""

    def __init__(self, env_batch: Any) -> None:
        """``env_batch`` right after its first reset."""
        active = getattr(env_batch, "active", None)
        self.present: np.ndarray | None = None if active is None else active.copy()
        """Rows whose agent acts on the current observation (None: every row)."""
        self.starts = torch.ones(env_batch.num_envs, dtype=torch.bool)
        """``[N]`` the current observation begins an episode (resets a recurrent state)."""

    def live(self, step: StepResult) -> np.ndarray | None:
        """The rows of ``step`` that are training data (None: all of them): not an env's reset step,
        and present when the step began."""
        return step.valid if step.valid is not None else self.present

    def advance(self, step: StepResult, dones: np.ndarray) -> None:
        """After ``step`` (with ``dones``): which of its observations begin an episode, and which
        rows act on them."""
        if step.valid is not None:
            self.starts = torch.from_numpy(~step.valid)  # the observation after a reset step
        elif step.active is not None and self.present is not None:
            self.starts = torch.from_numpy(dones | (step.active & ~self.present))  # joined agents start
        else:
            self.starts = torch.from_numpy(dones)
        if step.active is not None:
            self.present = step.active.copy()

    def restart(self, rows: np.ndarray) -> None:
        """``rows`` (bool ``[N]``) begin a new episode at the next observation (their env raised and
        was restarted)."""
        self.starts = self.starts | torch.from_numpy(rows)
