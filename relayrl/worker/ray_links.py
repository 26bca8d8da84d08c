"""A Ray actor's stand-ins for shared memory: step counters, training-info blob and published weights.

``RolloutWorker`` only needs three small interfaces from its ``WorkerContext``: ``counters``
(``add(worker, n, policy_steps)``, ``total()``, ``policy_totals()``), ``info_blob`` (``version()``,
``read()``) and ``weights`` (``load_into(model, held)``). On one machine they are shared memory. In a Ray actor they are the
three classes here, over one ``HubLink`` to the trainer's ``ProgressHub`` (``shared/ray_hub.py``):

- ``add`` only counts locally; at most every ``period`` seconds the link sends the steps taken since
  its last call to the hub *without waiting*, and takes the reply (the total of all workers, and the
  training info and weights if they changed) when it has arrived, a few milliseconds later. So an
  env step never waits for the network.
- ``total()`` is the hub's last total plus this worker's steps since the call that total answered:
  live for this worker's own steps, and at most one exchange period (plus a round trip) behind for the
  others'. It never decreases: the hub's total only grows, and this worker's own steps are counted
  once, either in the hub's total or in the local part. ``policy_totals()`` is the same per policy.
- ``load_into`` reads the newest publication the actor knows of (from a grant or from the hub) out
  of the object store, only when it is not the one the model holds.

All of it runs in the actor's one thread: the reply is a ``concurrent.futures.Future`` that this
thread only polls (``done()``), never waits on, except once at start (``sync``).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np
import ray
import torch

from relayrl.shared.ray_hub import HubReply, PublishedWeights, add_counts

MIN_EXCHANGE_SECONDS = 0.02
"""Shortest time between two exchanges of one actor with the hub."""
HUB_CALLS_PER_SECOND = 2000.0
"""Exchanges per second the hub is asked for at most, all actors together: with many actors each one
exchanges less often (``exchange_period``)."""


def exchange_period(num_workers: int) -> float:
    """Seconds between one actor's exchanges: ``MIN_EXCHANGE_SECONDS``, longer with more than 40 actors
    so the hub serves at most ``HUB_CALLS_PER_SECOND`` calls (e.g. 0.25 s with 500 actors)."""
    return max(MIN_EXCHANGE_SECONDS, num_workers / HUB_CALLS_PER_SECOND)


class HubLink:
    """One actor's connection to the hub: its step count out, the total, info and weights back."""

    def __init__(self, hub: Any, period: float) -> None:
        self.hub = hub
        self.period = period
        self.own = 0
        """Env steps this actor took."""
        self.sent = 0
        """Of those, steps already sent to the hub."""
        self.hub_total = 0
        self.sent_at_reply = 0
        """``sent`` as of the call that ``hub_total`` answered (those steps are in it)."""
        self.own_policy: list[int] = []
        """The same four per policy (agent steps, index = policy id)."""
        self.sent_policy: list[int] = []
        self.hub_policy_totals: list[int] = []
        self.sent_policy_at_reply: list[int] = []
        self.in_flight_sent_policy: list[int] = []
        self.info: tuple[int, Any] = (0, None)
        self.weights: PublishedWeights | None = None
        self.in_flight: Future[HubReply] | None = None
        self.in_flight_sent = 0
        self.next_exchange = 0.0
        self.exchanges = 0
        self.info_bytes = 0
        """Pickled size of the training info received (what crossed the network for it)."""

    def __getstate__(self) -> dict[str, Any]:
        # Built by the trainer and sent to the actor before its first exchange.
        assert self.in_flight is None, "a HubLink is sent to its actor before it is used"
        return self.__dict__.copy()

    # ----- exchanges -----

    def _send(self) -> Any:
        steps = self.own - self.sent
        self.sent = self.own
        self.in_flight_sent = self.sent
        policy_steps = add_counts(self.own_policy, self.sent_policy, -1)
        self.sent_policy = self.in_flight_sent_policy = list(self.own_policy)
        self.exchanges += 1
        serial = self.weights.serial if self.weights is not None else -1
        return self.hub.exchange.remote(steps, self.info[0], serial, policy_steps)

    def _absorb(self, reply: HubReply) -> None:
        self.hub_total = reply.total
        self.sent_at_reply = self.in_flight_sent
        self.hub_policy_totals = list(reply.policy_totals)
        self.sent_policy_at_reply = self.in_flight_sent_policy
        if reply.info is not None and reply.info[0] > self.info[0]:
            self.info = reply.info
            self.info_bytes += len(pickle.dumps(reply.info[1], protocol=pickle.HIGHEST_PROTOCOL))
        if reply.weights is not None:
            self.offer(reply.weights)

    def sync(self, timeout: float) -> None:
        """One exchange, waited for (an actor's start: its envs' first episodes need training info
        and the step count before they begin)."""
        self._absorb(ray.get(self._send(), timeout=timeout))
        self.next_exchange = time.monotonic() + self.period

    def poll(self) -> None:
        """Take an exchange's reply if it has arrived; start the next exchange when one is due. Never
        waits."""
        if self.in_flight is not None:
            if not self.in_flight.done():
                return
            future, self.in_flight = self.in_flight, None
            self._absorb(future.result())  # a dead hub raises here: the actor reports the failure
        now = time.monotonic()
        if now >= self.next_exchange:
            self.next_exchange = now + self.period
            self.in_flight = self._send().future()

    # ----- what the worker reads -----

    def add_steps(self, steps: int, policy_steps: Sequence[int]) -> None:
        self.own += steps
        self.own_policy = add_counts(self.own_policy, policy_steps)
        self.poll()

    def total(self) -> int:
        """Live estimate of the env steps of all workers (see the module docstring)."""
        self.poll()
        return self.hub_total + self.own - self.sent_at_reply

    def policy_totals(self) -> list[int]:
        """Live estimate of each policy's agent steps over all workers (as ``total``)."""
        self.poll()
        return add_counts(self.hub_policy_totals, add_counts(self.own_policy, self.sent_policy_at_reply, -1))

    def offer(self, weights: PublishedWeights) -> None:
        """A publication learnt of (with a grant, or from the hub); the newest one is kept."""
        if self.weights is None or weights.serial > self.weights.serial:
            self.weights = weights


