"""Self-play snapshot pool (trainer side): frozen past versions of the learning policies, as a training
extension (relayrl/trainer/extensions.py) built when ``--self-play`` is on.

Every policy of the run learns (``--num-policies N``, 1 by default): a league of N learners. Every
``--self-play-every`` versions of a learner its weights are copied into the pool: ``--self-play-pool-size``
slots per learner (learner k owns slots ``k * size .. (k + 1) * size - 1``; when they are full, its oldest
snapshot's slot is reused). Each slot's weights live in their own ``SharedWeights`` (workers load them
between rollouts, like a policy's). Snapshots never train: their steps carry controller id ``N + slot``,
which no learner selects.

Each episode (``worker/mapping.py``) one agent is a learner drawn uniformly and the others are its
opponent: a snapshot (of any learner) or another live learner (whose side of the game trains too),
drawn by the weights of that learner. A small table in a ``SharedBlob`` tells the workers the filled
slots and these weights: ``{"slots": {slot: {"version", "policy"}}, "weights": {k: {controller: w}}}``.

A learner's results against each opponent (win = the ``--self-play-win-key`` episode stat, else return
> 0) are kept over its last ``RESULTS_WINDOW`` games; ``hardest`` weighs an opponent ``1.05 - win rate``.
Every game also updates the ratings of both players (``policy_<k>``, ``snapshot_<k>_<version>``) in the
pool's ``LeagueTable`` (relayrl/league/table.py; a snapshot's rating starts from its learner's when it is
added), whatever the sampling; a game between two learners, in both learners' reports, is rated once.
``rating`` sampling weighs an opponent by the predicted chance that the learner beats it
(relayrl/league/selection.py); ``latest`` plays the newest snapshot of each learner and the other live
learners. The pool (weights, versions, owners, results, ratings) is saved in checkpoints
(``state_dict``, under ``self_play``) and restored on resume (``start``; a checkpoint without ratings
starts them afresh; one from a single-learner run loads into learner 0's slots).
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

from relayrl import info_schema
from relayrl.config import SelfPlayConfig
from relayrl.league.ratings import policy_id, snapshot_id
from relayrl.league.table import build_table
from relayrl.shared.progress import SharedBlob
from relayrl.shared.weights import SharedWeights
from relayrl.trainer.extensions import ExtensionBase, ExtensionContext, Match
from relayrl.trainer.policy_set import Policy
from relayrl.worker.report import EpisodeRecord, RolloutReport

log = logging.getLogger("relayrl.self_play")

RESULTS_WINDOW = 100
"""Games per slot that its win rate is computed over."""
HARDEST_FLOOR = 0.05
"""``hardest`` sampling: a slot the learner always beats keeps this weight."""
TABLE_SECONDS = 1.0
"""How often the sampling weights (from the latest results) are republished to the workers."""


def sampling_weights(win_rates: Mapping[int, float | None], mode: str) -> dict[int, float]:
    """Opponent -> weight. ``uniform``: 1 each; ``hardest``: ``1 + HARDEST_FLOOR - win rate`` (an unplayed one: 1)."""
    if mode == "uniform":
        return dict.fromkeys(win_rates, 1.0)
    return {slot: 1.0 if rate is None else 1.0 + HARDEST_FLOOR - rate for slot, rate in win_rates.items()}


def is_win(episode: EpisodeRecord, key: str) -> float:
    value = episode.extra.get(key)
    if value is not None:
        return float(value >= 0.5)
    return float(episode.reward > 0)


def build(ctx: ExtensionContext) -> SnapshotPool:
    """The self-play extension of a run (``--self-play``): every policy of the run is a learner."""
    return SnapshotPool(ctx.cfg.self_play, list(ctx.policies.all()), ctx.mp_context, ctx.publisher)


class SnapshotPool(ExtensionBase):
    """The pool of frozen snapshots of the learning policies (see the module docstring)."""

    name = "self_play"

    def __init__(self, cfg: SelfPlayConfig, learners: Sequence[Policy], ctx: Any, publisher: Any = None) -> None:
        """``publisher``: the run's ``TrainingInfoPublisher``, which the league's ratings go out through
        (``info_schema.LEAGUE``; None: not published)."""
        self.cfg = cfg
        self.learners = {p.id: p for p in learners}
        self.num_policies = len(self.learners)
        self.size = cfg.pool_size
        """Slots per learner."""
        template = learners[0].learner.model.state_dict()
        self.weights = tuple(SharedWeights(template, ctx) for _ in range(self.size * self.num_policies))
        self.table = SharedBlob(ctx=ctx)
        self.versions: dict[int, int] = {}
        """Slot -> policy version of the snapshot in it."""
        self.owner: dict[int, int] = {}
        """Slot -> the learner it is a snapshot of."""
        self.results: dict[tuple[int, int], collections.deque[float]] = {}
        """(learner, opponent controller id) -> the learner's last results against it."""
        self.states: dict[int, dict[str, torch.Tensor]] = {}
        self.last_version: dict[int, int] = {}
        """Learner -> version of its latest snapshot."""
        self.last_table = time.monotonic()
        self.publisher = publisher
        self.league = build_table(cfg.win_key)
        """The ratings of the learners and the snapshots (None: openskill is not installed)."""
        if self.league is not None:
            for k in self.learners:
                self.league.add_learner(k)

    # ----- extension hooks -----

    def start(self, saved: Mapping[str, Any] | None) -> None:
        """Restore a saved pool; a learner without snapshots gets one of its weights now."""
        if saved:
            self.load_state_dict(saved)
            log.info("resumed the self-play pool (%d snapshots)", len(self.versions))
        for k, policy in self.learners.items():
            if k not in self.owner.values():
                self.add(policy.learner.model.state_dict(), policy.version, k)

    def on_rollout(self, report: RolloutReport) -> None:
        self.record(report.episodes)

    def after_update(self, updated: Sequence[int]) -> None:
        for k in updated:
            policy = self.learners.get(k)
            if policy is not None and self.maybe_add(policy.learner.model.state_dict(), policy.version, k):
                log.info("self-play: snapshot of policy %d version %d added to the pool", k, policy.version)

    def on_matches(self, matches: Sequence[Match]) -> None:
        """Rate the games played outside the rollouts (evaluation against fixed opponents: a scripted
        opponent enters the table as a fixed player at its first game)."""
        if self.league is not None:
            for match in matches:
                self.league.match(match.a, match.b, match.score_a)

    def housekeeping(self, env_steps: int) -> Sequence[int]:
        if time.monotonic() - self.last_table >= TABLE_SECONDS:
            self.publish_table()  # new sampling weights from the latest results
        return ()

    def frozen_weights(self) -> tuple[SharedWeights, ...]:
        return self.weights

    def frozen_table(self) -> SharedBlob | None:
        return self.table

    # ----- filling -----

    def maybe_add(self, state_dict: dict[str, torch.Tensor], version: int, k: int = 0) -> bool:
        """Snapshot learner ``k``'s ``state_dict`` (its ``version``) when it has none yet or
        ``--self-play-every`` versions have passed since its last snapshot; returns whether it did."""
        last = self.last_version.get(k)
        if last is not None and version - last < self.cfg.every:
            return False
        self.add(state_dict, version, k)
        return True

    def add(self, state_dict: dict[str, torch.Tensor], version: int, k: int = 0) -> int:
        """Put a snapshot of learner ``k`` in a free slot of its own, else in its oldest one."""
        own = range(k * self.size, (k + 1) * self.size)
        free = [slot for slot in own if slot not in self.versions]
        if free:
            slot = free[0]
        else:
            slot = min(own, key=lambda s: self.versions[s])
            if self.league is not None:
                self.league.retire(self.player(slot))
            for key in [key for key in self.results if key[1] == self.num_policies + slot]:
                del self.results[key]
        self.states[slot] = {name: v.detach().to("cpu", copy=True) for name, v in state_dict.items()}
        self.versions[slot], self.owner[slot] = version, k
        self.last_version[k] = version
        if self.league is not None:
            self.league.add_snapshot(k, self.player(slot))
        self.weights[slot].publish(self.states[slot], version)
        self.publish_table()
        return slot

    # ----- results -----

    def record(self, episodes: Iterable[EpisodeRecord]) -> None:
        """Count the learners' games (their episodes with an opponent: a snapshot or another learner)."""
        for ep in episodes:
            k, opponent = ep.policy_id, ep.opponent
            if k not in self.learners or opponent is None or opponent == k:
                continue
            if opponent < self.num_policies:
                player, rate = policy_id(opponent), k < opponent  # in both learners' reports: rated once
            elif opponent - self.num_policies in self.versions:
                player, rate = self.player(opponent - self.num_policies), True
            else:
                continue
            results = self.results.setdefault((k, opponent), collections.deque(maxlen=RESULTS_WINDOW))
            results.append(is_win(ep, self.cfg.win_key))
            if rate and self.league is not None:
                self.league.game(k, player, ep)

    def player(self, slot: int) -> str:
        """The league player id of the snapshot in ``slot``."""
        return snapshot_id(self.owner[slot], self.versions[slot])

    def candidates(self, k: int) -> dict[int, str]:
        """Learner ``k``'s possible opponents: controller id -> player id (every snapshot, the other learners)."""
        out = {self.num_policies + slot: self.player(slot) for slot in sorted(self.versions)}
        out.update({j: policy_id(j) for j in self.learners if j != k})
        return out

    def _rate(self, k: int, controller: int) -> float | None:
        r = self.results.get((k, controller))
        return sum(r) / len(r) if r else None

    def win_rates(self, k: int = 0) -> dict[int, float | None]:
        """Slot -> learner ``k``'s win rate against the snapshot in it (None: not played yet)."""
        return {slot: self._rate(k, self.num_policies + slot) for slot in self.versions}

    def opponent_weights(self, k: int = 0) -> dict[int, float]:
        """Controller id -> sampling weight of that opponent for learner ``k`` (``--self-play-opponents``)."""
        candidates = self.candidates(k)
        mode = self.cfg.opponents
        if mode == "latest":
            newest = {
                max((s for s in self.versions if self.owner[s] == j), key=self.versions.__getitem__)
                for j in self.learners
                if j in self.owner.values()
            }
            return {c: float(c < self.num_policies or c - self.num_policies in newest) for c in candidates}
        if mode == "rating" and self.league is not None:
            return self.league.weights(k, candidates, self.cfg.rating_weight)
        rates = {c: self._rate(k, c) for c in candidates}
        return sampling_weights(rates, "hardest" if mode == "hardest" else "uniform")

    def publish_table(self) -> None:
        self.last_table = time.monotonic()
        slots = {slot: {"version": self.versions[slot], "policy": self.owner[slot]} for slot in sorted(self.versions)}
        self.table.publish({"slots": slots, "weights": {k: self.opponent_weights(k) for k in self.learners}})
        if self.publisher is not None and self.league is not None:
            by_age = sorted(self.versions, key=lambda s: self.versions[s])
            snapshots = {k: [self.player(s) for s in by_age if self.owner[s] == k] for k in self.learners}
            self.publisher.set_key(info_schema.LEAGUE, {"ratings": self.league.ratings_now(), "snapshots": snapshots})

    def scalars(self) -> dict[str, float]:
        """``self_play/...`` report values: the learners' win rates against the pool (and, with one learner,
        per snapshot age; with several, each against the others: ``self_play/policy_<k>/...``);
        ``league/<player>/{mu,sigma,ordinal}`` of the learners and the snapshots in the pool."""
        out = {"self_play/pool_size": float(len(self.versions))}
        snapshot = {key: r for key, r in self.results.items() if key[1] >= self.num_policies}
        games = [x for r in snapshot.values() for x in r]
        if games:
            out["self_play/win_rate_vs_pool"] = sum(games) / len(games)
        if self.num_policies == 1:
            rates = self.win_rates()
            newest_first = sorted(self.versions, key=lambda s: -self.versions[s])
            for age, slot in enumerate(newest_first):
                rate = rates[slot]
                if rate is not None:
                    out[f"self_play/win_rate_vs_snapshot_{age}"] = rate  # 0: the newest snapshot
        else:
            for k in self.learners:
                own = [x for (j, _), r in snapshot.items() if j == k for x in r]
                if own:
                    out[f"self_play/policy_{k}/win_rate_vs_pool"] = sum(own) / len(own)
                for j in self.learners:
                    rate = self._rate(k, j)
                    if j != k and rate is not None:
                        out[f"self_play/policy_{k}/win_rate_vs_policy_{j}"] = rate
        if self.league is not None:
            out.update(self.league.scalars())
        return out

    # ----- checkpoints -----

    def state_dict(self) -> dict[str, Any]:
        return {
            "slots": {
                slot: {"version": self.versions[slot], "policy": self.owner[slot], "weights": self.states[slot]}
                for slot in self.versions
            },
            "results": {f"{k}:{c}": list(r) for (k, c), r in self.results.items()},
            "last_versions": dict(self.last_version),
            "num_policies": self.num_policies,
            **({"league": self.league.state_dict()} if self.league is not None else {}),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a saved pool. Each learner keeps its newest ``--self-play-pool-size`` snapshots, placed
        in its own slots (a run resumed with another pool size or layout); their results follow them."""
        saved_n = int(state.get("num_policies", 1))  # controller ids of the saved run: snapshots from here
        moved: dict[int, int] = {}  # saved controller id -> controller id now
        by_owner: dict[int, list[tuple[int, Mapping[str, Any]]]] = collections.defaultdict(list)
        for slot, entry in state.get("slots", {}).items():
            by_owner[int(entry.get("policy", 0))].append((int(slot), entry))
        for k, entries in by_owner.items():
            if k not in self.learners:
                continue
            newest = sorted(entries, key=lambda item: -int(item[1]["version"]))[: self.size]
            for i, (old, entry) in enumerate(sorted(newest, key=lambda item: item[0])):
                slot = k * self.size + i
                self.states[slot] = dict(entry["weights"])
                self.versions[slot], self.owner[slot] = int(entry["version"]), k
                self.weights[slot].publish(self.states[slot], self.versions[slot])
                moved[saved_n + old] = self.num_policies + slot
                if "results" in entry:  # a single-learner checkpoint: learner 0's results, kept per slot
                    self._restore_results(0, self.num_policies + slot, entry["results"])
        for key, results in state.get("results", {}).items():
            k, c = (int(x) for x in str(key).split(":"))
            c = c if c < saved_n else moved.get(c, -1)
            if k in self.learners and 0 <= c and c != k and (c >= self.num_policies or c in self.learners):
                self._restore_results(k, c, results)
        last = state.get("last_versions") or (
            {0: state["last_version"]} if state.get("last_version") is not None else {}
        )
        self.last_version = {int(k): int(v) for k, v in last.items() if int(k) in self.learners}
        if self.league is not None:
            self.league.load_state_dict(state.get("league", {}))
            for k in self.learners:
                self.league.add_learner(k)  # a checkpoint without ratings: rated afresh
            for slot in self.versions:
                self.league.add_snapshot(self.owner[slot], self.player(slot))
        self.publish_table()

    def _restore_results(self, k: int, controller: int, results: Iterable[float]) -> None:
        self.results[(k, controller)] = collections.deque((float(x) for x in results), maxlen=RESULTS_WINDOW)
