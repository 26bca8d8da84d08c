"""The policy copies a rollout worker acts with, and batched inference split by controller.

With several policies or self-play, every row has a controller (``worker/mapping.py``); with one
policy (the default) policy 0 acts on every row. When the models are MLPs of one architecture
(``StackedActorCritic.stackable``: always so for the models a run builds, unless they have a CNN or
a GRU) one numpy ``act`` over the parameters of all of them, stacked, serves every row
(``relayrl/models/stacked.py``; also for a single policy, where it is about 3x faster than torch's
``act``); otherwise the rows of each controller go through that controller's model in one call,
and the results are put back in row order. Snapshot models (self-play pool slots)
are loaded like the policies, between rollouts; the stacked parameters of a model are refreshed
whenever it loads new weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from relayrl.config import Config
from relayrl.models import build_actor_critic
from relayrl.models.actor_critic import ActResult
from relayrl.models.stacked import StackedActorCritic, StackLayout
from relayrl.utils.obs_tree import map_obs


@dataclasses.dataclass(frozen=True)
class RowGroups:
    """The rows of each controller of one step's row controllers."""

    parts: list[tuple[int, torch.Tensor | None]]
    """``[(controller id, its rows)]``, ids ascending (rows None: all of them); empty with ``layout``."""
    layout: StackLayout | None = None
    """Where the rows go in the stacked ``act`` (None: separate calls, or policy 0 on every row)."""


class WorkerPolicies:
    """Models by controller id: ``0 .. P-1`` the policies, ``P + j`` self-play pool slot ``j``."""

    def __init__(
        self,
        cfg: Config,
        obs_space: gym.Space,
        action_space: gym.Space,
        readers: Sequence[Any],
        snapshots: Sequence[Any],
        stack: bool = True,
    ) -> None:
        """``readers``: each policy's published weights (``WeightsReader``); ``snapshots``: each pool
        slot's; ``stack``: act through ``StackedActorCritic`` where the models allow it (False: one
        torch ``act`` per controller, e.g. to measure the difference)."""
        self.num_policies = len(readers)
        self.readers = list(readers) + list(snapshots)
        self.models = [build_actor_critic(obs_space, action_space, cfg.model) for _ in self.readers]
        for model in self.models:
            model.eval()
        self.held = [(-1, -1)] * len(self.readers)
        self.stacked = StackedActorCritic(self.models) if stack and StackedActorCritic.stackable(self.models) else None
        """One ``act`` for every controller (None: one call per controller)."""
        self._policy_0 = RowGroups([(0, None)])
        self._layouts: dict[int, StackLayout] = {}
        """``StackLayout.single(0, rows)`` by rows: policy 0 on every row."""

    @property
    def model(self) -> torch.nn.Module:
        return self.models[0]

    @property
    def rnn_state_size(self) -> int:
        return int(self.models[0].rnn_state_size)

    def load(self) -> list[int]:
        """Load every publication newer than the copy held; the policies' versions (index = policy id)."""
        changed = []
        for c, reader in enumerate(self.readers):
            held = reader.load_into(self.models[c], self.held[c])
            if held != self.held[c]:
                changed.append(c)
            self.held[c] = held
        if self.stacked is not None and changed:
            self.stacked.refresh(changed)
        return [version for _, version in self.held[: self.num_policies]]

    def snapshot_version(self, slot: int) -> int:
        return self.held[self.num_policies + slot][1]

    def groups(self, controller: np.ndarray | None) -> RowGroups:
        """The rows of each controller in ``controller`` (``[N]`` ids; None: policy 0 on every row);
        pass it to ``act`` while ``controller`` does not change."""
        if controller is None:
            return self._policy_0
        if self.stacked is None:
            return RowGroups(self._parts(controller))
        return RowGroups([], StackLayout.build(controller))

    def _all_rows(self, rows: int) -> StackLayout:
        """Policy 0 on each of ``rows`` rows."""
        layout = self._layouts.get(rows)
        if layout is None:
            layout = self._layouts[rows] = StackLayout.single(0, rows)
        return layout

    @staticmethod
    def _parts(controller: np.ndarray | None) -> list[tuple[int, torch.Tensor | None]]:
        if controller is None:
            return [(0, None)]
        ids = np.unique(controller)
        if len(ids) == 1:
            return [(int(ids[0]), None)]
        return [(int(c), torch.from_numpy(np.flatnonzero(controller == c))) for c in ids]

    def act(
        self,
        obs: Any,
        rnn_state: torch.Tensor | None,
        starts: torch.Tensor,
        controller: np.ndarray | None,
        groups: RowGroups | None = None,
    ) -> ActResult:
        """``model.act`` of each row's controller (``controller``: ``[N]`` ids, None: all policy 0;
        ``groups``: ``groups(controller)`` when the caller keeps it)."""
        groups = self.groups(controller) if groups is None else groups
        if self.stacked is not None:
            layout = groups.layout if groups.layout is not None else self._all_rows(len(starts))
            return self.stacked.act(obs, layout)
        parts = groups.parts
        if len(parts) == 1 and parts[0][1] is None:
            return self.models[parts[0][0]].act(obs, rnn_state, starts)
        results = []
        for c, rows in parts:
            assert rows is not None
            sub_obs = map_obs(obs, lambda x, rows=rows: x.index_select(0, rows))
            sub_rnn = rnn_state.index_select(0, rows) if rnn_state is not None else None
            results.append((rows, self.models[c].act(sub_obs, sub_rnn, starts.index_select(0, rows))))
        first = results[0][1]
        n = len(starts)
        actions = torch.empty((n, *first.actions.shape[1:]), dtype=first.actions.dtype)
        log_probs, values = torch.empty(n), torch.empty(n)
        new_rnn = torch.empty_like(rnn_state) if rnn_state is not None else None
        for rows, res in results:
            actions[rows], log_probs[rows], values[rows] = res.actions, res.log_probs, res.values
            if new_rnn is not None and res.rnn_state is not None:
                new_rnn[rows] = res.rnn_state
        return ActResult(actions, log_probs, values, new_rnn)

    def get_value(
        self, obs: Any, rnn_state: torch.Tensor | None, starts: torch.Tensor, controller: np.ndarray | None
    ) -> torch.Tensor:
        """The value of each row under its controller (once per rollout and for truncated episodes)."""
        if self.stacked is not None:
            layout = self._all_rows(len(starts)) if controller is None else StackLayout.build(controller)
            return self.stacked.get_value(obs, layout)
        parts = self._parts(controller)
        if len(parts) == 1 and parts[0][1] is None:
            return self.models[parts[0][0]].get_value(obs, rnn_state, starts)
        values = torch.empty(len(starts))
        for c, rows in parts:
            assert rows is not None
            sub_obs = map_obs(obs, lambda x, rows=rows: x.index_select(0, rows))
            sub_rnn = rnn_state.index_select(0, rows) if rnn_state is not None else None
            values[rows] = self.models[c].get_value(sub_obs, sub_rnn, starts.index_select(0, rows))
        return values
