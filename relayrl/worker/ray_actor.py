"""``RolloutActor``: one rollout worker as a Ray actor (``--backend ray``).

It runs the same ``RolloutWorker`` as a local worker process and keeps its envs between rollouts. Its
``WorkerContext`` differs in what the worker reads through: trajectory buffers of one slot of its own
(``TrajectoryBuffers.like(1)``), and ``worker/ray_links.py``'s step counters, blob readers (training
info, self-play pool table) and weights readers (one per policy and per snapshot slot) over the
trainer's ``ProgressHub``.

``collect(slot, weights)`` fills the one local slot and returns a ``CollectResult``: the report (naming
the trainer's slot and this node) and the slot as numpy arrays, which Ray places in the object store
(out of band, no per-step objects) and the trainer copies into its own slot. The local slot is free
again as soon as the method returns: Ray has serialized the arrays by then. An exception in the
worker is returned as a traceback, as a local worker sends ``WorkerFailed``; the trainer stops the run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import traceback
from typing import Any

import ray

from relayrl.shared.ray_hub import PublishedWeights
from relayrl.utils.logs import setup_logging
from relayrl.utils.threads import set_math_threads
from relayrl.worker.context import WorkerContext
from relayrl.worker.ray_links import LinkedWeights
from relayrl.worker.report import RolloutReport

START_SYNC_TIMEOUT_SECONDS = 60.0
"""How long an actor waits at start for the hub's first reply (training info for the first episodes)."""


@dataclasses.dataclass(frozen=True)
class ActorInfo:
    """Where an actor runs, and whether building its worker failed."""

    node: str
    """Ray node id."""
    address: str
    """The node's IP address."""
    pid: int
    failure: str | None = None
    """Traceback when building the worker (its envs, its model) raised."""


@dataclasses.dataclass(frozen=True)
class CollectResult:
    """One ``collect``: a filled slot, or the traceback of what went wrong."""

    report: RolloutReport | None
    slot: dict[str, Any] | None
    """``TrajectoryBuffers.slot_arrays`` of the filled slot."""
    failure: str | None = None
    weights_bytes: int = 0
    """Weights this actor has read from the object store so far (cumulative)."""
    weights_reads: dict[int, int] = dataclasses.field(default_factory=dict)
    """Publications this actor has read from the object store so far, per weights channel (cumulative)."""
    info_bytes: int = 0
    """Training info this actor has received so far, pickled (cumulative)."""
    exchanges: int = 0
    """Exchanges with the hub so far (cumulative)."""


class RolloutActor:
    """A ``RolloutWorker`` behind Ray actor methods (the source wraps it with ``ray.remote``)."""

    def __init__(self, ctx: WorkerContext) -> None:
        """``ctx``: the worker's context with one local slot and ``ray_links`` readers (built by the
        source). Never raises: a failure is kept and reported by ``ready``."""
        setup_logging(f"worker{ctx.worker_index}")
        # One thread per worker: the workers together already occupy the node's cores.
        set_math_threads(1)
        self.log = logging.getLogger("relayrl.worker")
        self.index = ctx.worker_index
        self.buffers = ctx.buffers
        assert isinstance(ctx.weights[0], LinkedWeights), "a RolloutActor reads weights through the hub"
        self.link = ctx.weights[0].link
        context = ray.get_runtime_context()
        self.info = ActorInfo(node=context.get_node_id(), address=ray.util.get_node_ip_address(), pid=os.getpid())
        self.worker: Any = None
        try:
            self.link.sync(START_SYNC_TIMEOUT_SECONDS)
            from relayrl.worker.rollout import RolloutWorker

            self.worker = RolloutWorker(ctx)
        except Exception:  # noqa: BLE001 - reported to the trainer, which stops the run
            self.info = dataclasses.replace(self.info, failure=traceback.format_exc())

    def ready(self) -> ActorInfo:
        """Where this actor runs (answered once its worker is built)."""
        return self.info

    def collect(self, slot: int, weights: tuple[PublishedWeights, ...]) -> CollectResult:
        """Fill trajectory slot ``slot`` of the trainer, starting from ``weights`` (the latest publication
        of each channel at the grant) or newer publications."""
        if self.worker is None:
            return CollectResult(None, None, failure=self.info.failure or "the worker was not built")
        try:
            for published in weights:
                self.link.offer(published)
            report = self.worker.collect(0)
        except Exception:  # noqa: BLE001 - reported to the trainer, which stops the run
            return CollectResult(None, None, failure=traceback.format_exc())
        return CollectResult(
            report=dataclasses.replace(report, slot=slot, node=self.info.node),
            slot=self.buffers.slot_arrays(0),
            weights_bytes=self.link.fetched_bytes,
            weights_reads=dict(self.link.fetched),
            info_bytes=self.link.info_bytes,
            exchanges=self.link.exchanges,
        )

    def close(self) -> None:
        """Close the envs (the trainer then ends the actor)."""
        if self.worker is not None:
            try:
                self.worker.close()
            except Exception:  # noqa: BLE001 - closing envs must not stop the shutdown
                self.log.exception("closing the envs of worker %d failed", self.index)
            self.worker = None
