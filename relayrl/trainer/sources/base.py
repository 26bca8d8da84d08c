"""The ``RolloutSource`` seam: where the training loop gets rollouts from, and gives slots back to.

A source runs ``num_workers`` rollout workers somewhere (in this process, in local processes, ...).
The loop only ever:

1. ``start()`` the workers, then ``wait_ready(stop)``;
2. ``grant(slot)``: lets the slot's owner fill it (every slot at the start, then each slot again once
   the learner has trained on it and published new weights);
3. ``receive(timeout)``: the next ``RolloutReport`` (its slot is filled and now belongs to the trainer),
   or None after ``timeout`` seconds;
4. ``check_health()`` about once a second: restarts dead workers within ``--max-worker-restarts``, raises
   ``WorkerError`` past it or when a worker reported an error; ``restarts`` is the one count of them;
5. ``stop()``.

When ``receive`` returns a report, the trajectory is in the trainer's ``TrajectoryBuffers`` at that
slot, whatever the transport. Slot ``k`` belongs to worker ``k // slots_per_worker`` (``SlotLayout``).
A new backend is a module with a class of this shape plus one line in ``SOURCES``
(``relayrl/trainer/sources/__init__.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

from relayrl.config import Config
from relayrl.worker.context import WorkerContext
from relayrl.worker.report import RolloutReport


@dataclasses.dataclass(frozen=True)
class SlotLayout:
    """Which worker owns which trajectory slot: worker ``w`` owns slots ``[w * s, (w + 1) * s)``."""

    num_workers: int
    slots_per_worker: int

    @property
    def num_slots(self) -> int:
        return self.num_workers * self.slots_per_worker

    def owner(self, slot: int) -> int:
        return slot // self.slots_per_worker

    def owned(self, worker: int) -> range:
        return range(worker * self.slots_per_worker, (worker + 1) * self.slots_per_worker)


ContextFactory = Callable[[int, int], WorkerContext]
"""``contexts(worker, generation)``: the context a worker (re)starts with (``WorkerContexts``)."""


class RolloutSource(Protocol):
    """What the training loop needs from a rollout backend (module docstring: the sequence)."""

    shared_memory: bool
    """True when workers write the trainer's buffers directly (they must be allocated shared)."""

    samples_while_training: bool
    """True when workers keep sampling while the learner trains (then weights published after each
    epoch of an update reach rollouts that start meanwhile)."""

    @property
    def restarts(self) -> int:
        """Workers restarted so far in this session (the one count of them)."""
        ...

    def start(self) -> None: ...

    def wait_ready(self, stop: Callable[[], bool]) -> None:
        """Block until every worker can take slots, or ``stop()`` is true."""
        ...

    def grant(self, slot: int) -> None: ...

    def receive(self, timeout: float) -> RolloutReport | None: ...

    def check_health(self) -> None: ...

    def stop(self) -> None: ...


class SourceFactory(Protocol):
    """A source class: ``cls(cfg, layout, contexts)``, how many slots each worker needs, and whether
    the trainer must allocate the trajectory buffers in shared memory for it."""

    shared_memory: bool

    def __call__(self, cfg: Config, layout: SlotLayout, contexts: ContextFactory) -> RolloutSource: ...

    @staticmethod
    def slots_per_worker(cfg: Config) -> int: ...
