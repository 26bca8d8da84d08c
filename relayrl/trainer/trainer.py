"""The one place that builds the trainer's parts and wires them together.

``Trainer(cfg)`` validates the config, builds the learners, restores a resume (``trainer/resume.py``,
before anything is written, so a refused resume changes nothing on disk), then builds the set of
policies, the shared memory, the publisher and the enabled extensions (``trainer/extensions.py``).
``run()`` starts a rollout source (``trainer/sources``), hands everything to the one ``TrainingLoop``
and, however the loop ends, writes the final checkpoint and report, then stops the workers. See
docs/architecture.md.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import signal
import time
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from relayrl.config import Config, ConfigError
from relayrl.envs import check_spaces
from relayrl.envs.factory import probe_env
from relayrl.experiment import Experiment
from relayrl.learning.learner import Learner
from relayrl.shared.progress import SharedBlob, StepCounters
from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.trainer import checkpointer as ckpt
from relayrl.trainer import sources
from relayrl.trainer.extensions import ExtensionContext, build_extensions, frozen_controllers
from relayrl.trainer.info_publisher import TrainerView, TrainingInfoError, TrainingInfoPublisher
from relayrl.trainer.loop import LoopParts, TrainingLoop
from relayrl.trainer.policy_set import build_policy_set
from relayrl.trainer.reporting import Reporter
from relayrl.trainer.resume import resume
from relayrl.trainer.signals import StopFlag, exit_now, install_signal_handlers, restore_signal_handlers
from relayrl.trainer.sources import backend_name, source_class
from relayrl.trainer.sources import layout as sampling_layout
from relayrl.trainer.sources.base import SlotLayout
from relayrl.trainer.state import PolicyState, TrainState
from relayrl.utils import startup
from relayrl.utils.logs import setup_logging
from relayrl.utils.threads import set_math_threads
from relayrl.worker import launcher
from relayrl.worker.context import WorkerContexts
from relayrl.worker.main_guard import refuse_in_worker_bootstrap
from relayrl.worker.mapping import validate_mapping

log = logging.getLogger("relayrl.trainer")


@dataclasses.dataclass
class TrainSummary:
    """What ``relayrl.train`` returns."""

    env_steps: int
    policy_version: int
    train_seconds: float
    wall_seconds: float
    fps: float
    stats: dict[str, float]
    experiment_dir: str
    checkpoint: str | None
    best_reward: float | None
    """The best score of any policy (what its ``best`` file was written at: the windowed mean training
    return, or with evaluation the ``--best-metric`` value)."""
    interrupted: str | None = None
    """``"SIGTERM"`` when the run was stopped by SIGTERM (it can be resumed)."""
    env_errors: int = 0
    """Env exceptions handled by restarting the env."""
    worker_restarts: int = 0
    policy_rewards: dict[int, float | None] = dataclasses.field(default_factory=dict)
    """Each policy's windowed mean return (None: no finished episode in its window)."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available on this machine; use --device cpu.")
    return torch.device(name)


