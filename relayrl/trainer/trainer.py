"""The one place that builds the trainer's parts and wires them together.

``Trainer(cfg)`` validates the config, builds the learner, restores a resume (before anything is
written, so a refused resume changes nothing on disk), then allocates the shared memory and the
publisher. ``run()`` starts a rollout source (``trainer/sources``), hands everything to the one
``TrainingLoop`` and, however the loop ends, writes the final checkpoint and report, then stops the
workers. See docs/architecture.md.
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
from relayrl.multiagent.mapping import validate_mapping
from relayrl.multiagent.pool import SnapshotPool
from relayrl.pbt.controller import PopulationController
from relayrl.shared.progress import SharedBlob, StepCounters
from relayrl.shared.trajectories import TrajectoryBuffers
from relayrl.shared.weights import SharedWeights
from relayrl.trainer import checkpointer as ckpt
from relayrl.trainer import sources
from relayrl.trainer.info_publisher import TrainerView, TrainingInfoError, TrainingInfoPublisher
from relayrl.trainer.loop import LoopParts, TrainingLoop
from relayrl.trainer.reporting import Reporter
from relayrl.trainer.signals import StopFlag, exit_now, install_signal_handlers, restore_signal_handlers
from relayrl.trainer.sources import backend_name, source_class
from relayrl.trainer.sources.base import SlotLayout
from relayrl.trainer.state import DEFAULT_POLICY, PolicyState, TrainState
from relayrl.utils import startup
from relayrl.utils.logs import setup_logging
from relayrl.validation import validate
from relayrl.worker import launcher
from relayrl.worker.context import WorkerContexts
from relayrl.worker.process import refuse_in_worker_bootstrap

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
    interrupted: str | None = None
    """``"SIGTERM"`` when the run was stopped by SIGTERM (it can be resumed)."""
    env_errors: int = 0
    """Env exceptions handled by restarting the env."""
    worker_restarts: int = 0


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available on this machine; use --device cpu.")
    return torch.device(name)


def _resume(experiment: Experiment, cfg: Config, learners: dict[int, Learner]) -> tuple[TrainState, dict] | None:
    """The train state of the experiment's latest checkpoint, with ``learner`` restored from it; None
    for a new experiment. Nothing is written: a refused resume leaves the experiment as it was."""
    if not experiment.checkpoints():
        return None
    if not cfg.checkpointing.resume:
        raise ConfigError(
            f"experiment directory {experiment.root} already has checkpoints and --no-resume was given; "
            "choose another --experiment or drop --no-resume to continue it."
        )
    saved_preset = experiment.read_config().preset if experiment.config_path.exists() else None
    if saved_preset != cfg.preset:
        raise ConfigError(
            f"experiment {experiment.root} was trained with --preset {saved_preset or '(none)'} "
            f"({experiment.config_path}), this run has --preset {cfg.preset or '(none)'}; give the same "
            "--preset to continue it, or choose another --experiment."
        )
    data = ckpt.load_latest(experiment)
    if data is None:
        raise ConfigError(f"no readable checkpoint in {experiment.checkpoint_dir}; move it away.")
    if sorted(data["policies"]) != sorted(learners):
        # fewer policies would drop the others from every later checkpoint; more would start untrained ones
        raise ConfigError(
            f"checkpoint {data['path']} has policies {sorted(data['policies'])}, this config {sorted(learners)}; "
            f"resume with --num-policies {len(data['policies'])} or choose a new --experiment."
        )
    for pid, learner in learners.items():
        try:
            learner.load_state_dict(data["policies"][pid]["learner"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"checkpoint {data['path']} does not match this config's model ({exc}); "
                f"train with the settings in {experiment.config_path} or choose a new --experiment."
            ) from exc
    state = TrainState.from_dict(data)
    learner = learners[DEFAULT_POLICY]
    log.info("resumed from %s (env steps %d, policy version %d)", data["path"], state.env_steps, learner.policy_version)
    if state.curriculum_states:
        log.info("resuming the curriculum state of %d env(s)", len(state.curriculum_states))
    return state, data


class Trainer:
    """Owns the learner, train state, shared memory, reporter, publisher and checkpointer of a run.

    ``Trainer(cfg).run()`` is what ``relayrl.train(cfg)`` does; keep the object to change reward
    shaping while it runs (``set_reward_shaping`` is safe to call from another thread or a hook).
    """

    def __init__(self, cfg: Config) -> None:
        refuse_in_worker_bootstrap()
        validate(cfg)
        sources.start_early(cfg)  # e.g. the worker forkserver imports torch while this process builds the rest
        if cfg.seed is None:
            cfg = dataclasses.replace(cfg, seed=random.SystemRandom().randrange(2**31))
        assert cfg.seed is not None
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.obs_space, self.action_space, self.agents = probe_env(cfg)
        check_spaces(self.obs_space, self.action_space)
        validate_mapping(cfg, self.agents, cfg.sampling.num_workers * cfg.sampling.num_envs_per_worker)
        num_policies = cfg.multi_agent.num_policies
        self.source_cls = source_class(backend_name(cfg))
        self.experiment = Experiment.of(cfg)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        # The weights' orthogonal init runs many small LAPACK calls: one thread does them in microseconds,
        # while several threads wait on each other for tens of ms per call on a busy machine.
        torch.set_num_threads(1)
        self.learners = {k: Learner(cfg, self.obs_space, self.action_space, self.device) for k in range(num_policies)}
        self.learner = self.learners[DEFAULT_POLICY]
        if self.device.type == "cpu":
            torch.set_num_threads(cfg.learner_threads(self.learner.model.multiply_adds_per_sample()))
        resumed = _resume(self.experiment, cfg, self.learners)
        self.state = resumed[0] if resumed is not None else TrainState()
        for k in range(num_policies):
            if k not in self.state.policies:
                self.state.policies[k] = PolicyState(reward_shaping=cfg.training_info.reward_shaping)
        if resumed is None:
            self.state.policies[DEFAULT_POLICY].reward_shaping = cfg.training_info.reward_shaping
        self.experiment.write_config(cfg)  # only now: the resume (if any) was accepted

        self.reporter = Reporter(cfg, self.experiment, self.state.env_steps, resumed=resumed is not None)
        ctx = launcher.context()
        self.counters = StepCounters(
            cfg.sampling.num_workers,
            base=self.state.env_steps,
            policy_base=[self.state.policies[k].env_steps for k in sorted(self.state.policies)],
        )
        self.blob = SharedBlob(ctx=ctx)
        self.weights_of = {k: SharedWeights(learner.model.state_dict(), ctx) for k, learner in self.learners.items()}
        self.pool: SnapshotPool | None = None
        if cfg.multi_agent.self_play:
            self.pool = SnapshotPool(cfg.multi_agent, self.learner.model.state_dict(), num_policies, ctx)
            saved = resumed[1].get("self_play") if resumed is not None else None
            if saved:
                self.pool.load_state_dict(saved)
                log.info("resumed the self-play pool (%d snapshots)", len(self.pool.versions))
        per_policy = num_policies > 1 or cfg.multi_agent.self_play or self.agents is not None
        self.publisher = TrainingInfoPublisher(
            cfg, self.blob, self.state, self.view, self.policy_table if per_policy else None
        )
        try:  # a broken --training-info-fn is bad input: fail before any process starts
            self.publisher.compose()
        except TrainingInfoError as exc:
            raise ConfigError(str(exc)) from exc
        self.population: PopulationController | None = None
        if cfg.pbt.pbt:
            self.population = PopulationController(cfg.pbt, self.learners, self.state, self.publisher, cfg.seed)
            saved_pbt = resumed[1].get("pbt") if resumed is not None else None
            if saved_pbt:
                self.population.load_state_dict(saved_pbt)
                log.info("resumed the population (%d lineage events)", len(self.population.lineage))
            else:  # a new run, or PBT switched on for a run that had none
                self.population.start_new()
        self.weights = self.weights_of[DEFAULT_POLICY]
        self.checkpointer = ckpt.Checkpointer(
            self.experiment,
            cfg.checkpointing,
            cfg.to_dict(),
            self.state,
            self.learners,
            self.reporter.episode_stats,
            pool=self.pool,
            population=self.population,
        )
        self.stop = StopFlag()
        self.interrupted: str | None = None
        startup.mark("trainer")

    # ----- public -----

    def view(self) -> TrainerView:
        """A read-only snapshot of the trainer (what ``--training-info-fn`` receives)."""
        return TrainerView(
            env_steps=self.state.env_steps,
            policy_version=self.learner.policy_version,
            train_seconds=self.state.train_seconds,
            stats=MappingProxyType(self.reporter.training_stats()),
            learner_stats=MappingProxyType(dict(self.reporter.learner_stats)),
            config=self.cfg,
        )

    def policy_table(self) -> dict[int, dict[str, Any]]:
        """Every policy's own progress, as published in ``training_info["policies"]``."""
        out = {}
        for k, learner in self.learners.items():
            entry: dict[str, Any] = {
                "policy_version": learner.policy_version,
                "env_steps": self.state.policies[k].env_steps,
                "stats": self.reporter.training_stats(k),
            }
            if self.state.policies[k].reward_shaping is not None:
                entry["reward_shaping"] = self.state.policies[k].reward_shaping
            if self.state.policies[k].env_params is not None:
                entry["env_params"] = self.state.policies[k].env_params
            out[k] = entry
        return out

    def set_reward_shaping(self, shaping: dict[str, Any] | None, policy_id: int = DEFAULT_POLICY) -> None:
        """Deliver a new ``reward_shaping`` dict to the envs of policy ``policy_id`` (saved with checkpoints)."""
        self.publisher.set_reward_shaping(shaping, policy_id)

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
            self.learner.model.rnn_state_size,
            shared=self.source_cls.shared_memory,
            num_policies=len(self.learners),
        )
        n = cfg.sampling.num_envs_per_worker
        contexts = WorkerContexts(
            cfg,
            buffers,
            tuple(self.weights_of[k] for k in sorted(self.weights_of)),
            self.counters,
            self.blob,
            # a resumed run samples new episodes, not a replay of the first run's
            base_seed=cfg.seed + self.state.env_steps,  # type: ignore[operator]
            curriculum_states=lambda w: self.state.curriculum_states_of(w * n, n),
            snapshot_weights=self.pool.weights if self.pool is not None else (),
            pool_table=self.pool.table if self.pool is not None else None,
        )
        return self.source_cls(cfg, layout, contexts), layout, buffers

    def _log_start(self) -> None:
        cfg = self.cfg
        mode = "serial" if cfg.serial else f"{cfg.sampling.num_workers} worker processes ({backend_name(cfg)})"
        threads = f" ({torch.get_num_threads()} threads)" if self.device.type == "cpu" else ""
        log.info(
            "experiment %s: %s, %s x %d envs, %s mode, learner on %s%s",
            self.experiment.root,
            cfg.env,
            mode,
            cfg.sampling.num_envs_per_worker,
            cfg.sampling.sampling_mode,
            self.device,
            threads,
        )

    # ----- entry -----

    def run(self) -> TrainSummary:
        wall0 = time.monotonic()
        self._log_start()
        source, layout, buffers = self._source_and_buffers()
        for k, learner in self.learners.items():
            self.weights_of[k].publish(learner.model.state_dict(), learner.policy_version)
        if self.pool is not None and not self.pool.versions:
            self.pool.add(self.learner.model.state_dict(), self.learner.policy_version)
        # Published before the workers start, so every env's first episode already has training info.
        self.publisher.maybe_publish(force=True)
        loop = TrainingLoop(
            LoopParts(
                cfg=self.cfg,
                source=source,
                layout=layout,
                buffers=buffers,
                learners=self.learners,
                policy_weights=self.weights_of,
                pool=self.pool,
                population=self.population,
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
            self.learner.prepare_in_background()
            source.start()
            source.wait_ready(stop=lambda: bool(self.stop))
            startup.mark("workers")
            self.state.start_session()  # training time counts from here (start-up excluded)
            loop.run()
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
                    self.reporter.close()
                    restore_signal_handlers(handlers)
        if self.interrupted == "SIGINT":
            raise KeyboardInterrupt  # after the checkpoint: the CLI exits 130
        wall = time.monotonic() - wall0
        return TrainSummary(
            env_steps=self.state.env_steps,
            policy_version=self.learner.policy_version,
            train_seconds=self.state.train_seconds,
            wall_seconds=wall,
            fps=self.state.session_steps / max(wall, 1e-9),
            stats=self.reporter.episode_stats(),
            experiment_dir=str(self.experiment.root),
            checkpoint=self.checkpointer.last_path,
            best_reward=self.state.policies[DEFAULT_POLICY].best_reward,
            interrupted=self.interrupted,
            env_errors=self.reporter.env_errors_total,
            worker_restarts=source.restarts,
        )


def train(cfg: Config) -> TrainSummary:
    """Train ``cfg`` to ``train_for_env_steps`` and return a summary.

    Raises ``ConfigError`` for invalid settings (before any process starts) and ``WorkerError`` when
    a rollout worker raises or dies (after writing a checkpoint).
    """
    setup_logging("main")
    return Trainer(cfg).run()
