"""The learner's published weights in shared memory (written by the trainer, read by every worker)."""

from __future__ import annotations

import math
import multiprocessing as mp
import weakref
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

    The tensors are views into one shared buffer per dtype, and version and serial share one more, so
    that passing this object to a new process passes a few file descriptors, not one per tensor (a
    process start carries at most a few hundred; a league's snapshot pool holds dozens of models).
    """

    def __init__(self, state_dict: dict[str, torch.Tensor], ctx: Any = mp) -> None:
        sizes: dict[torch.dtype, int] = {}
        self.layout: dict[str, tuple[torch.dtype, int, tuple[int, ...]]] = {}
        """Key -> (dtype, offset in that dtype's buffer, shape)."""
        for key, value in state_dict.items():
            offset = sizes.get(value.dtype, 0)
            self.layout[key] = (value.dtype, offset, tuple(value.shape))
            sizes[value.dtype] = offset + value.numel()
        self.buffers = {dtype: torch.zeros(n, dtype=dtype).share_memory_() for dtype, n in sizes.items()}
        self.meta = torch.zeros((2,), dtype=torch.int64).share_memory_()
        self._views()
        for key, value in state_dict.items():
            self.tensors[key].copy_(value.detach())
        self.lock = ctx.Lock()
        self.listeners: list[WeightsListener] = []
        self._pairs: dict[int, _Pairs] = {}

    def _views(self) -> None:
        self.tensors = {
            key: self.buffers[dtype][offset : offset + math.prod(shape)].view(shape)
            for key, (dtype, offset, shape) in self.layout.items()
        }
        self.version = self.meta[0:1]
        self.serial = self.meta[1:2]

    def __getstate__(self) -> dict[str, Any]:
        # Listeners belong to the trainer's process (a worker process gets the memory, not them); the
        # views are rebuilt from the buffers (pickled one by one, each would carry its own descriptor).
        skip = ("listeners", "tensors", "version", "serial", "_pairs")
        return {k: v for k, v in self.__dict__.items() if k not in skip}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._views()
        self.listeners = []
        self._pairs = {}

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

    def publish_module(self, module: torch.nn.Module, version: int) -> None:
        """``publish(module.state_dict(), version)`` without building the state dict each time (a
        learner publishes after every epoch): ``module``'s tensors are looked up once and copied from
        then on, so its parameters and buffers must be updated in place (optimizer steps,
        ``load_state_dict``: as a learner's are), not replaced."""
        pairs = self._pairs_of(module)
        if pairs is None:
            self.publish(module.state_dict(), version)
            return
        with self.lock, torch.no_grad():
            torch._foreach_copy_(pairs.shared, pairs.own)
            self.version[0] = version
            self.serial[0] += 1
            serial = int(self.serial[0])
        for listener in self.listeners:
            listener(self.tensors, version, serial)

    def load_into(self, model: torch.nn.Module, held: tuple[int, int]) -> tuple[int, int]:
        """Copy the published weights into ``model`` unless ``held`` (the ``(serial, version)`` it
        holds) is current; return the ``(serial, version)`` that ``model`` now holds. ``model``'s
        tensors are looked up once (``publish_module``): they are copied into in place."""
        if int(self.serial[0]) == held[0]:
            return held
        pairs = self._pairs_of(model)
        with self.lock:
            if pairs is None:
                model.load_state_dict(self.tensors)  # keys that differ: its error names them
            else:
                with torch.no_grad():
                    torch._foreach_copy_(pairs.own, pairs.shared)
            return int(self.serial[0]), int(self.version[0])

    def _pairs_of(self, module: torch.nn.Module) -> _Pairs | None:
        """``module``'s state tensors beside the shared ones, key by key; None when its keys, shapes,
        dtypes or device are not the published ones (e.g. a learner on a GPU). Either answer is
        cached while ``module`` lives, so a module that does not pair is not inspected again."""
        pairs = self._pairs.get(id(module))
        if pairs is None or pairs.module() is not module:
            state = module.state_dict(keep_vars=True)
            pairable = set(state) == set(self.tensors) and all(
                v.shape == self.tensors[k].shape and v.dtype == self.tensors[k].dtype and v.device.type == "cpu"
                for k, v in state.items()
            )
            own = [v.detach() for v in state.values()] if pairable else []
            pairs = _Pairs(weakref.ref(module), pairable, own, [self.tensors[k] for k in state] if pairable else [])
            self._pairs[id(module)] = pairs
        return pairs if pairs.pairable else None


class _Pairs:
    """A module's state tensors (``own``, detached views of its parameters and buffers) and the shared
    tensors of the same keys, in one order."""

    def __init__(
        self, module: weakref.ref, pairable: bool, own: list[torch.Tensor], shared: list[torch.Tensor]
    ) -> None:
        self.module = module
        self.pairable = pairable
        """False: the module's state does not match the published one (``own`` and ``shared`` empty)."""
        self.own = own
        self.shared = shared
