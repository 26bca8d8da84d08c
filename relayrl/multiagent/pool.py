"""Self-play snapshot pool (trainer side): frozen past versions of the learning policy.

Every ``self_play_every`` policy versions the learner's weights are copied into the pool (up to
``self_play_pool_size`` slots; when full, the oldest snapshot's slot is reused). Each slot's weights
live in their own ``SharedWeights`` (workers load them between rollouts, like a policy's); a small table
``{slot: {"version", "weight"}}`` in a ``SharedBlob`` tells the workers which slots are filled and how
likely each is drawn as an episode's opponent (``multiagent/mapping.py``). Snapshots never train: their
steps carry controller id ``num_policies + slot``, which no learner selects.

The learner's results against each slot (win = the ``self_play_win_key`` episode stat, else return > 0)
are kept over its last ``RESULTS_WINDOW`` games; ``hardest`` sampling weighs a slot ``1.05 - win rate``.
The pool (weights, versions, results) is saved in checkpoints (``state_dict``) and restored on resume.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Any

import torch

from relayrl.config import MultiAgentConfig
from relayrl.shared.progress import SharedBlob
from relayrl.shared.weights import SharedWeights
from relayrl.worker.report import EpisodeRecord

RESULTS_WINDOW = 100
"""Games per slot that its win rate is computed over."""
HARDEST_FLOOR = 0.05
"""``hardest`` sampling: a slot the learner always beats keeps this weight."""


def sampling_weights(win_rates: dict[int, float | None], mode: str) -> dict[int, float]:
    """Slot -> weight. ``uniform``: 1 each; ``hardest``: ``1 + HARDEST_FLOOR - win rate`` (an unplayed slot: 1)."""
    if mode == "uniform":
        return dict.fromkeys(win_rates, 1.0)
    return {slot: 1.0 if rate is None else 1.0 + HARDEST_FLOOR - rate for slot, rate in win_rates.items()}


def is_win(episode: EpisodeRecord, key: str) -> float:
    value = episode.extra.get(key)
    if value is not None:
        return float(value >= 0.5)
    return float(episode.reward > 0)


class SnapshotPool:
    """The pool of frozen snapshots of policy 0 (see the module docstring)."""

    def __init__(self, cfg: MultiAgentConfig, template: dict[str, torch.Tensor], num_policies: int, ctx: Any) -> None:
        self.cfg = cfg
        self.num_policies = num_policies
        self.size = cfg.self_play_pool_size
        self.weights = tuple(SharedWeights(template, ctx) for _ in range(self.size))
        self.table = SharedBlob(ctx=ctx)
        self.versions: dict[int, int] = {}
        """Slot -> policy version of the snapshot in it."""
        self.results: dict[int, collections.deque[float]] = {}
        self.states: dict[int, dict[str, torch.Tensor]] = {}
        self.last_version: int | None = None

    # ----- filling -----

    def maybe_add(self, state_dict: dict[str, torch.Tensor], version: int) -> bool:
        """Snapshot ``state_dict`` (policy ``version``) when the pool is empty or ``self_play_every``
        versions have passed since the last snapshot; returns whether it did."""
        if self.last_version is not None and version - self.last_version < self.cfg.self_play_every:
            return False
        self.add(state_dict, version)
        return True

    def add(self, state_dict: dict[str, torch.Tensor], version: int) -> int:
        if len(self.versions) < self.size:
            slot = len(self.versions)
        else:
            slot = min(self.versions, key=lambda s: self.versions[s])  # the oldest
        self.states[slot] = {k: v.detach().to("cpu", copy=True) for k, v in state_dict.items()}
        self.versions[slot] = version
        self.results[slot] = collections.deque(maxlen=RESULTS_WINDOW)
        self.last_version = version
        self.weights[slot].publish(self.states[slot], version)
        self.publish_table()
        return slot

    # ----- results -----

    def record(self, episodes: Iterable[EpisodeRecord]) -> None:
        """Count the learner's games against snapshots (episodes of policy 0 whose opponent is a slot)."""
        for ep in episodes:
            if ep.policy_id != 0 or ep.opponent is None or ep.opponent < self.num_policies:
                continue
            slot = ep.opponent - self.num_policies
            if slot in self.results:
                self.results[slot].append(is_win(ep, self.cfg.self_play_win_key))

    def win_rates(self) -> dict[int, float | None]:
        return {slot: (sum(r) / len(r) if r else None) for slot, r in self.results.items()}

    def publish_table(self) -> None:
        weights = sampling_weights(self.win_rates(), self.cfg.self_play_opponents)
        self.table.publish({slot: {"version": self.versions[slot], "weight": weights[slot]} for slot in self.versions})

    def scalars(self) -> dict[str, float]:
        """``self_play/...`` report values: pool size, win rate against the whole pool and per slot age."""
        out = {"self_play/pool_size": float(len(self.versions))}
        games = [x for r in self.results.values() for x in r]
        if games:
            out["self_play/win_rate_vs_pool"] = sum(games) / len(games)
        oldest_first = sorted(self.versions, key=lambda s: self.versions[s])
        for age, slot in enumerate(reversed(oldest_first)):
            rate = self.win_rates()[slot]
            if rate is not None:
                out[f"self_play/win_rate_vs_snapshot_{age}"] = rate  # 0: the newest snapshot
        return out

    # ----- checkpoints -----

    def state_dict(self) -> dict[str, Any]:
        return {
            "slots": {
                slot: {
                    "version": self.versions[slot],
                    "weights": self.states[slot],
                    "results": list(self.results[slot]),
                }
                for slot in self.versions
            },
            "last_version": self.last_version,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for slot, entry in state.get("slots", {}).items():
            slot = int(slot)
            if slot >= self.size:
                continue
            self.states[slot] = dict(entry["weights"])
            self.versions[slot] = int(entry["version"])
            self.results[slot] = collections.deque((float(x) for x in entry["results"]), maxlen=RESULTS_WINDOW)
            self.weights[slot].publish(self.states[slot], self.versions[slot])
        last = state.get("last_version")
        self.last_version = None if last is None else int(last)
        self.publish_table()
