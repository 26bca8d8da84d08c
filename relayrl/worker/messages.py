"""The small messages between the trainer and a rollout worker process (never one per env step).

Trainer -> worker (the worker's own inbox): ``GrantSlot`` (fill this trajectory slot), ``Stop``.
Worker -> trainer (one outbox shared by all workers): ``Ready``, ``RolloutDone``, ``WorkerFailed``.
Every outbound message names the worker and its generation, so the trainer can drop messages from a
process it has already replaced.
"""

from __future__ import annotations

import dataclasses

from relayrl.worker.report import RolloutReport


@dataclasses.dataclass(frozen=True)
class GrantSlot:
    slot: int


@dataclasses.dataclass(frozen=True)
class Stop:
    pass


@dataclasses.dataclass(frozen=True)
class Ready:
    worker: int
    generation: int


@dataclasses.dataclass(frozen=True)
class RolloutDone:
    worker: int
    generation: int
    report: RolloutReport


@dataclasses.dataclass(frozen=True)
class WorkerFailed:
    worker: int
    generation: int
    traceback: str


FromWorker = Ready | RolloutDone | WorkerFailed
ToWorker = GrantSlot | Stop
