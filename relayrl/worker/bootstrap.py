"""Truncation bootstrap: a truncated episode's last reward gets ``gamma * V(final observation)``.

Where an episode is cut by a time limit (truncated, not terminated) its return continues beyond the
slot, so the worker adds the discounted value of the observation it ended on to that step's reward.
How it gets that observation depends on the env batch's autoreset:

- same-step batches hand the final observation over with the step (``StepResult.final_obs``): its
  value is computed at once;
- next-step batches return it as the next observation (the following step is the env's reset step),
  so its value comes with the next ``act`` (or the rollout's bootstrap value): the row waits in
  ``pending`` until ``resolve``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from relayrl.envs import StepResult
from relayrl.utils.obs_tree import zip_obs
from relayrl.worker.policies import WorkerPolicies


def _stack_single(obs_list: list[Any]) -> Any:
    """Stack single (unbatched) observations into a batch tensor (or dict of them)."""
    return zip_obs(lambda *xs: torch.as_tensor(np.stack(xs)), *obs_list)


class TruncationBootstrap:
    """Adds ``gamma * V(final obs)`` to the rewards of truncated steps, now or one step later."""

    def __init__(self, policies: WorkerPolicies, gamma: float) -> None:
        self.policies = policies
        self.gamma = gamma
        self.pending: dict[int, int] = {}
        """Next-step batches: row -> slot step whose reward still needs ``gamma * V(next obs)``."""

    def rewards(
        self, step: StepResult, t: int, rnn_state: torch.Tensor | None, controllers: np.ndarray | None
    ) -> np.ndarray:
        """The rewards of slot step ``t`` (a float32 copy), bootstrapped where an episode was truncated
        (same-step batches; next-step batches: recorded for ``resolve``). ``rnn_state``: each row's
        state after the step; ``controllers``: each row's controller (None: policy 0 everywhere)."""
        rewards = step.rewards.astype(np.float32, copy=True)
        cut = np.flatnonzero(step.truncated & ~step.terminated)
        if len(cut) == 0:
            return rewards
        if step.valid is not None:
            for i in cut:
                self.pending[int(i)] = t
            return rewards
        final = _stack_single([step.final_obs[int(i)] for i in cut])
        index = torch.as_tensor(cut)
        state = rnn_state.index_select(0, index) if rnn_state is not None else None
        controller = None if controllers is None else controllers[cut]
        values = self.policies.get_value(final, state, torch.zeros(len(cut), dtype=torch.bool), controller)
        rewards[cut] += self.gamma * values.numpy()
        return rewards

    def resolve(self, rewards_rows: torch.Tensor, values: torch.Tensor) -> None:
        """Add ``gamma * values[row]`` (the value of each row's next observation) to the pending
        rewards in ``rewards_rows`` (the slot's ``[T, N]`` rewards)."""
        for row, t in self.pending.items():
            rewards_rows[t, row] += self.gamma * float(values[row])
        self.pending.clear()

    def forget(self, row: int) -> None:
        """Row ``row``'s episode was dropped (its env raised): nothing to add."""
        self.pending.pop(row, None)
