"""``ProgressHub``: what the trainer and Ray rollout actors share when they share no memory.

On one machine, workers read the published weights, the training-info blob, the self-play pool table
and each other's step counters straight from shared memory (``shared/weights.py``,
``shared/progress.py``). Across machines one small Ray actor, placed on the trainer's node, holds the
same facts:

- per *weights channel*, the latest publication as a ``PublishedWeights`` (an object-store reference:
  the trainer ``ray.put``s each publication once, and every actor reads that one object). The channels
  are the controller ids of ``worker/policies.py``: policies ``0 .. P-1``, then self-play snapshot
  slots ``P + j``;
- per *blob* (``INFO``: the trainer part of training info; ``POOL_TABLE``: the self-play pool table),
  the latest value with its version;
- the env steps of all workers together and the agent steps of each policy, plus the counts the run
  resumed from.

Each actor calls ``exchange`` now and then (``worker/ray_links.py``): it adds the steps it took since
its last call and sends the versions and serials it holds; it gets back the totals, and only the blobs
and weights that changed. The hub is called by one actor at a time (a plain actor), and every call is
a few dict operations, so it never holds anyone up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

INFO = "info"
"""Blob name of the trainer part of training info (``WorkerContext.info_blob``)."""
POOL_TABLE = "pool_table"
"""Blob name of the self-play pool table (``WorkerContext.pool_table``)."""


@dataclasses.dataclass(frozen=True)
class PublishedWeights:
    """One publication of one weights channel in the object store."""

    channel: int
    """Controller id: policy ``k`` (``0 .. P-1``), or self-play snapshot slot ``j`` as ``P + j``."""
    serial: int
    """The publication's serial (``SharedWeights``): it changes with every publication of the channel."""
    version: int
    """The policy version the weights are labelled with."""
    ref: Any
    """``ray.ObjectRef`` of ``{name: numpy array}`` (kept inside this object so Ray passes it along as
    a reference, not as the weights)."""
    nbytes: int
    """Size of the arrays (what a node fetches once to use them)."""


@dataclasses.dataclass(frozen=True)
class HubReply:
    """What an actor gets back from ``ProgressHub.exchange``."""

    total: int
    """Env steps of all workers the hub knows of (the caller's included), plus the resume base."""
    policy_totals: tuple[int, ...]
    """Agent steps of each policy, likewise."""
    blobs: dict[str, tuple[int, Any]]
    """``{name: (version, value)}`` of the blobs newer than the versions the caller holds."""
    weights: tuple[PublishedWeights, ...]
    """The latest publication of each channel whose serial differs from the one the caller holds."""


def add_padded(into: list[int], steps: Sequence[int]) -> None:
    """``into[k] += steps[k]``, growing ``into`` with zeros where ``steps`` is longer."""
    if len(steps) > len(into):
        into.extend([0] * (len(steps) - len(into)))
    for k, n in enumerate(steps):
        into[k] += int(n)


class ProgressHub:
    """The Ray actor (``ray.remote(ProgressHub)``) behind ``HubReply``; see the module docstring."""

    def __init__(self, base_steps: int, policy_base: Sequence[int] = (0,)) -> None:
        self.sum = base_steps
        """Env steps added by every worker (dead ones included), plus the resume base."""
        self.policy_sums = [int(n) for n in policy_base]
        """Agent steps of each policy, likewise."""
        self.blobs: dict[str, tuple[int, Any]] = {}
        self.weights: dict[int, PublishedWeights] = {}

    def publish_blob(self, name: str, version: int, value: Any) -> None:
        """Blob ``name`` at version ``version`` (an older version is ignored)."""
        if version > self.blobs.get(name, (0, None))[0]:
            self.blobs[name] = (version, value)

    def publish_weights(self, weights: PublishedWeights) -> None:
        """The latest publication of ``weights.channel`` (an older serial is ignored)."""
        held = self.weights.get(weights.channel)
        if held is None or weights.serial > held.serial:
            self.weights[weights.channel] = weights

    def exchange(
        self,
        steps: int,
        policy_steps: Sequence[int] | None,
        blob_versions: Mapping[str, int],
        weights_serials: Mapping[int, int],
    ) -> HubReply:
        """Add the caller's ``steps`` (and ``policy_steps[k]`` of policy ``k``; None: all policy 0's) since
        its last call; reply with the totals and whatever the caller lacks (it holds the blob versions
        ``blob_versions`` and the serials ``weights_serials`` by channel; a missing entry: none)."""
        self.sum += steps
        add_padded(self.policy_sums, [steps] if policy_steps is None else policy_steps)
        blobs = {name: blob for name, blob in self.blobs.items() if blob[0] > blob_versions.get(name, 0)}
        weights = tuple(w for c, w in self.weights.items() if w.serial != weights_serials.get(c, -1))
        return HubReply(self.sum, tuple(self.policy_sums), blobs, weights)

    def total(self) -> int:
        """Env steps of all workers so far, plus the resume base."""
        return self.sum

    def policy_totals(self) -> list[int]:
        """Agent steps of each policy so far, plus each policy's resume base."""
        return list(self.policy_sums)
