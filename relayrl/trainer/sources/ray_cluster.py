"""``RaySource`` (``--backend ray``): one Ray actor per rollout worker, anywhere on a Ray cluster.

The workers are ``worker/ray_actor.py``'s ``RolloutActor``s, running the same ``RolloutWorker`` as a
local process. What crosses the network, per rollout and per publication:

- ``grant(slot)`` is one actor call, ``collect(slot, weights)``, carrying only the slot number and a
  reference to the latest publication of each weights channel (below). Its result (``CollectResult``) holds the small report and
  the slot as numpy arrays, which ``receive`` copies into the trainer's own buffers at that slot
  before it returns the report: the trainer's buffers are then as a local worker would have left them.
- Each publication of weights (``SharedWeights.publish``, which this source subscribes to: every
  policy's, and every self-play snapshot slot's) is ``ray.put`` once; every actor reads that one
  object (the object store fetches it at most once per node), only when it starts a rollout and does
  not hold it yet. The blobs (``SharedBlob.publish``: training info, the self-play pool table) and
  every worker's step counts go through one small ``ProgressHub`` actor on the trainer's node
  (``shared/ray_hub.py``, ``worker/ray_links.py``), which also tells actors of new publications.

Faults, as with local processes (``processes.py``): a dead actor (killed, out of memory, its node gone)
is replaced by a new one with fresh envs, a new generation and the trainer's latest curriculum states,
within ``--max-worker-restarts`` in total; the rollouts it had completed are kept, the rest dropped and
their slots granted to the new actor. A replacement that cannot be placed (its node left and the others
lack the CPUs) stops the run with ``WorkerError`` naming the node; so does an actor that reports an
error. ``stop`` closes the envs, kills every actor of the run, and disconnects if it connected.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from relayrl.config import Config
from relayrl.errors import WorkerError
from relayrl.shared.progress import SharedBlob, StepCounters
from relayrl.shared.ray_hub import INFO, POOL_TABLE, ProgressHub, PublishedWeights
from relayrl.shared.weights import SharedWeights
from relayrl.trainer.sources import ray_connect
from relayrl.trainer.sources.base import ContextFactory, SlotLayout
from relayrl.trainer.sources.ray_connect import ray
from relayrl.trainer.sources.ray_traffic import Traffic
from relayrl.trainer.sources.restarts import RestartBudget
from relayrl.worker.ray_actor import ActorInfo, CollectResult, RolloutActor
from relayrl.worker.ray_links import HubLink, LinkedCounters, LinkedInfo, LinkedWeights, exchange_period
from relayrl.worker.report import RolloutReport

log = logging.getLogger("relayrl.workers")

STARTUP_TIMEOUT_SECONDS = 300.0
"""How long the workers may take to be placed and to build their envs at start."""
PLACEMENT_TIMEOUT_SECONDS = 120.0
"""How long a replacement actor may take to be placed and started before the run stops."""
STOP_TIMEOUT_SECONDS = 5.0
"""How long ``stop`` waits for the actors to close their envs before it kills them."""
LOST = (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError, ray.exceptions.WorkerCrashedError)
"""What a rollout whose actor died (or whose node left with the result) raises."""


@dataclasses.dataclass(frozen=True)
class Flight:
    """A granted slot being filled: by which worker and generation."""

    worker: int
    generation: int
    slot: int


class RaySource:
    shared_memory = False
    samples_while_training = True

    @staticmethod
    def slots_per_worker(cfg: Config) -> int:
        return cfg.num_slots_per_worker

    def __init__(self, cfg: Config, layout: SlotLayout, contexts: ContextFactory) -> None:
        """Joins the cluster (ConfigError naming the address when it cannot) and starts the hub."""
        n = layout.num_workers
        self.cfg = cfg
        self.layout = layout
        self.contexts = contexts
        self.budget = RestartBudget(cfg.faults.max_worker_restarts)
        template = contexts(0, 0)
        blobs = {INFO: template.info_blob, POOL_TABLE: template.pool_table}
        self.num_policies = len(template.weights)
        self.channels = [w for w in (*template.weights, *template.snapshot_weights) if isinstance(w, SharedWeights)]
        """Weights by channel (controller id): policies ``0 .. P-1``, then snapshot slots ``P + j``."""
        self.blobs = {name: b for name, b in blobs.items() if isinstance(b, SharedBlob)}
        if (
            len(self.channels) != self.num_policies + len(template.snapshot_weights)
            or len(self.blobs) != sum(b is not None for b in blobs.values())
            or not isinstance(template.counters, StepCounters)
        ):
            raise TypeError("RaySource forwards the trainer's SharedWeights, SharedBlobs and StepCounters")
        self.buffers = template.buffers
        self.connected_here = ray_connect.connect(cfg)
        self.prefix = f"relayrl-{cfg.experiment_name}-{secrets.token_hex(3)}-"
        """Names of this run's actors start with this (``ray list actors`` shows them by name)."""
        try:
            if cfg.ray.address.strip() or not self.connected_here:
                ray_connect.check_room(cfg)
            hub_cls = ray.remote(ProgressHub).options(**ray_connect.hub_options(self.prefix + "hub"))
            self.hub = hub_cls.remote(template.counters.total(), template.counters.policy_totals())
        except BaseException:
            self._disconnect()
            raise
        self.actor_cls = ray.remote(RolloutActor)
        self.period = exchange_period(n)
        self.group: Any | None = None
        self.latest: dict[int, PublishedWeights] = {}
        """The latest publication of each channel."""
        self.blob_versions: dict[str, int] = {}
        self.stopped = False
        self.actors: list[Any] = [None] * n
        self.generation = [0] * n
        self.placed: list[ActorInfo | None] = [None] * n
        self.starting: dict[int, tuple[Any, float]] = {}
        """Workers whose actor is not ready yet: ``ready()`` reference and deadline."""
        self.predecessor: dict[int, ActorInfo] = {}
        """Replacement actors not ready yet: where the actor they replace ran."""
        self.held: list[set[int]] = [set() for _ in range(n)]
        """Slots each worker holds (granted, not yet reported back)."""
        self.pending: dict[Any, Flight] = {}
        """``collect`` references not yet received."""
        self.backlog: list[RolloutReport] = []
        self.traffic = Traffic()
        for channel, weights in enumerate(self.channels):
            weights.subscribe(functools.partial(self._on_weights, channel))
        for name, blob in self.blobs.items():
            blob.subscribe(functools.partial(self._on_blob, name))

    @property
    def restarts(self) -> int:
        return self.budget.used

    # ----- publications (called in the trainer's thread by SharedWeights / SharedBlob) -----

    def _on_weights(self, channel: int, tensors: Mapping[str, torch.Tensor], version: int, serial: int) -> None:
        if self.stopped:
            return
        arrays = {name: t.detach().numpy() for name, t in tensors.items()}
        nbytes = sum(a.nbytes for a in arrays.values())
        # Put once (a copy into the object store); every actor reads this one object.
        self.latest[channel] = PublishedWeights(channel, serial, version, ray.put(arrays), nbytes)
        self.hub.publish_weights.remote(self.latest[channel])
        self.traffic.add_publication(nbytes)

    def _on_blob(self, name: str, version: int, value: Any) -> None:
        if self.stopped:
            return
        self.blob_versions[name] = version
        self.hub.publish_blob.remote(name, version, value)

    # ----- start -----

    def start(self) -> None:
        for channel, weights in enumerate(self.channels):
            serial = int(weights.serial[0])
            # nothing published since this source subscribed (a snapshot slot never filled: nothing to send)
            if channel not in self.latest and (channel < self.num_policies or serial > 0):
                self._on_weights(channel, weights.tensors, int(weights.version[0]), serial)
        for name, blob in self.blobs.items():
            version, value = blob.read()
            if version > self.blob_versions.get(name, 0):
                self._on_blob(name, version, value)
        # The hub runs calls in order, so this answer means the publications above have arrived:
        # every actor's first exchange gets training info (and the pool table) before its envs' first
        # episodes.
        ray.get(self.hub.total.remote(), timeout=STARTUP_TIMEOUT_SECONDS)
        self.group = ray_connect.placement_group(self.cfg)
        for w in range(self.layout.num_workers):
            self._spawn(w, STARTUP_TIMEOUT_SECONDS)

    def _spawn(self, w: int, timeout: float) -> None:
        link = HubLink(self.hub, self.period)
        context = dataclasses.replace(
            self.contexts(w, self.generation[w]),
            buffers=self.buffers.like(1),
            weights=tuple(LinkedWeights(link, k) for k in range(self.num_policies)),
            snapshot_weights=tuple(LinkedWeights(link, c) for c in range(self.num_policies, len(self.channels))),
            counters=LinkedCounters(link),
            info_blob=LinkedInfo(link, INFO),
            pool_table=LinkedInfo(link, POOL_TABLE) if POOL_TABLE in self.blobs else None,
        )
        name = f"{self.prefix}worker{w}.{self.generation[w]}"
        options = ray_connect.worker_options(self.cfg, w, self.group, name)
        self.actors[w] = self.actor_cls.options(**options).remote(context)
        self.placed[w] = None
        self.starting[w] = (self.actors[w].ready.remote(), time.monotonic() + timeout)

    def wait_ready(self, stop: Callable[[], bool]) -> None:
        """Until every actor is placed and has built its envs, or ``stop()`` is true."""
        while self.starting and not stop():
            refs = [ref for ref, _ in self.starting.values()]
            ray.wait(refs, num_returns=len(refs), timeout=0.5)
            self._check_starting()
        if not self.starting:
            where = ", ".join(f"{w}: {info.address} {info.node[:8]}" for w, info in enumerate(self.placed) if info)
            log.info("rollout actors placed (worker: node): %s", where)

    def _check_starting(self) -> None:
        """Record actors that became ready; stop on one that failed to build its worker, or that cannot
        be placed."""
        for w, (ref, deadline) in list(self.starting.items()):
            ready, _ = ray.wait([ref], timeout=0)
            if ready:
                try:
                    info: ActorInfo = ray.get(ref)
                except LOST as exc:
                    self._on_death(w, exc)
                    continue
                if info.failure is not None:
                    raise WorkerError(f"worker {w} (node {info.node}, {info.address}) raised:\n{info.failure}")
                self.placed[w] = info
                del self.starting[w]
                self.predecessor.pop(w, None)
                continue
            self._check_room_after_node_loss(w)
            if time.monotonic() > deadline:
                raise WorkerError(
                    f"worker {w} was not placed and started in time (the cluster has {ray_connect.cluster_cpus():g} "
                    f"CPUs, --ray-cpus-per-worker {self.cfg.ray.cpus_per_worker:g}); see `ray status`"
                )

    def _check_room_after_node_loss(self, w: int) -> None:
        """WorkerError naming the node when worker ``w``'s replacement waits for room that the cluster no
        longer has: its predecessor's node is gone and the other nodes lack the CPUs. (Ray declares a
        node that crashed outright dead only after its health checks fail, so this may take a while.)"""
        lost = self.predecessor.get(w)
        if lost is None or ray_connect.node_alive(lost.node):
            return
        need = self.layout.num_workers * self.cfg.ray.cpus_per_worker
        have = ray_connect.cluster_cpus()
        if have < need:
            raise WorkerError(
                f"node {lost.node} ({lost.address}) left the Ray cluster with worker {w}, and the remaining "
                f"nodes have {have:g} CPUs for the {need:g} that --num-workers {self.layout.num_workers} x "
                f"--ray-cpus-per-worker {self.cfg.ray.cpus_per_worker:g} reserve; add a node or lower "
                "--num-workers, then rerun the same command to resume"
            )

    # ----- slots and reports -----

    def grant(self, slot: int) -> None:
        w = self.layout.owner(slot)
        self.held[w].add(slot)
        self._submit(w, slot)

    def _submit(self, w: int, slot: int) -> None:
        ref = self.actors[w].collect.remote(slot, tuple(self.latest.values()))
        self.pending[ref] = Flight(w, self.generation[w], slot)

    def receive(self, timeout: float) -> RolloutReport | None:
        """The next rollout report (its slot copied into the trainer's buffers), or None after
        ``timeout``; replaces dead actors on the way; WorkerError on a reported error."""
        if self.backlog:
            return self.backlog.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            if not self.pending:
                time.sleep(remaining)
                self.check_health()
                return self.backlog.pop(0) if self.backlog else None
            ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=remaining)
            if not ready:
                self.check_health()
                return self.backlog.pop(0) if self.backlog else None
            report = self._accept(ready[0])
            if report is not None:
                return report
            if self.backlog:
                return self.backlog.pop(0)
            if time.monotonic() >= deadline:
                return None

    def _accept(self, ref: Any) -> RolloutReport | None:
        flight = self.pending.pop(ref)
        try:
            result: CollectResult = ray.get(ref)
        except LOST as exc:
            if flight.generation == self.generation[flight.worker]:
                self._on_death(flight.worker, exc)
            return None
        return self._take(flight, result)

    def _take(self, flight: Flight, result: CollectResult) -> RolloutReport:
        w = flight.worker
        if result.failure is not None or result.report is None or result.slot is None:
            info = self.placed[w]
            where = f" (node {info.node}, {info.address})" if info else ""
            raise WorkerError(f"worker {w}{where} raised:\n{result.failure}")
        self.buffers.write_slot(flight.slot, result.slot)
        self.held[w].discard(flight.slot)
        self.traffic.add_rollout(w, flight.generation, result)
        return result.report

    # ----- faults -----

    def check_health(self) -> None:
        """Starting actors: ready, failed, or unplaceable. (A dead actor is noticed by its rollouts.)"""
        if self.starting:
            self._check_starting()

    def _on_death(self, w: int, exc: BaseException) -> None:
        """Keep worker ``w``'s complete rollouts, drop the rest, and replace it (WorkerError past the
        restart budget)."""
        self._drain(w)
        info = self.placed[w] or self.predecessor.get(w)
        node_left = info is not None and not ray_connect.node_alive(info.node)
        where = f"pid {info.pid} on node {info.node} ({info.address})" if info else "not started yet"
        cause = "its node left the Ray cluster" if node_left else " ".join(str(exc).split())[:300]
        self.budget.spend(f"worker {w} ({where}) died: {cause}")
        log.error(
            "worker %d (%s) died: %s; restarting it with fresh envs (restart %d of %d)",
            w,
            where,
            cause,
            self.budget.used,
            self.budget.limit,
        )
        try:
            ray.kill(self.actors[w], no_restart=True)
        except Exception:  # noqa: BLE001 - it is gone already
            pass
        if info is not None:
            self.predecessor[w] = info
        self.generation[w] += 1
        self._spawn(w, PLACEMENT_TIMEOUT_SECONDS)
        for slot in sorted(self.held[w]):
            self._submit(w, slot)
        self._check_room_after_node_loss(w)

    def _drain(self, w: int) -> None:
        """Rollouts worker ``w`` completed before it died are good data: into the backlog. Its other
        rollouts are dropped (their slots stay held, for the replacement)."""
        for ref, flight in list(self.pending.items()):
            if flight.worker != w:
                continue
            del self.pending[ref]
            if not ray.wait([ref], timeout=0)[0]:
                continue
            try:
                result: CollectResult = ray.get(ref)
            except LOST:
                continue
            self.backlog.append(self._take(flight, result))

    # ----- stop -----

    def stop(self) -> None:
        """Close every actor's envs (up to ``STOP_TIMEOUT_SECONDS``), then kill the run's actors and
        disconnect if this source connected."""
        self.stopped = True
        try:
            # Rollouts not started yet are dropped, so each actor's close() runs right after the
            # rollout in progress (an actor runs one call at a time, in order).
            for ref in self.pending:
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - finished or its actor is gone: nothing to cancel
                    pass
            live = [a for a in self.actors if a is not None]
            closing = [a.close.remote() for a in live]
            if closing:
                ray.wait(closing, num_returns=len(closing), timeout=STOP_TIMEOUT_SECONDS)
            for actor in [*live, getattr(self, "hub", None)]:
                if actor is not None:
                    try:
                        ray.kill(actor, no_restart=True)
                    except Exception:  # noqa: BLE001 - already dead
                        pass
            if self.group is not None:
                from ray.util.placement_group import remove_placement_group

                remove_placement_group(self.group)
            self.pending.clear()
            self.traffic.log_summary(self.num_policies)
        finally:
            self._disconnect()

    def _disconnect(self) -> None:
        if self.connected_here and ray.is_initialized():
            ray.shutdown()
