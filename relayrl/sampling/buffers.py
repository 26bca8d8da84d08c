"""Preallocated shared-memory trajectory slots and the published-weights block.

Both are allocated by the main process before the workers start and handed to them at spawn
(torch shares the storage through file descriptors), so nothing large is ever pickled again.
Ownership of a slot moves only with a queue message (see docs/architecture.md), so slot memory
needs no lock; the weights block is guarded by a lock because both sides touch it concurrently.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
from typing import Any

import gymnasium as gym
import numpy as np
import torch

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


def map_obs(obs: Any, fn: Any) -> Any:
    """Apply ``fn`` to a tensor/array or to every leaf of a (nested) dict of them."""
    if isinstance(obs, dict):
        return {key: map_obs(value, fn) for key, value in obs.items()}
    return fn(obs)


def zip_obs(fn: Any, first: Any, *rest: Any) -> Any:
    """Apply ``fn(a, b, ...)`` leaf-wise over dicts with the same structure."""
    if isinstance(first, dict):
        return {key: zip_obs(fn, first[key], *(r[key] for r in rest)) for key in first}
    return fn(first, *rest)


@dataclasses.dataclass
class TrajectoryBuffers:
    """All trajectory slots, as tensors with a leading slot dimension ``[S, ...]``.

    Per slot: ``obs [T+1, N, ...]`` (row T is the bootstrap observation), ``actions [T, N, ...]``,
    ``log_probs``, ``values``, ``rewards`` ``[T, N]`` float32, ``dones``, ``valid``, ``starts``
    ``[T, N]`` bool, ``bootstrap_value [N]``, ``rnn_state [N, H]`` (state before row 0) and
    ``policy_version [S]`` int64.
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

    @staticmethod
    def allocate(
        num_slots: int,
        rollout_length: int,
        num_envs: int,
        obs_space: gym.Space,
        action_space: gym.Space,
        rnn_state_size: int,
        shared: bool = True,
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
        )
        if shared:
            for field in dataclasses.fields(buffers):
                map_obs(getattr(buffers, field.name), lambda x: x.share_memory_())
        return buffers

    def gather(self, slots: list[int], device: torch.device | str = "cpu") -> dict[str, Any]:
        """Copy the given slots into one batch with envs side by side: ``[T, len(slots) * N, ...]``
        (one tensor per field, on ``device``, so minibatches index across slots)."""
        index = torch.as_tensor(slots, dtype=torch.long)

        def cat(x: torch.Tensor) -> torch.Tensor:
            picked = x.index_select(0, index)  # [K, T, N, ...]
            picked = picked.transpose(0, 1)  # [T, K, N, ...]
            return picked.reshape(picked.shape[0], -1, *picked.shape[3:]).to(device)

        batch: dict[str, Any] = {
            name: cat(getattr(self, name))
            for name in ("actions", "log_probs", "values", "rewards", "dones", "valid", "starts")
        }
        batch["obs"] = map_obs(self.obs, cat)
        batch["bootstrap_value"] = self.bootstrap_value.index_select(0, index).reshape(-1).to(device)
        batch["rnn_state"] = self.rnn_state.index_select(0, index).reshape(-1, self.rnn_state.shape[-1]).to(device)
        batch["policy_version"] = self.policy_version.index_select(0, index).to(device)
        return batch


class SharedWeights:
    """The learner's latest ``state_dict`` in shared memory, with a version label and a serial number.

    The learner calls ``publish`` after each update (``version`` = its policy version) and, in async
    mode, also during an update with the version of the last complete one; every publication bumps
    ``serial``. A worker calls ``load_into`` between rollouts and copies the weights only if their
    serial differs from the one it holds.
    """

    def __init__(self, state_dict: dict[str, torch.Tensor], ctx: Any = mp) -> None:
        self.tensors = {k: v.detach().to("cpu", copy=True).share_memory_() for k, v in state_dict.items()}
        self.version = torch.zeros((1,), dtype=torch.int64).share_memory_()
        self.serial = torch.zeros((1,), dtype=torch.int64).share_memory_()
        self.lock = ctx.Lock()

    def publish(self, state_dict: dict[str, torch.Tensor], version: int) -> None:
        with self.lock:
            for key, value in state_dict.items():
                self.tensors[key].copy_(value.detach())
            self.version[0] = version
            self.serial[0] += 1

    def load_into(self, model: torch.nn.Module, held: tuple[int, int]) -> tuple[int, int]:
        """Copy the published weights into ``model`` unless ``held`` (the ``(serial, version)`` it
        holds) is current; return the ``(serial, version)`` that ``model`` now holds."""
        if int(self.serial[0]) == held[0]:
            return held
        with self.lock:
            model.load_state_dict(self.tensors)
            return int(self.serial[0]), int(self.version[0])
