"""Who acts on each row of one worker's env batch, and what the worker derives from it.

The agent mapping (``worker/mapping.py``) names a controller per row for the current episode of
its env (a policy id, or ``num_policies + slot`` for a self-play snapshot); a reset inside a batch
step may change it. ``Controllers`` takes a copy for each step and, only when the controllers changed,
recomputes what depends on it: the inference groups (``WorkerPolicies.groups``), the ids written to
the slot's ``policy_ids``, and the rows per policy. ``policy_steps`` gives the agent steps each
policy takes in one batch step (counted live in ``StepCounters`` and summed for the rollout report).
"""

from __future__ import annotations

import numpy as np
import torch

from relayrl.worker.mapping import AgentMapping
from relayrl.worker.policies import RowGroups, WorkerPolicies


class Controllers:
    """The row controllers of each step, their inference groups, slot ids and agent steps per policy."""

    def __init__(self, mapping: AgentMapping, policies: WorkerPolicies, num_rows: int, multi_agent: bool) -> None:
        """``multi_agent``: the env batch has several agents per env (rows may be inactive)."""
        self.mapping = mapping
        self.policies = policies
        self.num_rows = num_rows
        self.num_policies = policies.num_policies
        self.counted = not mapping.trivial or multi_agent
        """Whether agent steps per policy differ from env steps (several controllers, or several
        agents per env); else ``policy_steps`` is None."""
        self.acting: np.ndarray | None = None
        self.serial = -1
        self.groups: RowGroups | None = None
        """``WorkerPolicies.groups`` of ``acting`` (None: one policy acts on every row)."""
        self.ids = torch.zeros(0, dtype=torch.int16)
        """``acting`` as the slot's ``policy_ids`` dtype."""
        self.counts = np.zeros(self.num_policies, dtype=np.int64)
        """Rows per policy in ``acting`` (snapshots not counted)."""

    def current(self) -> np.ndarray | None:
        """A copy of the row controllers now, for one step (None: policy 0 acts on every row); what
        depends on them is recomputed only after they changed."""
        if self.mapping.trivial:
            return None
        if self.serial != self.mapping.serial or self.acting is None:
            self.serial = self.mapping.serial
            if self.acting is not None and np.array_equal(self.acting, self.mapping.controller):
                return self.acting  # new episodes with the same controllers as before
            self.acting = self.mapping.controller.copy()
            self.groups = self.policies.groups(self.acting)
            self.ids = torch.from_numpy(self.acting.astype(np.int16))
            trained = self.acting[self.acting < self.num_policies]
            self.counts = np.bincount(trained, minlength=self.num_policies)
        return self.acting

    def policy_steps(self, acting: np.ndarray | None, present: np.ndarray | None) -> np.ndarray | None:
        """Agent steps each policy takes in one batch step (``[P]`` int64, index = policy id):
        the rows in ``present`` (None: all) by their controller in ``acting`` (``current()``).
        None when ``counted`` is false: one policy, one agent per env, so the env steps. The array
        may be shared between calls: read it, do not change it."""
        if not self.counted:
            return None
        if acting is None:  # one policy: every present row is its
            steps = np.zeros(self.num_policies, dtype=np.int64)
            steps[0] = self.num_rows if present is None else int(present.sum())
            return steps
        if present is None or present.all():
            return self.counts
        live = acting[present]
        return np.bincount(live[live < self.num_policies], minlength=self.num_policies)