class Trainer:
    """Owns the policies, train state, shared memory, reporter, publisher, extensions and checkpointer.

    ``Trainer(cfg).run()`` is what ``relayrl.train(cfg)`` does; keep the object to change reward
    shaping while it runs (``set_reward_shaping`` is safe to call from another thread or a hook).
    """

    def __init__(self, cfg: Config) -> None:
        refuse_in_worker_bootstrap()
        cfg.validate()
        cfg = sampling_layout.resolve(cfg)  # --backend auto: local or serial, by the machine now (logged)
        # e.g. the worker forkserver imports torch while this process builds the rest
        sources.start_early(backend_name(cfg))
        if cfg.seed is None:
            cfg = dataclasses.replace(cfg, seed=random.SystemRandom().randrange(2**31))
        assert cfg.seed is not None
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.obs_space, self.action_space, self.agents = probe_env(cfg)
        check_spaces(self.obs_space, self.action_space)
        validate_mapping(cfg, self.agents, cfg.sampling.num_workers * cfg.sampling.num_envs_per_worker)
        self.source_cls = source_class(backend_name(cfg))
        self.experiment = Experiment.of(cfg)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        # The weights' orthogonal init runs many small LAPACK calls: one thread does them in microseconds,
        # while several threads wait on each other for tens of ms per call on a busy machine.
        set_math_threads(1)
        ids = range(cfg.multi_agent.num_policies)
        learners = {k: Learner(cfg, self.obs_space, self.action_space, self.device) for k in ids}
        if self.device.type == "cpu":
            set_math_threads(cfg.learner_threads(learners[0].model.multiply_adds_per_sample()))
        resumed = resume(self.experiment, cfg, learners)
        self.state = resumed.state if resumed is not None else TrainState()
        for k in ids:
            self.state.policies.setdefault(k, PolicyState(reward_shaping=cfg.training_info.reward_shaping))
        self.experiment.write_config(cfg)  # only now: the resume (if any) was accepted

        ctx = launcher.context()
        self.policies = build_policy_set(learners, self.state.policies, ctx, cfg.logging.stats_window)
        self.reporter = Reporter(cfg, self.experiment, self.policies, self.state.env_steps, resumed=resumed is not None)
        self.counters = StepCounters(
            cfg.sampling.num_workers,
            base=self.state.env_steps,
            policy_base=[p.state.env_steps for p in self.policies.all()],
        )
        self.blob = SharedBlob(ctx=ctx)
        self.publisher = TrainingInfoPublisher(cfg, self.blob, self.state, self.view, self.policies.table)
        try:  # a broken --training-info-fn is bad input: fail before any process starts
            self.publisher.compose()
        except TrainingInfoError as exc:
            raise ConfigError(str(exc)) from exc
        self.checkpointer = ckpt.Checkpointer(
            self.experiment,
            cfg.checkpointing,
            cfg.to_dict(),
            self.state,
            self.policies,
            self.reporter.episode_stats,
            lambda: {ext.name: ext.state_dict() for ext in self.extensions},
        )
        self.extensions = build_extensions(
            ExtensionContext(
                cfg, self.policies, self.state, self.publisher, self.experiment, ctx, cfg.seed, self.checkpointer
            )
        )
        for ext in self.extensions:
            ext.start(resumed.extension_state(ext.name) if resumed is not None else None)
        self.stop = StopFlag()
        self.interrupted: str | None = None
        startup.mark("trainer")

    # ----- public -----

    def view(self) -> TrainerView:
        """A read-only snapshot of the trainer (what ``--training-info-fn`` receives)."""
        return TrainerView(
            env_steps=self.state.env_steps,
            policy_version=self.policies.latest_version,
            train_seconds=self.state.train_seconds,
            stats=MappingProxyType(self.reporter.training_stats()),
            learner_stats=MappingProxyType(dict(self.reporter.learner_stats)),
            config=self.cfg,
        )

    def set_reward_shaping(self, shaping: dict[str, Any] | None, policy_id: int | None = None) -> None:
        """Deliver a new ``reward_shaping`` dict to the envs of policy ``policy_id`` (None: of every policy);
        saved with checkpoints."""
        for k in self.policies if policy_id is None else (policy_id,):
            self.publisher.set_reward_shaping(shaping, k)

    # ----- wiring -----

    def _source_and_buffers(self) -> tuple[Any, SlotLayout, TrajectoryBuffers]:
        cfg = self.cfg
        layout = SlotLayout(cfg.sampling.num_workers, self.source_cls.slots_per_worker(cfg))
        buffers = TrajectoryBuffers.allocate(
            layout.num_slots,
            cfg.sampling.rollout_length,
            cfg.sampling.num_envs_per_worker * (len(self.agents) if self.agents else 1),  # one row per agent
            self.obs_space,
            self.action_space,
            self.policies.rnn_state_size,
            shared=self.source_cls.shared_memory,
            num_policies=len(self.policies),
        )
        n = cfg.sampling.num_envs_per_worker
        frozen, table = frozen_controllers(self.extensions)
        weights = tuple(p.weights for p in self.policies.all())
        contexts = WorkerContexts(
            cfg,
            buffers,
            weights,
            self.counters,
            self.blob,
            # a resumed run samples new episodes, not a replay of the first run's
            base_seed=cfg.seed + self.state.env_steps,  # type: ignore[operator]
            curriculum_states=lambda w: self.state.curriculum_states_of(w * n, n),
            snapshot_weights=frozen,
            pool_table=table,
        )
        return self.source_cls(cfg, layout, contexts), layout, buffers

    def _log_start(self) -> None:
        cfg = self.cfg
        backend = backend_name(cfg)
        mode = "serial" if backend == "serial" else f"{cfg.sampling.num_workers} worker processes ({backend})"
        threads = f" ({torch.get_num_threads()} threads)" if self.device.type == "cpu" else ""
        extensions = f", extensions: {', '.join(ext.name for ext in self.extensions)}" if self.extensions else ""
        log.info(
            "experiment %s: %s, %s x %d envs, %s mode, %d polic%s, learner on %s%s%s",
            self.experiment.root,
            cfg.env,
            mode,
            cfg.sampling.num_envs_per_worker,
            cfg.sampling.mode,
            len(self.policies),
            "y" if len(self.policies) == 1 else "ies",
            self.device,
            threads,
            extensions,
        )

    # ----- entry -----

    def run(self) -> TrainSummary:
        wall0 = time.monotonic()
        self._log_start()
        source, layout, buffers = self._source_and_buffers()
        self.policies.publish_all()
        # Published before the workers start, so every env's first episode already has training info.
        self.publisher.maybe_publish(force=True)
        loop = TrainingLoop(
            LoopParts(
                cfg=self.cfg,
                source=source,
                layout=layout,
                buffers=buffers,
                policies=self.policies,
                extensions=self.extensions,
                state=self.state,
                reporter=self.reporter,
                publisher=self.publisher,
                checkpointer=self.checkpointer,
                device=self.device,
                stop_requested=lambda: bool(self.stop),
            )
        )
        if loop.done():
            log.info(
                "experiment %s is already at %d env steps (--train-for-env-steps %d); raise it to train on",
                self.experiment.root,
                self.state.env_steps,
                self.cfg.train_for_env_steps,
            )
        handlers = install_signal_handlers(self.stop)
        try:
            # ~1 s of imports: on a thread, while the workers start and fill their first slots
            for policy in self.policies.all():
                policy.learner.prepare_in_background()
            source.start()
            source.wait_ready(stop=lambda: bool(self.stop))
            startup.mark("workers")
            self.state.start_session()  # training time counts from here (start-up excluded)
            loop.run()
            if not self.stop:
                for ext in self.extensions:
                    ext.finish(self.state.env_steps)
                loop.exchange_matches()  # the final evaluation's games, before the final checkpoint
                loop.flush_reports()
        except KeyboardInterrupt:
            self.stop.request("SIGINT")  # handlers not installed (not the main thread) or Ctrl-C before them
            raise
        finally:
            self.interrupted = self.stop.signal_name
            if self.interrupted == "SIGTERM":
                log.warning("SIGTERM received: stopping (checkpoint, logs), exit 0; rerun the same command to resume")
            elif self.interrupted == "SIGINT":
                log.warning("interrupted (Ctrl-C): writing a checkpoint; press Ctrl-C again to exit at once")
            # A second Ctrl-C during cleanup exits at once; the last checkpoint on disk stays intact
            # (writes are atomic), only this final one is lost.
            if handlers is not None:
                signal.signal(signal.SIGINT, exit_now)
            try:
                if self.state.session_steps > 0:
                    self.checkpointer.save(final=True)
                    loop.housekeeping(force_report=True)
            finally:
                try:
                    source.stop()
                finally:
                    for ext in self.extensions:
                        ext.close()
                    self.reporter.close()
                    restore_signal_handlers(handlers)
        if self.interrupted == "SIGINT":
            raise KeyboardInterrupt  # after the checkpoint: the CLI exits 130
        wall = time.monotonic() - wall0
        bests = [p.state.best_reward for p in self.policies.all() if p.state.best_reward is not None]
        return TrainSummary(
            env_steps=self.state.env_steps,
            policy_version=self.policies.latest_version,
            train_seconds=self.state.train_seconds,
            wall_seconds=wall,
            fps=self.state.session_steps / max(wall, 1e-9),
            stats=self.reporter.episode_stats(),
            experiment_dir=str(self.experiment.root),
            checkpoint=self.checkpointer.last_path,
            best_reward=max(bests) if bests else None,
            interrupted=self.interrupted,
            env_errors=self.reporter.env_errors_total,
            worker_restarts=source.restarts,
            policy_rewards={p.id: p.window.flat().get("reward_mean") for p in self.policies.all()},
        )


def train(cfg: Config) -> TrainSummary:
    """Train ``cfg`` to ``train_for_env_steps`` and return a summary.

    Raises ``ConfigError`` for invalid settings (before any process starts) and ``WorkerError`` when
    a rollout worker raises or dies (after writing a checkpoint).
    """
    setup_logging("main")
    return Trainer(cfg).run()