class LinkedCounters:
    """``StepCounters``' interface over a ``HubLink`` (the worker index is the link's own)."""

    def __init__(self, link: HubLink) -> None:
        self.link = link

    def add(self, worker: int, env_steps: int, policy_steps: np.ndarray | None = None) -> None:
        """As ``StepCounters.add`` (None: one policy and one agent per env, so policy 0 took every env step)."""
        self.link.add_steps(env_steps, (env_steps,) if policy_steps is None else policy_steps.tolist())

    def total(self) -> int:
        return self.link.total()

    def policy_totals(self) -> list[int]:
        return self.link.policy_totals()


class LinkedInfo:
    """``SharedBlob``'s reading interface over a ``HubLink``."""

    def __init__(self, link: HubLink) -> None:
        self.link = link

    def version(self) -> int:
        """Version of the latest trainer part received (0: none yet)."""
        self.link.poll()
        return self.link.info[0]

    def read(self) -> tuple[int, Any]:
        return self.link.info


class LinkedWeights:
    """``SharedWeights``' reading interface over a ``HubLink``: weights come out of the object store."""

    def __init__(self, link: HubLink) -> None:
        self.link = link
        self.fetched_bytes = 0
        """Bytes of weights read from the object store (each publication at most once per actor)."""

    def load_into(self, model: torch.nn.Module, held: tuple[int, int]) -> tuple[int, int]:
        """Load the newest publication known into ``model`` unless ``held`` (its ``(serial, version)``) is
        that one; return what ``model`` holds now."""
        latest = self.link.weights
        if latest is None or latest.serial == held[0]:
            return held
        arrays = ray.get(latest.ref)
        # torch.tensor copies: the arrays are read-only views of the object store.
        model.load_state_dict({name: torch.tensor(value) for name, value in arrays.items()})
        self.fetched_bytes += latest.nbytes
        return latest.serial, latest.version
