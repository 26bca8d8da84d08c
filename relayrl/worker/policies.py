"""The policy copies a rollout worker acts with, and batched inference split by controller.

With one policy (the default) this is one model and one ``act`` over all rows. With several
policies or self-play, every row has a controller (``worker/mapping.py``): the rows of each
controller go through that controller's model in one call, and the results are put back in row
order. Snapshot models (self-play pool slots) are loaded like the policies, between rollouts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from relayrl.config import Config
from relayrl.models import build_actor_critic
from relayrl.models.actor_critic import ActResult
from relayrl.utils.obs_tree import map_obs


class WorkerPolicies:
    """Models by controller id: ``0 .. P-1`` the policies, ``P + j`` self-play pool slot ``j``."""

    def __init__(
        self,
        cfg: Config,
        obs_space: gym.Space,
        action_space: gym.Space,
        readers: Sequence[Any],
        snapshots: Sequence[Any],
    ) -> None:
        """``readers``: each policy's published weights (``WeightsReader``); ``snapshots``: each pool slot's."""
        self.num_policies = len(readers)
        self.readers = list(readers) + list(snapshots)
        self.models = [build_actor_critic(obs_space, action_space, cfg.model) for _ in self.readers]
        for model in self.models:
            model.eval()
        self.held = [(-1, -1)] * len(self.readers)

    @property
    def model(self) -> torch.nn.Module:
        return self.models[0]

    @property
    def rnn_state_size(self) -> int:
        return int(self.models[0].rnn_state_size)

    def load(self) -> list[int]:
        """Load every publication newer than the copy held; the policies' versions (index = policy id)."""
        for c, reader in enumerate(self.readers):
            self.held[c] = reader.load_into(self.models[c], self.held[c])
        return [version for _, version in self.held[: self.num_policies]]

    def snapshot_version(self, slot: int) -> int:
        return self.held[self.num_policies + slot][1]

    def groups(self, controller: np.ndarray | None) -> list[tuple[int, torch.Tensor | None]]:
        """``[(controller id, its rows)]`` (rows None: all of them); pass it to ``act`` / ``get_value``
        while ``controller`` does not change."""
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
        groups: list[tuple[int, torch.Tensor | None]] | None = None,
    ) -> ActResult:
        """``model.act`` of each row's controller (``controller``: ``[N]`` ids, None: all policy 0;
        ``groups``: ``groups(controller)`` when the caller keeps it)."""
        groups = self.groups(controller) if groups is None else groups
        if len(groups) == 1 and groups[0][1] is None:
            return self.models[groups[0][0]].act(obs, rnn_state, starts)
        parts = []
        for c, rows in groups:
            assert rows is not None
            sub_obs = map_obs(obs, lambda x, rows=rows: x.index_select(0, rows))
            sub_rnn = rnn_state.index_select(0, rows) if rnn_state is not None else None
            parts.append((rows, self.models[c].act(sub_obs, sub_rnn, starts.index_select(0, rows))))
        first = parts[0][1]
        n = len(starts)
        actions = torch.empty((n, *first.actions.shape[1:]), dtype=first.actions.dtype)
        log_probs, values = torch.empty(n), torch.empty(n)
        new_rnn = torch.empty_like(rnn_state) if rnn_state is not None else None
        for rows, res in parts:
            actions[rows], log_probs[rows], values[rows] = res.actions, res.log_probs, res.values
            if new_rnn is not None and res.rnn_state is not None:
                new_rnn[rows] = res.rnn_state
        return ActResult(actions, log_probs, values, new_rnn)

    def get_value(
        self, obs: Any, rnn_state: torch.Tensor | None, starts: torch.Tensor, controller: np.ndarray | None
    ) -> torch.Tensor:
        groups = self.groups(controller)
        if len(groups) == 1 and groups[0][1] is None:
            return self.models[groups[0][0]].get_value(obs, rnn_state, starts)
        values = torch.empty(len(starts))
        for c, rows in groups:
            assert rows is not None
            sub_obs = map_obs(obs, lambda x, rows=rows: x.index_select(0, rows))
            sub_rnn = rnn_state.index_select(0, rows) if rnn_state is not None else None
            values[rows] = self.models[c].get_value(sub_obs, sub_rnn, starts.index_select(0, rows))
        return values
