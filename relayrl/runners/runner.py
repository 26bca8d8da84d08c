"""The one place that wires workers, learner, reporting and checkpoints together.

``train(cfg)`` validates, then runs either the multi-process loop (workers in spawned processes,
trajectories in shared memory) or the serial loop (the same worker and learner objects in this
process); both loops are in ``loops.py``. See docs/architecture.md for who owns what.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import multiprocessing as mp
import random
import signal
import sys
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from relayrl.config import Config, ConfigError
from relayrl.envs import check_spaces, probe_spaces
from relayrl.learning import checkpoints
from relayrl.learning.learner import Learner
from relayrl.runners.loops import run_parallel, run_serial
from relayrl.runners.reporting import Reporter
from relayrl.runners.signals import StopFlag, exit_now, install_signal_handlers, restore_signal_handlers
from relayrl.runners.training_info import TrainerView, TrainingInfoError, TrainingInfoPublisher
from relayrl.runners.workers import UNGUARDED_MAIN_EXIT_CODE, UNGUARDED_MAIN_MESSAGE
from relayrl.sampling.buffers import SharedWeights, TrajectoryBuffers
from relayrl.sampling.progress import SharedBlob, StepCounters
from relayrl.sampling.worker import RolloutReport
from relayrl.utils.logs import setup_logging
from relayrl.validation import validate

log = logging.getLogger("relayrl.runner")


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


def refuse_in_worker_bootstrap() -> None:
    """A script that calls ``train`` at import time runs it again in every worker process, which
    imports the main script while it starts ('spawn'). Such a worker stops at once with a message
    and an exit code the trainer turns into a ``ConfigError`` (instead of restarting it)."""
    if getattr(mp.current_process(), "_inheriting", False):  # set by multiprocessing.spawn meanwhile
        print(f"relayrl: {UNGUARDED_MAIN_MESSAGE}", file=sys.stderr, flush=True)
        raise SystemExit(UNGUARDED_MAIN_EXIT_CODE)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available on this machine; use --device cpu.")
    return torch.device(name)


class Trainer:
    """Owns the learner, the shared buffers, the reporter and (in parallel mode) the worker processes.

    ``Trainer(cfg).run()`` is what ``relayrl.train(cfg)`` does; keep the object to change reward
    shaping while it runs (``set_reward_shaping`` is safe to call from another thread or a hook).
    """

    def __init__(self, cfg: Config) -> None:
        refuse_in_worker_bootstrap()
        validate(cfg)
        if cfg.seed is None:
            cfg = dataclasses.replace(cfg, seed=random.SystemRandom().randrange(2**31))
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.obs_space, self.action_space = probe_spaces(cfg)
        check_spaces(self.obs_space, self.action_space)
        self.exp_dir = Path(cfg.experiment_dir)
        resume_state = self._resume_state()
        try:
            self.exp_dir.mkdir(parents=True, exist_ok=True)
            with open(self.exp_dir / "config.json", "w") as f:
                json.dump(cfg.to_dict(), f, indent=2)
        except OSError as exc:
            raise ConfigError(
                f"cannot write to the experiment directory {self.exp_dir} ({exc.strerror or exc}); "
                "choose a writable --train-dir or free some disk space."
            ) from exc

        assert cfg.seed is not None
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        self.learner = Learner(cfg, self.obs_space, self.action_space, self.device)
        if self.device.type == "cpu":
            torch.set_num_threads(cfg.learner_threads(self.learner.model.multiply_adds_per_sample()))
        self.env_steps = 0
        self.train_seconds_before = 0.0
        self.best_reward: float | None = None
        self.curriculum_states: dict[int, dict[str, Any]] = {}
        """The latest curriculum state of each env, by global env index (saved with checkpoints)."""
        if resume_state is not None:
            self._restore(resume_state)
        self.start_time = time.monotonic()
        self.reporter = Reporter(cfg, self.exp_dir, self.env_steps, resumed=resume_state is not None)
        ctx = mp.get_context("spawn")
        self.counters = StepCounters(cfg.sampling.num_workers, base=self.env_steps)
        self.blob = SharedBlob(ctx=ctx)
        self.publisher = TrainingInfoPublisher(cfg, self.blob, self.view)
        if resume_state is not None and "reward_shaping" in resume_state:
            self.publisher.set_reward_shaping(resume_state["reward_shaping"])
        try:  # a broken --training-info-fn is bad input: fail before any process starts
            self.publisher.compose()
        except TrainingInfoError as exc:
            raise ConfigError(str(exc)) from exc
        self.resumed_steps = self.env_steps
        self.worker_restarts = 0
        self.interrupted: str | None = None
        self.stop = StopFlag()
        self.weights = SharedWeights(self.learner.model.state_dict(), ctx)
        self._publish_weights()
        self.pending: list[int] = []
        self.last_checkpoint: str | None = None
        self.start_time = time.monotonic()  # training time counts from here (start-up excluded)
        self.last_report = self.start_time
        self.last_save = self.start_time

    # ----- resume -----

    def _resume_state(self) -> dict[str, Any] | None:
        if not checkpoints.list_checkpoints(self.exp_dir):
            return None
        if not self.cfg.checkpointing.resume:
            raise ConfigError(
                f"experiment directory {self.exp_dir} already has checkpoints and --no-resume was given; "
                "choose another --experiment or drop --no-resume to continue it."
            )
        state = checkpoints.load_latest(self.exp_dir)
        if state is None:
            raise ConfigError(f"no readable checkpoint in {checkpoints.checkpoint_dir(self.exp_dir)}; move it away.")
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        try:
            self.learner.load_state_dict(state["learner"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"checkpoint {state.get('path')} does not match this config's model ({exc}); "
                "use the saved config.json settings or a new --experiment."
            ) from exc
        self.env_steps = int(state["env_steps"])
        self.train_seconds_before = float(state["train_seconds"])
        self.best_reward = state.get("best_reward")
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        self.curriculum_states = {int(k): v for k, v in (state.get("curriculum_states") or {}).items()}
        if self.curriculum_states:
            log.info("resuming the curriculum state of %d env(s)", len(self.curriculum_states))
        log.info(
            "resumed from %s (env steps %d, policy version %d)",
            state.get("path"),
            self.env_steps,
            self.learner.policy_version,
        )

    # ----- public -----

    @property
    def train_seconds(self) -> float:
        return self.train_seconds_before + time.monotonic() - self.start_time

    def view(self) -> TrainerView:
        """A read-only snapshot of the trainer (what ``--training-info-fn`` receives)."""
        return TrainerView(
            env_steps=self.env_steps,
            policy_version=self.learner.policy_version,
            train_seconds=self.train_seconds,
            stats=MappingProxyType(self.reporter.training_stats()),
            learner_stats=MappingProxyType(dict(self.reporter.learner_stats)),
            config=self.cfg,
        )

    def set_reward_shaping(self, shaping: dict[str, Any] | None) -> None:
        """Deliver a new ``reward_shaping`` dict to every env (saved with checkpoints)."""
        self.publisher.set_reward_shaping(shaping)

    # ----- shared loop pieces -----

    def _checkpoint_state(self) -> dict[str, Any]:
        return {
            "learner": self.learner.state_dict(),
            "policy_version": self.learner.policy_version,
            "env_steps": self.env_steps,
            "train_seconds": self.train_seconds,
            "best_reward": self.best_reward,
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state()},
            "config": self.cfg.to_dict(),
            "episode_stats": self.reporter.episode_stats(),
            "reward_shaping": self.publisher.reward_shaping,
            "curriculum_states": dict(self.curriculum_states),
        }

    def save(self, final: bool = False) -> None:
        """Write a checkpoint. A periodic one that fails (disk full, ...) is logged and retried at
        the next interval; the final one raises ``CheckpointError``."""
        self.last_save = time.monotonic()
        try:
            path = checkpoints.save_checkpoint(
                self.exp_dir, self._checkpoint_state(), self.cfg.checkpointing.keep_checkpoints
            )
        except OSError as exc:
            where = checkpoints.checkpoint_dir(self.exp_dir)
            message = (
                f"could not write a checkpoint to {where} ({exc.strerror or exc}); "
                f"free disk space or make it writable. Last good checkpoint: {self.last_checkpoint}"
            )
            if final:
                raise CheckpointError(message) from exc
            log.error("%s; training goes on and retries in %.0f s", message, self.cfg.checkpointing.save_every_seconds)
            return
        self.last_checkpoint = str(path)

    def _worker_seed(self) -> int:
        """Workers of a resumed run sample new episodes, not a replay of the first run's."""
        assert self.cfg.seed is not None
        return self.cfg.seed + self.resumed_steps

    def _curriculum_states_of(self, worker: int) -> dict[int, dict[str, Any]]:
        """The saved curriculum states of worker ``worker``'s envs (global env index -> state)."""
        n = self.cfg.sampling.num_envs_per_worker
        first = worker * n
        return {i: s for i, s in self.curriculum_states.items() if first <= i < first + n}

    def _on_rollout(self, report: RolloutReport) -> None:
        self.env_steps += report.env_steps
        lag = self.learner.policy_version - report.policy_version
        self.reporter.add_rollout(report, lag)
        if report.curriculum_states:
            self.curriculum_states.update(report.curriculum_states)
        self.pending.append(report.slot)

    def _publish_weights(self) -> None:
        self.weights.publish(self.learner.model.state_dict(), self.learner.policy_version)

    def _train_on(self, slots: list[int], publish_every_epoch: bool = False) -> None:
        """One update on ``slots``, then publish the weights (also after each epoch if asked: the
        parallel loop asks in async mode, where workers sample while the learner trains)."""
        t0 = time.monotonic()
        batch = self.buffers.gather(slots, self.device)
        stats = self.learner.train(batch, self.env_steps, self._publish_weights if publish_every_epoch else None)
        self._publish_weights()
        self.reporter.add_learner_stats(stats)
        self.reporter.add_main_time("learner", time.monotonic() - t0)

    def _housekeeping(self, force_report: bool = False) -> None:
        self.publisher.maybe_publish()
        now = time.monotonic()
        self.reporter.update_bar(self.env_steps)
        if force_report or now - self.last_report >= self.cfg.logging.report_interval:
            self.last_report = now
            self.reporter.report(self.env_steps, self.learner.policy_version, self.train_seconds)
            self._maybe_save_best()
        if now - self.last_save >= self.cfg.checkpointing.save_every_seconds:
            self.save()

    def _maybe_save_best(self) -> None:
        reward = self.reporter.mean_reward()
        enough = len(self.reporter.episodes) >= min(self.cfg.logging.stats_window, 10)
        if reward is None or not enough or math.isnan(reward):
            return
        if self.best_reward is None or reward > self.best_reward:
            self.best_reward = reward
            checkpoints.save_best(self.exp_dir, self._checkpoint_state())

    def _done(self) -> bool:
        if self.stop:
            return True
        if self.cfg.train_for_seconds is not None and time.monotonic() - self.start_time >= self.cfg.train_for_seconds:
            return True
        return self.env_steps >= self.cfg.train_for_env_steps

    # ----- entry -----

    def run(self) -> TrainSummary:
        wall0 = time.monotonic()
        steps0 = self.env_steps
        mode = "serial" if self.cfg.serial else f"{self.cfg.sampling.num_workers} worker processes"
        threads = f" ({torch.get_num_threads()} threads)" if self.device.type == "cpu" else ""
        log.info(
            "experiment %s: %s, %s x %d envs, %s mode, learner on %s%s",
            self.exp_dir,
            self.cfg.env,
            mode,
            self.cfg.sampling.num_envs_per_worker,
            self.cfg.sampling.sampling_mode,
            self.device,
            threads,
        )
        if self._done():
            log.info(
                "experiment %s is already at %d env steps (--train-for-env-steps %d); raise it to train on",
                self.exp_dir,
                self.env_steps,
                self.cfg.train_for_env_steps,
            )
        handlers = install_signal_handlers(self.stop)
        try:
            if self.cfg.serial:
                run_serial(self)
            else:
                run_parallel(self)
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
                if self.env_steps > steps0:
                    self.save(final=True)
                    self._housekeeping(force_report=True)
            finally:
                self.reporter.close()
                restore_signal_handlers(handlers)
        if self.interrupted == "SIGINT":
            raise KeyboardInterrupt  # after the checkpoint: the CLI exits 130
        wall = time.monotonic() - wall0
        return TrainSummary(
            env_steps=self.env_steps,
            policy_version=self.learner.policy_version,
            train_seconds=self.train_seconds,
            wall_seconds=wall,
            fps=(self.env_steps - steps0) / max(wall, 1e-9),
            stats=self.reporter.episode_stats(),
            experiment_dir=str(self.exp_dir),
            checkpoint=self.last_checkpoint,
            best_reward=self.best_reward,
            interrupted=self.interrupted,
            env_errors=self.reporter.env_errors_total,
            worker_restarts=self.worker_restarts,
        )

    def _allocate(self, slots_per_worker: int) -> None:
        cfg = self.cfg
        self.slots_per_worker = slots_per_worker
        self.buffers = TrajectoryBuffers.allocate(
            cfg.sampling.num_workers * slots_per_worker,
            cfg.sampling.rollout_length,
            cfg.sampling.num_envs_per_worker,
            self.obs_space,
            self.action_space,
            self.learner.model.rnn_state_size,
            shared=not cfg.serial,
        )

    def _owned(self, worker: int) -> list[int]:
        return list(range(worker * self.slots_per_worker, (worker + 1) * self.slots_per_worker))


class CheckpointError(RuntimeError):
    """The final checkpoint could not be written."""


def train(cfg: Config) -> TrainSummary:
    """Train ``cfg`` to ``train_for_env_steps`` and return a summary.

    Raises ``ConfigError`` for invalid settings (before any process starts) and ``WorkerError`` when
    a rollout worker raises or dies (after writing a checkpoint).
    """
    setup_logging("main")
    return Trainer(cfg).run()
