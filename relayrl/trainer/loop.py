"""The one training loop: collect -> batch -> train -> publish -> give back -> housekeeping.

It runs over any ``RolloutSource`` (in-process workers, local worker processes, ...) and owns only
the sequence and the slots waiting for the learner; every collaborator is passed in.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import torch

from relayrl.config import Config
from relayrl.experiment import Experiment
from relayrl.learning.learner import Learner
from relayrl.pbt import lineage_log
from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.shared.weights import SharedWeights
from relayrl.trainer.checkpointer import Checkpointer
from relayrl.trainer.info_publisher import TrainingInfoPublisher
from relayrl.trainer.reporting import Reporter
from relayrl.trainer.sources.base import RolloutSource, SlotLayout
from relayrl.trainer.state import DEFAULT_POLICY, TrainState
from relayrl.utils import startup
from relayrl.worker.report import RolloutReport

if TYPE_CHECKING:
    from relayrl.multiagent.pool import SnapshotPool
    from relayrl.pbt.controller import PopulationController

log = logging.getLogger("relayrl.trainer")

POLL_SECONDS = 0.5
"""How long the loop waits for a rollout before it does its housekeeping anyway."""
HEALTH_CHECK_SECONDS = 1.0
"""How often the loop asks the source to check its workers (a dead one is noticed within this)."""


@dataclasses.dataclass
class LoopParts:
    """The collaborators of the loop (built and owned by the ``Trainer``)."""

    cfg: Config
    source: RolloutSource
    layout: SlotLayout
    buffers: TrajectoryBuffers
    learners: Mapping[int, Learner]
    """Every policy's learner, by policy id (one policy: ``{0: learner}``)."""
    policy_weights: Mapping[int, SharedWeights]
    """Every policy's published weights, by policy id."""
    state: TrainState
    reporter: Reporter
    publisher: TrainingInfoPublisher
    checkpointer: Checkpointer
    device: torch.device
    stop_requested: Callable[[], bool]
    pool: SnapshotPool | None = None
    """The self-play ``SnapshotPool``, if any."""
    population: PopulationController | None = None
    """The ``PopulationController`` of population-based training, if any."""


