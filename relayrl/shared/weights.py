"""The learner's published weights in shared memory (written by the trainer, read by every worker)."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Mapping
from typing import Any

import torch

WeightsListener = Callable[[Mapping[str, torch.Tensor], int, int], None]
"""``listener(tensors, version, serial)``: told of every publication (see ``SharedWeights.subscribe``)."""


class SharedWeights:
    """The learner's latest ``state_dict`` in shared memory, with a version label and a serial number.

    The learner calls ``publish`` after each update (``version`` = its policy version) and, in async
    mode, also during an update with the version of the last complete one; every publication bumps
    ``serial``. A worker calls ``load_into`` between rollouts and copies the weights only if their
    serial differs from the one it holds.

    A rollout source whose workers cannot map this memory (workers on other machines) ``subscribe``s
    and forwards each publication its own way.
    """

    def __init__(self, state_dict: dict[str, torch.Tensor], ctx: Any = mp) -> None:
        self.tensors = {k: v.detach().to("cpu", copy=True).share_memory_() for k, v in state_dict.items()}
        self.version = torch.zeros((1,), dtype=torch.int64).share_memory_()
        self.serial = torch.zeros((1,), dtype=torch.int64).share_memory_()
        self.lock = ctx.Lock()
        self.listeners: list[WeightsListener] = []

    def __getstate__(self) -> dict[str, Any]:
        # Listeners belong to the trainer's process (a worker process gets the memory, not them).
        return {k: v for k, v in self.__dict__.items() if k != "listeners"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.listeners = []

    def subscribe(self, listener: WeightsListener) -> None:
        """Call ``listener(tensors, version, serial)`` after every publication, in the publishing thread,
        with the published tensors (read them before returning: the next publication overwrites them)."""
        self.listeners.append(listener)

    def publish(self, state_dict: dict[str, torch.Tensor], version: int) -> None:
        with self.lock:
            for key, value in state_dict.items():
                self.tensors[key].copy_(value.detach())
            self.version[0] = version
            self.serial[0] += 1
            serial = int(self.serial[0])
        # Outside the lock: a listener may take a while (a copy into another store), and only this
        # (the publishing) thread ever writes the tensors, so they stay as published meanwhile.
        for listener in self.listeners:
            listener(self.tensors, version, serial)

    def load_into(self, model: torch.nn.Module, held: tuple[int, int]) -> tuple[int, int]:
        """Copy the published weights into ``model`` unless ``held`` (the ``(serial, version)`` it
        holds) is current; return the ``(serial, version)`` that ``model`` now holds."""
        if int(self.serial[0]) == held[0]:
            return held
        with self.lock:
            model.load_state_dict(self.tensors)
            return int(self.serial[0]), int(self.version[0])
