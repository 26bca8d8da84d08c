"""The one training loop: collect -> batch -> train -> publish -> give back -> housekeeping.

It runs over any ``RolloutSource`` (in-process workers, local worker processes, ...) and owns only
the sequence and the slots waiting for the learner; every collaborator is passed in.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence

import torch

from relayrl.config import Config
from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.trainer.checkpointer import Checkpointer
from relayrl.trainer.extensions import Extension
from relayrl.trainer.info_publisher import TrainingInfoPublisher
from relayrl.trainer.policy_set import PolicySet
from relayrl.trainer.reporting import Reporter
from relayrl.trainer.sources.base import RolloutSource, SlotLayout
from relayrl.trainer.state import TrainState
from relayrl.utils import startup
from relayrl.worker.report import RolloutReport

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
    policies: PolicySet
    """Every trained policy: learner, published weights, run state, episode window."""
    extensions: Sequence[Extension]
    """The enabled features (self-play pool, PBT, ...), called in this order at every hook."""
    state: TrainState
    reporter: Reporter
    publisher: TrainingInfoPublisher
    checkpointer: Checkpointer
    device: torch.device
    stop_requested: Callable[[], bool]


class TrainingLoop:
    """Drives one training session over ``parts.source`` until the step or time budget or a stop."""

    def __init__(self, parts: LoopParts) -> None:
        self.p = parts
        self.pending: list[int] = []
        """Filled slots waiting for the learner, in arrival order."""
        self.last_report = time.monotonic()
        self.last_health_check = time.monotonic()

    # ----- the sequence -----

    def run(self) -> None:
        p = self.p
        k = p.cfg.rollouts_per_batch
        sampling = p.cfg.sampling
        # Weights published after every epoch reach rollouts that start while the learner trains;
        # they are pointless when nothing samples meanwhile (sync mode, in-process workers).
        publish_every_epoch = (
            p.source.samples_while_training and sampling.mode == "async" and sampling.publish_every_epoch
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
        """Take one rollout report. Its policy lag is the largest over the policies of the learner's
        version minus the version of that policy's weights that collected the rollout."""
        p = self.p
        if not self.pending and p.state.session_steps == 0:
            startup.mark("first rollout")
            log.info("start-up, seconds since the process started: %s", startup.report())
        p.state.env_steps += report.env_steps
        p.reporter.add_rollout(report, p.policies.lag(report.policy_versions))
        p.policies.add_episodes(report.episodes)
        p.policies.add_steps(report.policy_steps)
        if report.curriculum_states:
            p.state.update_curricula(report.curriculum_states)
        for ext in p.extensions:
            ext.on_rollout(report)
        self.pending.append(report.slot)

    def train_on(self, slots: list[int], publish_every_epoch: bool) -> None:
        """One update of every policy on ``slots`` (each on its own rows when they share slots), then
        publish its weights (also after each epoch if asked)."""
        p = self.p
        t0 = time.monotonic()
        batch = p.buffers.gather(slots, p.device)
        updated = []
        for policy in p.policies.all():
            own = batch.for_policy(policy.id) if p.cfg.policies_share_rows else batch
            if p.cfg.policies_share_rows and not bool(own.valid.any()):
                continue  # this policy acted nowhere in these slots
            after_epoch = policy.publish if publish_every_epoch else None
            policy.learner_stats = policy.learner.train(own, p.state.env_steps, after_epoch)
            policy.publish()
            updated.append(policy.id)
        for ext in p.extensions:
            ext.after_update(updated)
        p.reporter.add_main_time("learner", time.monotonic() - t0)

    def exchange_matches(self) -> None:
        """Hand the games extensions played outside the rollouts (evaluation) to every extension."""
        played = [match for ext in self.p.extensions for match in ext.matches()]
        if played:
            for ext in self.p.extensions:
                ext.on_matches(played)

    def flush_reports(self) -> None:
        """Make the reports extensions still ask for (``report_now``), one each: e.g. two evaluations
        that finished in the same pass at the end of training."""
        while any(ext.report_now() for ext in self.p.extensions):
            self.housekeeping()

    def housekeeping(self, force_report: bool = False) -> None:
        """Extensions, training info, progress bar, the periodic report with the best checkpoints,
        periodic saves."""
        p = self.p
        for ext in p.extensions:
            # e.g. weights a policy copied (PBT) go out now; its env side with the publication below
            for k in ext.housekeeping(p.state.env_steps):
                p.policies[k].publish()
        self.exchange_matches()
        p.publisher.maybe_publish()
        p.reporter.update_bar(p.state.env_steps)
        now = time.monotonic()
        due = force_report or now - self.last_report >= p.cfg.logging.report_interval
        for ext in p.extensions:
            due = due or ext.report_now()
        if due:
            self.last_report = now
            extra: dict[str, float] = {}
            for ext in p.extensions:
                extra.update(ext.scalars())
            p.reporter.report(p.state.env_steps, p.state.train_seconds, p.source.restarts, extra)
            for policy in p.policies.all():
                p.checkpointer.maybe_save_best(policy, p.cfg.logging.stats_window)
        p.checkpointer.maybe_save()
