"""Trajectory slots: preallocated tensors that workers fill and the learner gathers into a ``Batch``.

The trainer allocates them before the workers start (in shared memory for worker processes: torch
shares the storage through file descriptors at spawn, so nothing large is ever pickled again).
Ownership of a slot moves only with a message (see docs/architecture.md), so slot memory needs no lock.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from relayrl.utils.obs_tree import map_obs, zip_obs

Obs = torch.Tensor | dict[str, torch.Tensor]


def _obs_tensor(space: gym.Space, lead: tuple[int, ...]) -> Obs:
    """A zero tensor (or dict of them) holding raw observations of ``space`` with leading dims ``lead``."""
    if isinstance(space, gym.spaces.Dict):
        return {key: _obs_tensor(sub, lead) for key, sub in space.spaces.items()}  # type: ignore[misc]
    if isinstance(space, gym.spaces.Discrete):
        return torch.zeros(lead, dtype=torch.int64)
    assert isinstance(space, gym.spaces.Box)
    dtype = torch.uint8 if space.dtype == np.uint8 else torch.float32
    return torch.zeros(lead + tuple(space.shape), dtype=dtype)


def _action_tensor(space: gym.Space, lead: tuple[int, ...]) -> torch.Tensor:
    if isinstance(space, gym.spaces.Discrete):
        return torch.zeros(lead, dtype=torch.int64)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return torch.zeros(lead + (len(space.nvec),), dtype=torch.int64)
    assert isinstance(space, gym.spaces.Box)
    return torch.zeros(lead + tuple(space.shape), dtype=torch.float32)


@dataclasses.dataclass(frozen=True)
class Batch:
    """Slots gathered for one learner update, envs side by side: ``T`` steps of ``B`` env columns.

    The learner reads it and never changes it.
    """

    obs: Obs
    """Raw observations ``[T + 1, B, ...]`` (row T: the bootstrap observation)."""
    actions: torch.Tensor
    """``[T, B, ...]`` as sampled (unclipped)."""
    log_probs: torch.Tensor
    """``[T, B]`` behaviour-policy log-probabilities."""
    values: torch.Tensor
    """``[T, B]`` behaviour-policy values (return units)."""
    rewards: torch.Tensor
    """``[T, B]``, truncations already bootstrapped by the worker."""
    dones: torch.Tensor
    """``[T, B]`` bool: the episode ended at this step."""
    valid: torch.Tensor
    """``[T, B]`` bool: false for rows that are not training data."""
    starts: torch.Tensor
    """``[T, B]`` bool: the observation begins an episode (resets a recurrent state)."""
    bootstrap_value: torch.Tensor
    """``[B]`` value of the bootstrap observation."""
    rnn_state: torch.Tensor
    """``[B, H]`` recurrent state before row 0."""
    policy_version: torch.Tensor
    """``[B]`` the version of the weights that collected each column."""
    policy_ids: torch.Tensor
    """``[T, B]`` int16: the controller of each step (a policy id; self-play snapshots: above them)."""
    policy_versions: torch.Tensor
    """``[B, P]`` the version of each policy's weights that collected each column."""

    def for_policy(self, policy_id: int) -> Batch:
        """The batch as policy ``policy_id``'s learner sees it: only its own steps are valid, and the
        column versions are its own. (Episodes never change controller midway, so advantages computed
        over a whole column are cut at the episode ends that separate its controllers.)"""
        return dataclasses.replace(
            self,
            valid=self.valid & (self.policy_ids == policy_id),
            policy_version=self.policy_versions[:, policy_id],
        )

    @property
    def num_steps(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def num_columns(self) -> int:
        return int(self.rewards.shape[1])

    @property
    def obs_steps(self) -> Obs:
        """Observations of the ``T`` steps (without the bootstrap row)."""
        t = self.num_steps
        return map_obs(self.obs, lambda x: x[:t])


@dataclasses.dataclass
class TrajectoryBuffers:
    """All trajectory slots, as tensors with a leading slot dimension ``[S, ...]``.

    Per slot: ``obs [T+1, N, ...]`` (row T is the bootstrap observation), ``actions [T, N, ...]``,
    ``log_probs``, ``values``, ``rewards`` ``[T, N]`` float32, ``dones``, ``valid``, ``starts``
    ``[T, N]`` bool, ``bootstrap_value [N]``, ``rnn_state [N, H]`` (state before row 0),
    ``policy_version [S]`` int64 (policy 0's), ``policy_ids [T, N]`` int16 (the controller of each
    step: several policies, self-play) and ``policy_versions [S, P]`` (every policy's version).
    """

    obs: Obs
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    valid: torch.Tensor
    starts: torch.Tensor
    bootstrap_value: torch.Tensor
    rnn_state: torch.Tensor
    policy_version: torch.Tensor
    policy_ids: torch.Tensor
    policy_versions: torch.Tensor

    @staticmethod
    def allocate(
        num_slots: int,
        rollout_length: int,
        num_envs: int,
        obs_space: gym.Space,
        action_space: gym.Space,
        rnn_state_size: int,
        shared: bool = True,
        num_policies: int = 1,
    ) -> TrajectoryBuffers:
        s, t, n = num_slots, rollout_length, num_envs
        buffers = TrajectoryBuffers(
            obs=_obs_tensor(obs_space, (s, t + 1, n)),
            actions=_action_tensor(action_space, (s, t, n)),
            log_probs=torch.zeros((s, t, n)),
            values=torch.zeros((s, t, n)),
            rewards=torch.zeros((s, t, n)),
            dones=torch.zeros((s, t, n), dtype=torch.bool),
            valid=torch.ones((s, t, n), dtype=torch.bool),
            starts=torch.zeros((s, t, n), dtype=torch.bool),
            bootstrap_value=torch.zeros((s, n)),
            rnn_state=torch.zeros((s, n, max(rnn_state_size, 1))),
            policy_version=torch.zeros((s,), dtype=torch.int64),
            policy_ids=torch.zeros((s, t, n), dtype=torch.int16),
            policy_versions=torch.zeros((s, num_policies), dtype=torch.int64),
        )
        if shared:
            for field in dataclasses.fields(buffers):
                map_obs(getattr(buffers, field.name), lambda x: x.share_memory_())
        return buffers

    def like(self, num_slots: int) -> TrajectoryBuffers:
        """New zeroed buffers of ``num_slots`` slots, with these shapes and dtypes, not shared: a worker's
        own slots when it cannot write the trainer's memory (on another machine)."""

        def empty(x: torch.Tensor) -> torch.Tensor:
            return torch.zeros((num_slots, *x.shape[1:]), dtype=x.dtype)

        fields = {f.name: map_obs(getattr(self, f.name), empty) for f in dataclasses.fields(self)}
        buffers = TrajectoryBuffers(**fields)
        buffers.valid.fill_(True)
        return buffers

    def slot_arrays(self, slot: int) -> dict[str, Any]:
        """Slot ``slot`` as numpy views, one array per field (a dict of them for dict observations):
        what a worker without shared memory sends back. Views, not copies: send them before the slot
        is written again."""
        return {f.name: map_obs(getattr(self, f.name), lambda x: x[slot].numpy()) for f in dataclasses.fields(self)}

    def write_slot(self, slot: int, arrays: dict[str, Any]) -> None:
        """Copy ``slot_arrays`` output (of buffers of the same layout) into slot ``slot``."""
        for f in dataclasses.fields(self):

            def put(dst: torch.Tensor, src: Any) -> None:
                # Through numpy: ``src`` may be a read-only view of received memory, which torch.from_numpy
                # refuses to wrap without a warning; numpy assignment copies it as it is.
                dst[slot].numpy()[...] = src

            zip_obs(put, getattr(self, f.name), arrays[f.name])

    def gather(self, slots: list[int], device: torch.device | str = "cpu") -> Batch:
        """Copy the given slots into one ``Batch`` with envs side by side: ``[T, len(slots) * N, ...]``
        (on ``device``, so minibatches index across slots)."""
        index = torch.as_tensor(slots, dtype=torch.long)
        n = self.rewards.shape[2]

        def cat(x: torch.Tensor) -> torch.Tensor:
            picked = x.index_select(0, index)  # [K, T, N, ...]
            picked = picked.transpose(0, 1)  # [T, K, N, ...]
            return picked.reshape(picked.shape[0], -1, *picked.shape[3:]).to(device)

        return Batch(
            obs=map_obs(self.obs, cat),
            actions=cat(self.actions),
            log_probs=cat(self.log_probs),
            values=cat(self.values),
            rewards=cat(self.rewards),
            dones=cat(self.dones),
            valid=cat(self.valid),
            starts=cat(self.starts),
            bootstrap_value=self.bootstrap_value.index_select(0, index).reshape(-1).to(device),
            rnn_state=self.rnn_state.index_select(0, index).reshape(-1, self.rnn_state.shape[-1]).to(device),
            policy_version=self.policy_version.index_select(0, index).repeat_interleave(n).to(device),
            policy_ids=cat(self.policy_ids),
            policy_versions=self.policy_versions.index_select(0, index).repeat_interleave(n, dim=0).to(device),
        )
