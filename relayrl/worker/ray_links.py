"""A Ray actor's stand-ins for shared memory: step counters, blob readers and weights readers.

``RolloutWorker`` only needs small interfaces from its ``WorkerContext``: ``counters`` (``add(worker,
env_steps, policy_steps)``, ``total()``, ``policy_totals()``), the blob readers ``info_blob`` and
``pool_table`` (``version()``, ``read()``), and one weights reader per controller in ``weights`` and
``snapshot_weights`` (``load_into(model, held)``). On one machine they are shared memory. In a Ray
actor they are the classes here, over one ``HubLink`` to the trainer's ``ProgressHub``
(``shared/ray_hub.py``): one ``LinkedWeights`` per weights channel, one ``LinkedInfo`` per blob.

- ``add`` only counts locally; at most every ``period`` seconds the link sends the steps taken since
  its last call to the hub *without waiting*, and takes the reply (the totals of all workers, and the
  blobs and weights that changed) when it has arrived, a few milliseconds later. So an env step never
  waits for the network.
- ``total()`` (and each entry of ``policy_totals()``) is the hub's last total plus this worker's steps
  since the call that total answered: live for this worker's own steps, and at most one exchange period
  (plus a round trip) behind for the others'. It never decreases: the hub's totals only grow, and this
  worker's own steps are counted once, either in the hub's total or in the local part.
- ``load_into`` reads the newest publication of its channel the actor knows of (from a grant or from
  the hub) out of the object store, only when it is not the one the model holds.

All of it runs in the actor's one thread: the reply is a ``concurrent.futures.Future`` that this
thread only polls (``done()``), never waits on, except once at start (``sync``).
"""

from __future__ import annotations

import pickle
import time
from concurrent.futures import Future
from typing import Any

import numpy as np
import ray
import torch

from relayrl.shared.ray_hub import HubReply, PublishedWeights

MIN_EXCHANGE_SECONDS = 0.02
"""Shortest time between two exchanges of one actor with the hub."""
HUB_CALLS_PER_SECOND = 2000.0
"""Exchanges per second the hub is asked for at most, all actors together: with many actors each one
exchanges less often (``exchange_period``)."""


def exchange_period(num_workers: int) -> float:
    """Seconds between one actor's exchanges: ``MIN_EXCHANGE_SECONDS``, longer with more than 40 actors
    so the hub serves at most ``HUB_CALLS_PER_SECOND`` calls (e.g. 0.25 s with 500 actors)."""
    return max(MIN_EXCHANGE_SECONDS, num_workers / HUB_CALLS_PER_SECOND)


def _padded(a: np.ndarray, n: int) -> np.ndarray:
    return a if len(a) >= n else np.concatenate([a, np.zeros(n - len(a), dtype=np.int64)])


