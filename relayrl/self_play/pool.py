"""Self-play snapshot pool (trainer side): frozen past versions of the learning policy, as a training
extension (relayrl/trainer/extensions.py) built when ``--self-play`` is on.

Every ``--self-play-every`` policy versions the learner's weights are copied into the pool (up to
``--self-play-pool-size`` slots; when full, the oldest snapshot's slot is reused). Each slot's weights
live in their own ``SharedWeights`` (workers load them between rollouts, like a policy's); a small table
``{slot: {"version", "weight"}}`` in a ``SharedBlob`` tells the workers which slots are filled and how
likely each is drawn as an episode's opponent (``worker/mapping.py``). Snapshots never train: their
steps carry controller id ``num_policies + slot``, which no learner selects.

The learner's results against each slot (win = the ``--self-play-win-key`` episode stat, else return > 0)
are kept over its last ``RESULTS_WINDOW`` games; ``hardest`` sampling weighs a slot ``1.05 - win rate``.
Every game also updates the ratings of the learner (player ``policy_<k>``) and the snapshot
(``snapshot_<k>_<version>``) in the pool's ``LeagueTable`` (relayrl/league/table.py; a snapshot's rating
starts from the learner's when it is added), whatever the sampling; ``rating`` sampling weighs a slot
by the predicted chance that the learner beats it (relayrl/league/selection.py), ``latest`` plays only
the newest snapshot. The pool (weights, versions, results, ratings) is saved in checkpoints
(``state_dict``, under ``self_play``) and restored on resume (``start``; a checkpoint without ratings
starts them afresh). The learning policy is the run's one policy (``--self-play`` needs
``--num-policies 1``).
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

from relayrl.config import SelfPlayConfig
from relayrl.league.ratings import snapshot_id
from relayrl.league.table import build_table
from relayrl.shared.progress import SharedBlob
from relayrl.shared.weights import SharedWeights
from relayrl.trainer.extensions import ExtensionBase, ExtensionContext
from relayrl.trainer.policy_set import Policy
from relayrl.worker.report import EpisodeRecord, RolloutReport

log = logging.getLogger("relayrl.self_play")

RESULTS_WINDOW = 100
"""Games per slot that its win rate is computed over."""
HARDEST_FLOOR = 0.05
"""``hardest`` sampling: a slot the learner always beats keeps this weight."""
TABLE_SECONDS = 1.0
"""How often the sampling weights (from the latest results) are republished to the workers."""


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


def build(ctx: ExtensionContext) -> SnapshotPool:
    """The self-play extension of a run (``--self-play``)."""
    (learning,) = ctx.policies.all()  # validated: --self-play trains one policy
    return SnapshotPool(ctx.cfg.self_play, learning, len(ctx.policies), ctx.mp_context)


class SnapshotPool(ExtensionBase):
    """The pool of frozen snapshots of the learning policy (see the module docstring)."""

    name = "self_play"

    def __init__(self, cfg: SelfPlayConfig, learning: Policy, num_policies: int, ctx: Any) -> None:
        self.cfg = cfg
        self.learning = learning
        self.num_policies = num_policies
        self.size = cfg.pool_size
        template = learning.learner.model.state_dict()
        self.weights = tuple(SharedWeights(template, ctx) for _ in range(self.size))
        self.table = SharedBlob(ctx=ctx)
        self.versions: dict[int, int] = {}
        """Slot -> policy version of the snapshot in it."""
        self.results: dict[int, collections.deque[float]] = {}
        self.states: dict[int, dict[str, torch.Tensor]] = {}
        self.last_version: int | None = None
        self.last_table = time.monotonic()
        self.league = build_table(cfg.win_key)
        """The ratings of the learner and the snapshots (None: openskill is not installed)."""
        if self.league is not None:
            self.league.add_learner(learning.id)

    # ----- extension hooks -----

    def start(self, saved: Mapping[str, Any] | None) -> None:
        """Restore a saved pool; a pool that is still empty gets the learning policy's weights now."""
        if saved:
            self.load_state_dict(saved)
            log.info("resumed the self-play pool (%d snapshots)", len(self.versions))
        if not self.versions:
            self.add(self.learning.learner.model.state_dict(), self.learning.version)

    def on_rollout(self, report: RolloutReport) -> None:
        self.record(report.episodes)

    def after_update(self, updated: Sequence[int]) -> None:
        if self.learning.id in updated:
            version = self.learning.version
            if self.maybe_add(self.learning.learner.model.state_dict(), version):
                log.info("self-play: snapshot of policy version %d added to the pool", version)

    def housekeeping(self, env_steps: int) -> Sequence[int]:
        if time.monotonic() - self.last_table >= TABLE_SECONDS:
            self.publish_table()  # new sampling weights from the latest results
        return ()

    def frozen_weights(self) -> tuple[SharedWeights, ...]:
        return self.weights

    def frozen_table(self) -> SharedBlob | None:
        return self.table

    # ----- filling -----

    def maybe_add(self, state_dict: dict[str, torch.Tensor], version: int) -> bool:
        """Snapshot ``state_dict`` (policy ``version``) when the pool is empty or ``--self-play-every``
        versions have passed since the last snapshot; returns whether it did."""
        if self.last_version is not None and version - self.last_version < self.cfg.every:
            return False
        self.add(state_dict, version)
        return True

    def add(self, state_dict: dict[str, torch.Tensor], version: int) -> int:
        if len(self.versions) < self.size:
            slot = len(self.versions)
        else:
            slot = min(self.versions, key=lambda s: self.versions[s])  # the oldest
            if self.league is not None:
                self.league.retire(self.player(slot))
        self.states[slot] = {k: v.detach().to("cpu", copy=True) for k, v in state_dict.items()}
        self.versions[slot] = version
        self.results[slot] = collections.deque(maxlen=RESULTS_WINDOW)
        self.last_version = version
        if self.league is not None:
            self.league.add_snapshot(self.learning.id, self.player(slot))
        self.weights[slot].publish(self.states[slot], version)
        self.publish_table()
        return slot

    # ----- results -----

    def record(self, episodes: Iterable[EpisodeRecord]) -> None:
        """Count the learner's games against snapshots (its episodes whose opponent is a slot)."""
        for ep in episodes:
            if ep.policy_id != self.learning.id or ep.opponent is None or ep.opponent < self.num_policies:
                continue
            slot = ep.opponent - self.num_policies
            if slot in self.results:
                self.results[slot].append(is_win(ep, self.cfg.win_key))
                if self.league is not None:
                    self.league.game(self.learning.id, self.player(slot), ep)

    def player(self, slot: int) -> str:
        """The league player id of the snapshot in ``slot``."""
        return snapshot_id(self.learning.id, self.versions[slot])

    def win_rates(self) -> dict[int, float | None]:
        return {slot: (sum(r) / len(r) if r else None) for slot, r in self.results.items()}

    def opponent_weights(self) -> dict[int, float]:
        """Slot -> sampling weight by ``--self-play-opponents`` (see the module docstring)."""
        mode = self.cfg.opponents
        if mode == "latest" and self.versions:
            newest = max(self.versions, key=lambda s: self.versions[s])
            return {slot: float(slot == newest) for slot in self.versions}
        if mode == "rating" and self.league is not None:
            players = {slot: self.player(slot) for slot in self.versions}
            return self.league.weights(self.learning.id, players, self.cfg.rating_weight)
        return sampling_weights(self.win_rates(), "hardest" if mode == "hardest" else "uniform")

    def publish_table(self) -> None:
        self.last_table = time.monotonic()
        weights = self.opponent_weights()
        self.table.publish({slot: {"version": self.versions[slot], "weight": weights[slot]} for slot in self.versions})

    def scalars(self) -> dict[str, float]:
        """``self_play/...`` report values: pool size, win rate against the whole pool and per slot age;
        ``league/<player>/{mu,sigma,ordinal}`` of the learner and the snapshots in the pool."""
        out = {"self_play/pool_size": float(len(self.versions))}
        games = [x for r in self.results.values() for x in r]
        if games:
            out["self_play/win_rate_vs_pool"] = sum(games) / len(games)
        oldest_first = sorted(self.versions, key=lambda s: self.versions[s])
        for age, slot in enumerate(reversed(oldest_first)):
            rate = self.win_rates()[slot]
            if rate is not None:
                out[f"self_play/win_rate_vs_snapshot_{age}"] = rate  # 0: the newest snapshot
        if self.league is not None:
            out.update(self.league.scalars())
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
            **({"league": self.league.state_dict()} if self.league is not None else {}),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
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
        if self.league is not None:
            self.league.load_state_dict(state.get("league", {}))
            self.league.add_learner(self.learning.id)  # a checkpoint without ratings: rated afresh
            for slot in self.versions:
                self.league.add_snapshot(self.learning.id, self.player(slot))
        self.publish_table()