class TrainingLoop:
    """Drives one training session over ``parts.source`` until the step or time budget or a stop."""

    def __init__(self, parts: LoopParts) -> None:
        self.p = parts
        self.pending: list[int] = []
        """Filled slots waiting for the learner, in arrival order."""
        self.last_report = time.monotonic()
        self.last_health_check = time.monotonic()
        self.learners = dict(parts.learners)
        self.weights = dict(parts.policy_weights)
        self.learner = self.learners[DEFAULT_POLICY]
        """Policy 0's learner: its version is the run's (progress rows, self-play snapshots)."""

    # ----- the sequence -----

    def run(self) -> None:
        p = self.p
        k = p.cfg.rollouts_per_batch
        sampling = p.cfg.sampling
        # Weights published after every epoch reach rollouts that start while the learner trains;
        # they are pointless when nothing samples meanwhile (sync mode, in-process workers).
        publish_every_epoch = (
            p.source.samples_while_training and sampling.sampling_mode == "async" and sampling.publish_every_epoch
        )
        for slot in range(p.layout.num_slots):
            p.source.grant(slot)
        while not self.done():
            t0 = time.monotonic()
            report = p.source.receive(POLL_SECONDS)
            p.reporter.add_main_time("wait", time.monotonic() - t0)
            if report is not None:
                self.on_rollout(report)
            # A full batch is trained on even when it completes the step budget (every collected
            # step is learned from), but not after a stop was requested: the run ends now.
            if len(self.pending) >= k and not p.stop_requested():
                slots, self.pending = self.pending[:k], self.pending[k:]
                self.train_on(slots, publish_every_epoch)
                # The slots go back only with the new weights published, so the rollouts they
                # collect next start from the newest policy: lag 0 in sync mode, about 1 in async
                # mode, where each worker meanwhile fills its other slots (num_buffers_per_worker).
                # Returning them before training (the batch is a copy) would let the workers run
                # a batch further ahead when the learner is the bottleneck: lag 2, no more frames/s.
                for slot in slots:
                    p.source.grant(slot)
            if time.monotonic() - self.last_health_check >= HEALTH_CHECK_SECONDS:
                p.source.check_health()
                self.last_health_check = time.monotonic()
            self.housekeeping()

    def done(self) -> bool:
        p = self.p
        if p.stop_requested():
            return True
        if p.cfg.train_for_seconds is not None and p.state.session_seconds >= p.cfg.train_for_seconds:
            return True
        return p.state.env_steps >= p.cfg.train_for_env_steps

    # ----- steps -----

    def on_rollout(self, report: RolloutReport) -> None:
        p = self.p
        if not self.pending and p.state.session_steps == 0:
            startup.mark("first rollout")
            log.info("start-up, seconds since the process started: %s", startup.report())
        p.state.env_steps += report.env_steps
        p.reporter.add_rollout(report, self.learner.policy_version - report.policy_version)
        if report.curriculum_states:
            p.state.update_curricula(report.curriculum_states)
        if report.policy_steps is not None:
            for k, steps in report.policy_steps.items():
                p.state.policies[k].env_steps += steps
        else:  # one policy, one agent per env: it took every step
            p.state.policies[DEFAULT_POLICY].env_steps += report.env_steps
        if p.pool is not None:
            p.pool.record(report.episodes)
        self.pending.append(report.slot)

    def publish_weights(self, policy_id: int = DEFAULT_POLICY) -> None:
        learner = self.learners[policy_id]
        self.weights[policy_id].publish(learner.model.state_dict(), learner.policy_version)

    def train_on(self, slots: list[int], publish_every_epoch: bool) -> None:
        """One update of every policy on ``slots`` (each on its own rows when they share slots), then
        publish its weights (also after each epoch if asked)."""
        p = self.p
        t0 = time.monotonic()
        batch = p.buffers.gather(slots, p.device)
        for k, learner in self.learners.items():
            own = batch.for_policy(k) if p.cfg.policies_share_rows else batch
            if p.cfg.policies_share_rows and not bool(own.valid.any()):
                continue  # this policy acted nowhere in these slots
            after_epoch = (lambda k=k: self.publish_weights(k)) if publish_every_epoch else None
            stats = learner.train(own, p.state.env_steps, after_epoch)
            self.publish_weights(k)
            p.reporter.add_learner_stats(stats, k)
        if p.pool is not None and p.pool.maybe_add(self.learner.model.state_dict(), self.learner.policy_version):
            log.info("self-play: snapshot of policy version %d added to the pool", self.learner.policy_version)
        p.reporter.add_main_time("learner", time.monotonic() - t0)

    def housekeeping(self, force_report: bool = False) -> None:
        """Training info, progress bar, the periodic report with the best checkpoint, periodic saves."""
        p = self.p
        if p.population is not None:
            # copied weights go out now; the mutated env side with the publication right below
            for k in p.population.step(p.state.env_steps, p.reporter.training_stats):
                self.publish_weights(k)
            events = p.population.drain_events()  # each copy and mutation, written when it happens
            if events:
                lineage_log.append_events(Experiment.of(p.cfg), events)
        p.publisher.maybe_publish()
        p.reporter.update_bar(p.state.env_steps)
        now = time.monotonic()
        if force_report or now - self.last_report >= p.cfg.logging.report_interval:
            self.last_report = now
            extra: dict[str, float] = {}
            if p.pool is not None:
                p.pool.publish_table()  # new sampling weights from the latest results
                extra.update(p.pool.scalars())
            if p.population is not None:
                extra.update(p.population.scalars())
            if extra:
                p.reporter.set_extra_scalars(extra)
            p.reporter.report(p.state.env_steps, self.learner.policy_version, p.state.train_seconds, p.source.restarts)
            for k in self.learners:
                mean, episodes = p.reporter.mean_reward_of(k)
                p.checkpointer.maybe_save_best(k, mean, episodes, p.cfg.logging.stats_window)
        p.checkpointer.maybe_save()