class HubLink:
    """One actor's connection to the hub: its step counts out; the totals, blobs and weights back."""

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
        self.own_policy = np.zeros(1, dtype=np.int64)
        """Agent steps this actor took, per policy (and likewise below, per policy)."""
        self.sent_policy = np.zeros(1, dtype=np.int64)
        self.hub_policy = np.zeros(1, dtype=np.int64)
        self.sent_policy_at_reply = np.zeros(1, dtype=np.int64)
        self.blobs: dict[str, tuple[int, Any]] = {}
        self.weights: dict[int, PublishedWeights] = {}
        """The newest publication known, per channel."""
        self.in_flight: Future[HubReply] | None = None
        self.in_flight_sent = 0
        self.in_flight_sent_policy = self.sent_policy
        self.next_exchange = 0.0
        self.exchanges = 0
        self.info_bytes = 0
        """Pickled size of the blobs received (what crossed the network for them)."""
        self.fetched_bytes = 0
        """Bytes of weights read from the object store (each publication at most once per actor)."""
        self.fetched: dict[int, int] = {}
        """Publications read from the object store, per channel."""

    def __getstate__(self) -> dict[str, Any]:
        # Built by the trainer and sent to the actor before its first exchange.
        assert self.in_flight is None, "a HubLink is sent to its actor before it is used"
        return self.__dict__.copy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # Ray hands numpy arrays over read-only (views of the object store): the counts need their own.
        for name, value in state.items():
            if isinstance(value, np.ndarray):
                setattr(self, name, value.copy())

    # ----- exchanges -----

    def _send(self) -> Any:
        steps = self.own - self.sent
        policy_steps = self.own_policy - _padded(self.sent_policy, len(self.own_policy))
        self.sent = self.own
        self.sent_policy = self.own_policy.copy()
        self.in_flight_sent = self.sent
        self.in_flight_sent_policy = self.sent_policy
        self.exchanges += 1
        versions = {name: blob[0] for name, blob in self.blobs.items()}
        serials = {c: w.serial for c, w in self.weights.items()}
        return self.hub.exchange.remote(steps, policy_steps.tolist(), versions, serials)

    def _absorb(self, reply: HubReply) -> None:
        self.hub_total = reply.total
        self.sent_at_reply = self.in_flight_sent
        self.hub_policy = np.asarray(reply.policy_totals, dtype=np.int64)
        self.sent_policy_at_reply = self.in_flight_sent_policy
        for name, blob in reply.blobs.items():
            if blob[0] > self.blobs.get(name, (0, None))[0]:
                self.blobs[name] = blob
                self.info_bytes += len(pickle.dumps(blob[1], protocol=pickle.HIGHEST_PROTOCOL))
        for weights in reply.weights:
            self.offer(weights)

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

    def add_steps(self, env_steps: int, policy_steps: np.ndarray | None) -> None:
        self.own += env_steps
        if policy_steps is None:
            self.own_policy[0] += env_steps
        else:
            if len(policy_steps) > len(self.own_policy):
                self.own_policy = _padded(self.own_policy, len(policy_steps))
            self.own_policy[: len(policy_steps)] += policy_steps
        self.poll()

    def total(self) -> int:
        """Live estimate of the env steps of all workers (see the module docstring)."""
        self.poll()
        return self.hub_total + self.own - self.sent_at_reply

    def policy_totals(self) -> list[int]:
        """Live estimate of each policy's agent steps over all workers (see the module docstring)."""
        self.poll()
        n = max(len(self.hub_policy), len(self.own_policy))
        live = _padded(self.hub_policy, n) + _padded(self.own_policy, n) - _padded(self.sent_policy_at_reply, n)
        return [int(x) for x in live]

    def offer(self, weights: PublishedWeights) -> None:
        """A publication learnt of (with a grant, or from the hub); the newest one per channel is kept."""
        held = self.weights.get(weights.channel)
        if held is None or weights.serial > held.serial:
            self.weights[weights.channel] = weights


class LinkedCounters:
    """``StepCounters``' interface over a ``HubLink`` (the worker index is the link's own)."""

    def __init__(self, link: HubLink) -> None:
        self.link = link

    def add(self, worker: int, env_steps: int, policy_steps: np.ndarray | None = None) -> None:
        self.link.add_steps(env_steps, policy_steps)

    def total(self) -> int:
        return self.link.total()

    def policy_totals(self) -> list[int]:
        return self.link.policy_totals()


class LinkedInfo:
    """``SharedBlob``'s reading interface over a ``HubLink``, for blob ``name`` (``ray_hub.INFO``, ...)."""

    def __init__(self, link: HubLink, name: str) -> None:
        self.link = link
        self.name = name

    def version(self) -> int:
        """Version of the latest value received (0: none yet)."""
        self.link.poll()
        return self.link.blobs.get(self.name, (0, None))[0]

    def read(self) -> tuple[int, Any]:
        return self.link.blobs.get(self.name, (0, None))


class LinkedWeights:
    """``SharedWeights``' reading interface over a ``HubLink``, for one weights channel: the weights
    come out of the object store."""

    def __init__(self, link: HubLink, channel: int) -> None:
        self.link = link
        self.channel = channel

    def load_into(self, model: torch.nn.Module, held: tuple[int, int]) -> tuple[int, int]:
        """Load the newest publication of this channel known into ``model`` unless ``held`` (its
        ``(serial, version)``) is that one; return what ``model`` holds now."""
        latest = self.link.weights.get(self.channel)
        if latest is None or latest.serial == held[0]:
            return held
        arrays = ray.get(latest.ref)
        # torch.tensor copies: the arrays are read-only views of the object store.
        model.load_state_dict({name: torch.tensor(value) for name, value in arrays.items()})
        self.link.fetched_bytes += latest.nbytes
        self.link.fetched[self.channel] = self.link.fetched.get(self.channel, 0) + 1
        return latest.serial, latest.version
