"""``ProgressHub``: what the trainer and Ray rollout actors share when they share no memory.

On one machine, workers read the published weights, the training-info blob and each other's step
counters straight from shared memory (``shared/weights.py``, ``shared/progress.py``). Across machines
one small Ray actor, placed on the trainer's node, holds the same three facts:

- the latest published weights as a ``PublishedWeights`` (an object-store reference: the trainer
  ``ray.put``s each publication once, and every actor reads that one object);
- the trainer part of training info, with its version;
- the env steps of all workers together, and each policy's agent steps, plus the counts the run
  resumed from.

Each actor calls ``exchange`` now and then (``worker/ray_links.py``): it adds the steps it took since
its last call (and each policy's agent steps) and gets back the totals, and the info and the weights only when they changed since the
versions it holds. The hub is called by one actor at a time (a plain actor), and every call is a few
dict operations, so it never holds anyone up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any


def add_counts(a: Sequence[int], b: Sequence[int], sign: int = 1) -> list[int]:
    """``a + sign * b`` element by element, the shorter one padded with zeros (per-policy counts)."""
    n = max(len(a), len(b))
    return [(a[k] if k < len(a) else 0) + sign * (int(b[k]) if k < len(b) else 0) for k in range(n)]


@dataclasses.dataclass(frozen=True)
class PublishedWeights:
    """One publication of the learner's weights in the object store."""

    serial: int
    """The publication's serial (``SharedWeights``): it changes with every publication."""
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
    info: tuple[int, Any] | None
    """``(version, trainer part)`` when newer than the version the caller holds, else None."""
    weights: PublishedWeights | None
    """The latest publication when newer than the serial the caller holds, else None."""
    policy_totals: tuple[int, ...] = ()
    """Agent steps of each policy (index = policy id) the hub knows of, plus each one's resume base."""


class ProgressHub:
    """The Ray actor (``ray.remote(ProgressHub)``) behind ``HubReply``; see the module docstring."""

    def __init__(self, base_steps: int, policy_base: Sequence[int] = ()) -> None:
        self.sum = base_steps
        """Env steps added by every worker (dead ones included), plus the resume base."""
        self.policy_sums = [int(x) for x in policy_base]
        """The same per policy (agent steps)."""
        self.info: tuple[int, Any] = (0, None)
        self.weights: PublishedWeights | None = None

    def publish_info(self, version: int, value: Any) -> None:
        """The trainer part of training info, version ``version`` (older versions are ignored)."""
        if version > self.info[0]:
            self.info = (version, value)

    def publish_weights(self, weights: PublishedWeights) -> None:
        """The latest weights (an older serial is ignored)."""
        if self.weights is None or weights.serial > self.weights.serial:
            self.weights = weights

    def exchange(
        self, steps: int, info_version: int, weights_serial: int, policy_steps: Sequence[int] = ()
    ) -> HubReply:
        """Add the caller's ``steps`` (and ``policy_steps[k]`` agent steps of policy k) since its last
        call; reply with the totals and whatever the caller lacks (it holds info ``info_version`` and
        weights ``weights_serial``)."""
        self.sum += steps
        self.policy_sums = add_counts(self.policy_sums, policy_steps)
        info = self.info if self.info[0] > info_version else None
        weights = self.weights if self.weights is not None and self.weights.serial != weights_serial else None
        return HubReply(self.sum, info, weights, tuple(self.policy_sums))

    def total(self) -> int:
        """Env steps of all workers so far, plus the resume base."""
        return self.sum
