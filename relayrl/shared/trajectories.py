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
class Trajectories:
    """The fields of trajectory data, listed once: in slots (``TrajectoryBuffers``, a leading slot
    dimension ``[S, ...]`` and ``N`` rows per slot) and gathered for an update (``Batch``, slots side
    by side in ``B`` columns). Shapes below are per slot / in a batch."""

    obs: Obs
    """Raw observations ``[T + 1, N | B, ...]`` (row T: the bootstrap observation)."""
    actions: torch.Tensor
    """``[T, N | B, ...]`` as sampled (unclipped)."""
    log_probs: torch.Tensor
    """``[T, N | B]`` behaviour-policy log-probabilities."""
    values: torch.Tensor
    """``[T, N | B]`` behaviour-policy values (return units)."""
    rewards: torch.Tensor
    """``[T, N | B]``, truncations already bootstrapped by the worker."""
    dones: torch.Tensor
    """``[T, N | B]`` bool: the episode ended at this step."""
    valid: torch.Tensor
    """``[T, N | B]`` bool: false for rows that are not training data."""
    starts: torch.Tensor
    """``[T, N | B]`` bool: the observation begins an episode (resets a recurrent state)."""
    bootstrap_value: torch.Tensor
    """``[N | B]`` value of the bootstrap observation."""
    rnn_state: torch.Tensor
    """``[N | B, H]`` recurrent state before row 0."""
    policy_ids: torch.Tensor
    """``[T, N | B]`` int16: the controller of each step (a policy id; self-play snapshots: above them)."""
    policy_versions: torch.Tensor
    """``[P]`` per slot, ``[B, P]`` in a batch: the version of each policy's weights that collected it."""


@dataclasses.dataclass(frozen=True)
class Batch(Trajectories):
    """Slots gathered for one learner update, envs side by side: ``T`` steps of ``B`` env columns.

    The learner reads it and never changes it.
    """

    policy_id: int = 0
    """The policy whose learner this batch is for (``for_policy``): ``policy_version`` is its."""

    @property
    def policy_version(self) -> torch.Tensor:
        """``[B]`` the version of policy ``policy_id``'s weights that collected each column."""
        return self.policy_versions[:, self.policy_id]

    def for_policy(self, policy_id: int) -> Batch:
        """The batch as policy ``policy_id``'s learner sees it: only its own steps are valid, and the
        column versions are its own. (Episodes never change controller midway, so advantages computed
        over a whole column are cut at the episode ends that separate its controllers.)"""
        return dataclasses.replace(self, valid=self.valid & (self.policy_ids == policy_id), policy_id=policy_id)

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


@dataclasses.dataclass(frozen=True)
class TrajectoryBuffers(Trajectories):
    """All trajectory slots, as tensors with a leading slot dimension ``[S, ...]`` (the fields and
    their per-slot shapes: ``Trajectories``). The tensors are written in place, never replaced."""

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
            policy_ids=cat(self.policy_ids),
            policy_versions=self.policy_versions.index_select(0, index).repeat_interleave(n, dim=0).to(device),
        )
