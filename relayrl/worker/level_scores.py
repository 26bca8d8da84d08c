"""Level scores of finished episodes (``--task-curriculum plr``), computed where the data is.

After each rollout the worker runs GAE over the slot (the rewards with truncations bootstrapped, the
behaviour values, the dones and the bootstrap value; the run's ``--gamma`` and ``--gae-lambda``) and
averages a per-step term over each episode's steps, across rollouts (an episode that spans several
slots keeps a running sum per row):

- ``positive_value_loss``: ``max(A_t, 0)`` (Jiang et al. 2021b, Robust PLR; the default);
- ``gae``: ``|A_t|`` (the L1 value loss of the original PLR paper);
- ``package.module:function``: ``function(episode) -> float``, called with the ``EpisodeRecord``
  (``reward``, ``length``, ``extra``, ``task``; ``score`` holds its positive value loss).

The score travels in ``EpisodeRecord.score``; the trainer's level table keeps it per task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from relayrl.algo.advantages import gae
from relayrl.hooks import import_object
from relayrl.worker.report import EpisodeRecord

BUILTIN_SCORES = ("positive_value_loss", "gae")


class LevelScores:
    """Per row: the running sum of the score term and the step count of its current episode."""

    def __init__(self, num_rows: int, gamma: float, lam: float, score: str) -> None:
        self.gamma, self.lam = gamma, lam
        self.kind = score if score in BUILTIN_SCORES else "user"
        self.user_fn: Callable[[EpisodeRecord], float] | None = (
            None if score in BUILTIN_SCORES else import_object(score, "--plr-score")
        )
        self.sums = np.zeros(num_rows)
        self.counts = np.zeros(num_rows)

    def score_rollout(
        self,
        rewards: torch.Tensor,
        values: torch.Tensor,
        bootstrap_value: torch.Tensor,
        dones: torch.Tensor,
        valid: torch.Tensor,
        ended: Sequence[tuple[EpisodeRecord, int, int]],
    ) -> None:
        """Set ``score`` on each ``(record, row, end step)`` of ``ended`` (in step order) from one slot's
        ``[T, N]`` tensors; carry the unfinished episodes' sums to the next rollout."""
        adv, _ = gae(rewards, values, bootstrap_value, dones, self.gamma, self.lam)
        a = adv.numpy().astype(np.float64)
        live = valid.numpy().astype(np.float64)
        term = (np.abs(a) if self.kind == "gae" else np.maximum(a, 0.0)) * live
        cum_term = np.cumsum(term, axis=0)
        cum_live = np.cumsum(live, axis=0)
        start = np.full(a.shape[1], -1)  # the last step before the current episode (per row)
        for record, row, t in ended:
            s = start[row]
            total = self.sums[row] + cum_term[t, row] - (cum_term[s, row] if s >= 0 else 0.0)
            count = self.counts[row] + cum_live[t, row] - (cum_live[s, row] if s >= 0 else 0.0)
            record.score = float(total / count) if count > 0 else 0.0
            if self.user_fn is not None:
                record.score = float(self.user_fn(record))
            self.sums[row] = self.counts[row] = 0.0
            start[row] = t
        last = a.shape[0] - 1
        for row in range(a.shape[1]):
            s = start[row]
            self.sums[row] += cum_term[last, row] - (cum_term[s, row] if s >= 0 else 0.0)
            self.counts[row] += cum_live[last, row] - (cum_live[s, row] if s >= 0 else 0.0)

    def forget(self, row: int) -> None:
        """Row ``row``'s episode was dropped (its env raised)."""
        self.sums[row] = self.counts[row] = 0.0
