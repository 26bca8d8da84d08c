"""Shared training progress: live step counters and the latest training-info dict.

``StepCounters``: one int64 row per worker, ``[env steps, agent steps of policy 0, .., of policy
P-1]``, written only by that worker after every batch step, plus a row with the counts the run
resumed from. Any process can sum them at any time without a lock (each row has a single writer; an
int64 store is atomic), which is what makes ``approx_total_training_steps`` and each policy's
``env_steps`` in training info fresh to within one batch step per worker.

``SharedBlob``: the rest of training info (policy version, stats, user keys ...), pickled by the
trainer into a fixed shared buffer with a version number; workers unpickle it only when the
version changed.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch


class StepCounters:
    """Per-worker env-step and per-policy agent-step counters in shared memory; the totals include
    the resume base."""

    def __init__(self, num_workers: int, base: int = 0, policy_base: Sequence[int] = ()) -> None:
        """``base``: env steps the run resumed from; ``policy_base``: each policy's agent steps it
        resumed from, by policy id (empty: one policy, from 0)."""
        num_policies = max(1, len(policy_base))
        self.tensor = torch.zeros((num_workers + 1, 1 + num_policies), dtype=torch.int64).share_memory_()
        self.tensor[num_workers, 0] = base
        for k, steps in enumerate(policy_base):
            self.tensor[num_workers, 1 + k] = steps
        self.num_workers = num_workers
        self._view: Any = None

    @property
    def view(self) -> Any:
        # A numpy view is ~50x cheaper to increment than indexing the tensor (this runs every step).
        if self._view is None:
            self._view = self.tensor.numpy()
        return self._view

    @property
    def num_policies(self) -> int:
        return int(self.tensor.shape[1]) - 1

    def __getstate__(self) -> dict[str, Any]:
        return {"tensor": self.tensor, "num_workers": self.num_workers}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.tensor, self.num_workers, self._view = state["tensor"], state["num_workers"], None

    def add(self, worker: int, env_steps: int, policy_steps: np.ndarray | None = None) -> None:
        """Count one batch step of ``worker``: ``env_steps`` env steps, and ``policy_steps[k]`` agent
        steps of policy ``k`` (None: one policy and one agent per env, so policy 0 took every env step)."""
        row = self.view[worker]
        row[0] += env_steps
        if policy_steps is None:
            row[1] += env_steps
        else:
            row[1:] += policy_steps

    def total(self) -> int:
        """Env steps of all workers so far, plus the resume base; never decreases."""
        return int(self.view[:, 0].sum())

    def policy_totals(self) -> list[int]:
        """Agent steps of each policy (index = policy id) over all workers, plus its resume base."""
        return [int(x) for x in self.view[:, 1:].sum(axis=0)]


BlobListener = Callable[[int, Any], None]
"""``listener(version, value)``: told of every publication (see ``SharedBlob.subscribe``)."""


class SharedBlob:
    """A picklable value published by one process and read by many, with a version number.

    A rollout source whose workers cannot map this memory (workers on other machines) ``subscribe``s
    and forwards each publication its own way.
    """

    def __init__(self, capacity: int = 1 << 20, ctx: Any = mp) -> None:
        self.data = torch.zeros(capacity, dtype=torch.uint8).share_memory_()
        self.header = torch.zeros(2, dtype=torch.int64).share_memory_()  # [version, length]
        self.lock = ctx.Lock()
        self.listeners: list[BlobListener] = []

    def __getstate__(self) -> dict[str, Any]:
        # Listeners belong to the trainer's process (a worker process gets the memory, not them).
        return {k: v for k, v in self.__dict__.items() if k != "listeners"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.listeners = []

    def subscribe(self, listener: BlobListener) -> None:
        """Call ``listener(version, value)`` after every publication, in the publishing thread."""
        self.listeners.append(listener)

    def publish(self, value: Any) -> int:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if len(payload) > self.data.numel():
            raise ValueError(
                f"training info is {len(payload):,} bytes pickled, over the {self.data.numel():,}-byte limit; "
                "return fewer or smaller keys from --training-info-fn."
            )
        with self.lock:
            self.data[: len(payload)] = torch.frombuffer(bytearray(payload), dtype=torch.uint8)
            self.header[1] = len(payload)
            self.header[0] += 1
            version = int(self.header[0])
        for listener in self.listeners:
            listener(version, value)
        return version

    def version(self) -> int:
        return int(self.header[0])

    def read(self) -> tuple[int, Any]:
        """``(version, value)``; version 0 means nothing was published yet (value None)."""
        with self.lock:
            version, length = int(self.header[0]), int(self.header[1])
            if version == 0:
                return 0, None
            payload = self.data[:length].numpy().tobytes()
        return version, pickle.loads(payload)
