"""Shared training progress: live env-step counters and the latest training-info dict.

``StepCounters``: one int64 per worker, written only by that worker after every batch step, plus
the step count the run resumed from; and likewise one int64 per worker and policy for the agent
steps of each policy. Any process can sum them at any time without a lock (each entry has a single
writer; an int64 store is atomic), which is what makes ``approx_total_training_steps`` fresh to
within one batch step per worker.

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
    """Per-worker env-step counters in shared memory, and per worker and policy agent-step counters;
    ``total()`` and ``policy_totals()`` include the resume bases."""

    def __init__(self, num_workers: int, base: int = 0, policy_base: Sequence[int] | None = None) -> None:
        """``policy_base``: each policy's agent steps at the resume (None: one policy, from 0)."""
        policy_base = list(policy_base) if policy_base is not None else [0]
        self.tensor = torch.zeros(num_workers + 1, dtype=torch.int64).share_memory_()
        self.tensor[num_workers] = base
        self.policy_tensor = torch.zeros((num_workers + 1, len(policy_base)), dtype=torch.int64).share_memory_()
        self.policy_tensor[num_workers] = torch.as_tensor(policy_base, dtype=torch.int64)
        self.num_workers = num_workers
        self._view: Any = None
        self._policy_view: Any = None

    @property
    def view(self) -> Any:
        # A numpy view is ~50x cheaper to increment than indexing the tensor (this runs every step).
        if self._view is None:
            self._view = self.tensor.numpy()
        return self._view

    @property
    def policy_view(self) -> Any:
        if self._policy_view is None:
            self._policy_view = self.policy_tensor.numpy()
        return self._policy_view

    def __getstate__(self) -> dict[str, Any]:
        return {"tensor": self.tensor, "policy_tensor": self.policy_tensor, "num_workers": self.num_workers}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.tensor, self.policy_tensor, self.num_workers = (
            state["tensor"],
            state["policy_tensor"],
            state["num_workers"],
        )
        self._view = self._policy_view = None

    def add(self, worker: int, env_steps: int, policy_steps: np.ndarray | None = None) -> None:
        """``env_steps`` more env steps of ``worker``, and ``policy_steps[k]`` agent steps of policy ``k``
        (None: policy 0 took every env step)."""
        self.view[worker] += env_steps
        if policy_steps is None:
            self.policy_view[worker, 0] += env_steps
        else:
            self.policy_view[worker, : len(policy_steps)] += policy_steps

    def total(self) -> int:
        return int(self.view.sum())

    def policy_totals(self) -> list[int]:
        """Agent steps of each policy over all workers, plus each policy's resume base."""
        return [int(x) for x in self.policy_view.sum(axis=0)]


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
