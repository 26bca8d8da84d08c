"""Trainer side of population-based training: ranks the policies, copies and mutates, keeps the lineage.

A training extension (relayrl/trainer/extensions.py) built when ``--pbt`` is on: ``housekeeping`` runs
``step`` on every pass of the training loop, which publishes the weights of the policies it changed. When a policy has taken
``--pbt-period-env-steps`` of its own env steps since it was last ranked (and at least
``--pbt-start-env-steps`` in all), it is ranked against the others by ``--pbt-objective``; if it is in
the bottom fraction and a random top policy beats it by both thresholds, it copies that policy's
learner (weights, optimizer state, normalizers: a ``state_dict`` round trip), its hyperparameters,
reward shaping and env parameters, then mutates them (``pbt/mutation.py``). The new reward shaping and
env parameters go out with the next training-info publication, which the loop makes at once.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from relayrl.config.pbt import PBTConfig, parse_env_params
from relayrl.experiment import Experiment
from relayrl.learning.learner import Learner
from relayrl.pbt import lineage_log
from relayrl.pbt import mutation as m
from relayrl.trainer.extensions import ExtensionBase, ExtensionContext
from relayrl.trainer.info_publisher import TrainingInfoPublisher
from relayrl.trainer.state import TrainState

log = logging.getLogger("relayrl.pbt")


def build(ctx: ExtensionContext) -> PopulationController:
    """The population-based-training extension of a run (``--pbt``)."""
    policies = ctx.policies
    return PopulationController(
        ctx.cfg.pbt,
        policies.learners,
        ctx.state,
        ctx.publisher,
        ctx.cfg.seed or 0,
        lambda k: policies[k].window.summary(),
        ctx.experiment,
    )


class PopulationController(ExtensionBase):
    """Owns the PBT state: when each policy was last ranked, the lineage, each policy's hyperparameters."""

    name = "pbt"

    def __init__(
        self,
        cfg: PBTConfig,
        learners: Mapping[int, Learner],
        state: TrainState,
        publisher: TrainingInfoPublisher,
        seed: int,
        stats_of: Callable[[int], Mapping[str, Any]] | None = None,
        experiment: Experiment | None = None,
    ) -> None:
        """``stats_of(k)``: policy ``k``'s windowed episode stats (``training_info["stats"]`` layout), what
        ``housekeeping`` ranks by; ``experiment``: where ``housekeeping`` appends each lineage record as it
        happens (``pbt/lineage_log.py``). Both are given when the trainer builds it (``build``)."""
        self.cfg = cfg
        self.stats_of = stats_of
        self.experiment = experiment
        self.learners = learners
        self.state = state
        self.publisher = publisher
        self.rng = random.Random(seed)
        self.ranges = parse_env_params(cfg.env_params)
        self.names = cfg.mutated_hyperparameters
        self.bounds = cfg.clamp_ranges
        self.last_ranked: dict[int, int] = {k: 0 for k in learners}
        """Each policy's own env steps when it was last ranked."""
        self.lineage: list[dict[str, Any]] = []
        """Every copy and mutation: ``{env_steps, time, policy, copied_from, objective, source_objective,
        mutations: [{name, old, new, proposed, clamped}]}`` (``env_steps``: the run's total env steps
        at the change; ``time``: its ``time.time()``, wall-clock seconds since the epoch)."""
        self.undrained: list[dict[str, Any]] = []
        """Lineage records not yet returned by ``drain_events``."""
        self.warned_objective = False
        self.objective_seen = False
        """Some policy has reported ``--pbt-objective`` (the warning can no longer apply)."""

    # ----- extension hooks -----

    def start(self, saved: Mapping[str, Any] | None) -> None:
        """Continue a saved population, or start a new one (also when PBT is switched on for a run
        that had none)."""
        if saved:
            self.load_state_dict(saved)
            log.info("resumed the population (%d lineage events)", len(self.lineage))
        else:
            self.start_new()

    def housekeeping(self, env_steps: int) -> list[int]:
        """Rank the policies that are due (``step``) and append the new lineage records to the lineage
        file; the ids whose learner state changed."""
        assert self.stats_of is not None and self.experiment is not None, "built without a run: call step()"
        changed = self.step(env_steps, self.stats_of)
        events = self.drain_events()  # each copy and mutation, written when it happens
        if events:
            lineage_log.append_events(self.experiment, events)
        return changed

    # ----- start -----

    def start_new(self) -> None:
        """A new run: every policy gets the declared env parameters' start values; policies 1..N-1
        mutate once, so the population starts diverse (policy 0 keeps the configured values)."""
        start = {name: r.start for name, r in self.ranges.items()}
        for k in self.learners:
            if self.ranges:
                self.publisher.set_env_params(dict(start), k)
            if k != 0:
                self._mutate(k, source=None, objectives={}, rate=1.0)

    # ----- the periodic step -----

    def step(self, env_steps: int, stats_of: Callable[[int], Mapping[str, Any]]) -> list[int]:
        """Rank the policies that are due; returns the ids whose learner state changed (their new
        weights must be published)."""
        due = [
            k
            for k, ps in sorted(self.state.policies.items())
            if k in self.learners
            and ps.env_steps >= self.cfg.start_env_steps
            and ps.env_steps - self.last_ranked[k] >= self.cfg.period_env_steps
        ]
        check = not (self.warned_objective or self.objective_seen)
        if not due and not check:
            return []  # the common case, every pass of the loop: no window summaries computed
        stats = {k: stats_of(k) for k in self.learners}
        objectives = {k: m.objective_of(stats[k], self.cfg.objective) for k in self.learners}
        if check:
            self._check_objective(env_steps, stats, objectives)
        changed = []
        for k in due:
            self.last_ranked[k] = self.state.policies[k].env_steps
            source = m.choose_copy(
                k,
                objectives,
                self.cfg.replace_fraction,
                self.cfg.replace_threshold_rel,
                self.cfg.replace_threshold_abs,
                self.rng,
            )
            if source is None:
                continue
            self._copy(k, source)
            self._mutate(k, source, objectives, rate=self.cfg.mutation_rate, env_steps=env_steps)
            changed.append(k)
        return changed

    def _check_objective(
        self, env_steps: int, stats: Mapping[int, Mapping[str, Any]], objectives: Mapping[int, float | None]
    ) -> None:
        """Warn once, as soon as the policies have episodes and none of them carries the objective (a
        misspelled key would otherwise rank nothing, silently), naming the keys the episodes do carry.
        Nothing more to check once a policy has reported it, or once warned."""
        if any(v is not None for v in objectives.values()):
            self.objective_seen = True
            return
        if not any(s.get("episodes") for s in stats.values()):
            return  # no episode yet: nothing to judge by (cheap: the windows are empty)
        self.warned_objective = True
        keys = sorted({key for s in stats.values() for key in s.get("episode_extra_stats") or {}})
        log.warning(
            "--pbt-objective %r: no episode of any policy reports it (%d env steps); policies are not ranked until "
            "one does. The episodes report 'reward' and the episode_extra_stats keys: %s.",
            self.cfg.objective,
            env_steps,
            ", ".join(keys) or "(none)",
        )

    def _copy(self, k: int, source: int) -> None:
        """Policy ``k`` takes ``source``'s learner state (a deep copy: no tensor is shared), with its own
        policy version moved on by one (new weights, and the lag of its in-flight rollouts stays >= 0)."""
        learner = self.learners[k]
        taken = copy.deepcopy(self.learners[source].state_dict())
        taken["policy_version"] = learner.policy_version + 1
        learner.load_state_dict(taken)
        learner.set_hyperparameters(self.learners[source].hyperparameters(self.names))
        self.publisher.set_reward_shaping(self.state.policies[source].reward_shaping, k)
        if self.ranges:
            self.publisher.set_env_params(self.state.policies[source].env_params, k)

    def _mutate(
        self,
        k: int,
        source: int | None,
        objectives: Mapping[int, float | None],
        rate: float,
        env_steps: int | None = None,
    ) -> None:
        cfg, ps = self.cfg, self.state.policies[k]
        factor = cfg.perturb_factor
        hyper, events = m.mutate_hyperparameters(
            self.learners[k].hyperparameters(self.names), self.bounds, rate, factor, self.rng
        )
        self.learners[k].set_hyperparameters(hyper)
        if cfg.mutate_reward_shaping and ps.reward_shaping is not None:
            shaping, more = m.mutate_shaping(ps.reward_shaping, rate, factor, self.rng)
            self.publisher.set_reward_shaping(shaping, k)
            events += [dataclasses.replace(e, name=f"reward_shaping/{e.name}") for e in more]
        if self.ranges and ps.env_params is not None:
            params, more = m.mutate_env_params(ps.env_params, self.ranges, rate, factor, self.rng)
            self.publisher.set_env_params(params, k)
            events += [dataclasses.replace(e, name=f"env_params/{e.name}") for e in more]
        record = {
            "env_steps": self.state.env_steps if env_steps is None else env_steps,
            "time": time.time(),
            "policy": k,
            "copied_from": source,
            "objective": objectives.get(k),
            "source_objective": objectives.get(source) if source is not None else None,
            "mutations": [dataclasses.asdict(e) for e in events],
        }
        self.lineage.append(record)
        self.undrained.append(record)
        what = (
            f"copied policy {source} ({record['source_objective']} vs {record['objective']})"
            if source is not None
            else "start"
        )
        log.info(
            "pbt: policy %d %s; mutated %s",
            k,
            what,
            ", ".join(f"{e.name} {e.old:.4g}->{e.new:.4g}" for e in events) or "nothing",
        )
        for e in events:
            if e.clamped:
                log.warning(
                    "pbt: policy %d: %s mutated to %r, outside its bounds; clamped to %.4g",
                    k,
                    e.name,
                    e.proposed,
                    e.new,
                )

    # ----- reporting -----

    def drain_events(self) -> list[dict[str, Any]]:
        """The lineage records (copies and mutations, ``lineage`` layout) made since the last call, oldest
        first; each is returned once (``pbt/lineage_log.py`` appends them to the experiment's lineage file)."""
        events, self.undrained = self.undrained, []
        return events

    def scalars(self) -> dict[str, float]:
        """``pbt/...`` values for the progress file and TensorBoard: the copies so far and every policy's
        current hyperparameters, reward-shaping leaves and env parameters (the copies themselves, each
        one, are events: ``drain_events``)."""
        out: dict[str, float] = {"pbt/copies_total": float(sum(e["copied_from"] is not None for e in self.lineage))}
        for k, learner in self.learners.items():
            for name, value in learner.hyperparameters(self.names).items():
                out[f"pbt/policy_{k}/{name}"] = value
            ps = self.state.policies[k]
            for path, value in _leaves(ps.reward_shaping or {}):
                out[f"pbt/policy_{k}/reward_shaping/{path}"] = value
            for name, value in (ps.env_params or {}).items():
                out[f"pbt/policy_{k}/env_params/{name}"] = float(value)
        return out

    # ----- checkpoint form -----

    def state_dict(self) -> dict[str, Any]:
        return {
            "last_ranked": dict(self.last_ranked),
            "lineage": copy.deepcopy(self.lineage),
            "hyperparameters": {k: learner.hyperparameters(self.names) for k, learner in self.learners.items()},
            "warned_objective": self.warned_objective,
        }

    def load_state_dict(self, data: Mapping[str, Any]) -> None:
        """Continue a saved population: rankings, lineage and each policy's hyperparameters."""
        self.last_ranked.update({int(k): int(v) for k, v in data["last_ranked"].items()})
        self.lineage = copy.deepcopy(list(data["lineage"]))
        self.warned_objective = bool(data.get("warned_objective", False))
        for k, values in data["hyperparameters"].items():
            if int(k) in self.learners:
                self.learners[int(k)].set_hyperparameters(values)
        for k in self.learners:  # the declared env parameters may have changed since the checkpoint
            saved = self.state.policies[k].env_params or {}
            params = {name: min(max(float(saved.get(name, r.start)), r.low), r.high) for name, r in self.ranges.items()}
            self.publisher.set_env_params(params or None, k)


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out += _leaves(value, f"{prefix}{key}/")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out.append((f"{prefix}{key}", float(value)))
    return out
