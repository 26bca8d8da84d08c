"""What crosses the object store between the trainer and its Ray actors, counted as it happens.

Per rollout: the slot's arrays and the pickled report (actor -> trainer). Per publication (of any
weights channel: a policy, a self-play snapshot slot): the weights, put once (trainer -> object store);
each actor reads a publication at most once, and only the ones it starts a rollout with, so the
actors' own counts say how many bytes of weights were read, and how many publications per channel.
Training info, the pool table and step counts: the hub's replies (counted by the actors as pickled
blobs received, and as a number of exchanges). ``RaySource.stop`` logs the totals and per-rollout figures.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

import numpy as np

from relayrl.utils.obs_tree import map_obs
from relayrl.worker.ray_actor import CollectResult

log = logging.getLogger("relayrl.workers")


def _nbytes(arrays: dict[str, Any]) -> int:
    total = 0

    def add(a: np.ndarray) -> None:
        nonlocal total
        total += a.nbytes

    for value in arrays.values():
        map_obs(value, add)
    return total


class Traffic:
    """Byte counts of one run's object-store traffic (see the module docstring)."""

    def __init__(self) -> None:
        self.rollouts = 0
        self.trajectory_bytes = 0
        self.report_bytes = 0
        self.publications = 0
        self.published_bytes = 0
        self.actors: dict[tuple[int, int], tuple[int, int, int]] = {}
        """Per (worker, generation): its cumulative (weights read, info received, exchanges)."""
        self.reads: dict[tuple[int, int], dict[int, int]] = {}
        """Per (worker, generation): its cumulative publications read, per weights channel."""

    def add_rollout(self, worker: int, generation: int, result: CollectResult) -> None:
        assert result.slot is not None
        self.rollouts += 1
        self.trajectory_bytes += _nbytes(result.slot)
        self.report_bytes += len(pickle.dumps(result.report, protocol=pickle.HIGHEST_PROTOCOL))
        self.actors[(worker, generation)] = (result.weights_bytes, result.info_bytes, result.exchanges)
        self.reads[(worker, generation)] = result.weights_reads

    def add_publication(self, nbytes: int) -> None:
        self.publications += 1
        self.published_bytes += nbytes

    def reads_by_channel(self) -> dict[int, int]:
        """Publications read from the object store by all actors, per weights channel."""
        out: dict[int, int] = {}
        for reads in self.reads.values():
            for channel, n in reads.items():
                out[channel] = out.get(channel, 0) + n
        return dict(sorted(out.items()))

    def summary(self) -> dict[str, float]:
        """Totals, and per rollout where it applies (bytes)."""
        weights_read = sum(a[0] for a in self.actors.values())
        info = sum(a[1] for a in self.actors.values())
        exchanges = sum(a[2] for a in self.actors.values())
        per = max(self.rollouts, 1)
        return {
            "rollouts": self.rollouts,
            "trajectory_bytes": self.trajectory_bytes,
            "report_bytes": self.report_bytes,
            "trajectory_bytes_per_rollout": self.trajectory_bytes / per,
            "report_bytes_per_rollout": self.report_bytes / per,
            "publications": self.publications,
            "published_bytes": self.published_bytes,
            "weights_read_bytes": weights_read,
            "info_bytes": info,
            "hub_exchanges": exchanges,
        }

    def log_summary(self, num_policies: int) -> None:
        """Log the summary; ``num_policies`` names the channels (policies, then snapshot slots)."""
        s = self.summary()
        reads = ", ".join(
            (f"policy {c}" if c < num_policies else f"snapshot {c - num_policies}") + f": {n}"
            for c, n in self.reads_by_channel().items()
        )
        log.info(
            "object store traffic: %d rollouts, %.1f KB of trajectories + %.1f KB of report each; "
            "%d weight publications of %.1f KB put, %.1f MB read by the actors; %.1f KB of training info "
            "in %d hub exchanges; publications read by the actors per channel: %s",
            s["rollouts"],
            s["trajectory_bytes_per_rollout"] / 1e3,
            s["report_bytes_per_rollout"] / 1e3,
            s["publications"],
            s["published_bytes"] / max(s["publications"], 1) / 1e3,
            s["weights_read_bytes"] / 1e6,
            s["info_bytes"] / 1e3,
            s["hub_exchanges"],
            reads or "none",
            extra={"traffic": s},
        )
