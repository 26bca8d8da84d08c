"""The one place that wires workers, learner, reporting and checkpoints together.

``train(cfg)`` validates, then runs either the multi-process loop (workers in spawned processes,
trajectories in shared memory) or the serial loop (the same worker and learner objects in this
process). See docs/architecture.md for who owns what.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import multiprocessing as mp
import os
import queue
import random
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from relayrl.config import Config, ConfigError, validate
from relayrl.envs import check_spaces, probe_spaces
from relayrl.learning import checkpoints
from relayrl.learning.learner import Learner
from relayrl.runners.reporting import Reporter
from relayrl.runners.training_info import TrainerView, TrainingInfoPublisher
from relayrl.sampling.buffers import SharedWeights, TrajectoryBuffers
from relayrl.sampling.progress import SharedBlob, StepCounters
from relayrl.sampling.worker import RolloutReport
from relayrl.utils.logs import setup_logging

log = logging.getLogger("relayrl.runner")

STARTUP_TIMEOUT_SECONDS = 300.0
POLL_SECONDS = 0.5


class WorkerError(RuntimeError):
    """A rollout worker raised or died; the message carries its traceback or exit code."""


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
        validate(cfg)
        if cfg.seed is None:
            cfg = dataclasses.replace(cfg, seed=random.SystemRandom().randrange(2**31))
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.obs_space, self.action_space = probe_spaces(cfg)
        check_spaces(self.obs_space, self.action_space)
        self.exp_dir = Path(cfg.experiment_dir)
        resume_state = self._resume_state()
        self.exp_dir.mkdir(parents=True, exist_ok=True)
        with open(self.exp_dir / "config.json", "w") as f:
            json.dump(cfg.to_dict(), f, indent=2)

        assert cfg.seed is not None
        if self.device.type == "cpu":
            # Measured on 2 cores with 2 workers: 1 learner thread gives ~1.4x the fps of 2 (less contention).
            torch.set_num_threads(cfg.learner_threads)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        self.learner = Learner(cfg, self.obs_space, self.action_space, self.device)
        self.env_steps = 0
        self.train_seconds_before = 0.0
        self.best_reward: float | None = None
        if resume_state is not None:
            self._restore(resume_state)
        self.reporter = Reporter(cfg, self.exp_dir, self.env_steps, resumed=resume_state is not None)
        ctx = mp.get_context("spawn")
        self.counters = StepCounters(cfg.sampling.num_workers, base=self.env_steps)
        self.blob = SharedBlob(ctx=ctx)
        self.publisher = TrainingInfoPublisher(cfg, self.blob, self.view)
        if resume_state is not None and "reward_shaping" in resume_state:
            self.publisher.set_reward_shaping(resume_state["reward_shaping"])
        self.weights = SharedWeights(self.learner.model.state_dict(), ctx)
        self.weights.publish(self.learner.model.state_dict(), self.learner.policy_version)
        self.pending: list[int] = []
        self.slot_owner: dict[int, int] = {}
        self.last_checkpoint: str | None = None
        self.start_time = time.monotonic()
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
        }

    def save(self) -> None:
        path = checkpoints.save_checkpoint(
            self.exp_dir, self._checkpoint_state(), self.cfg.checkpointing.keep_checkpoints
        )
        self.last_checkpoint = str(path)
        self.last_save = time.monotonic()

    def _on_rollout(self, report: RolloutReport) -> None:
        self.env_steps += report.env_steps
        lag = self.learner.policy_version - report.policy_version
        self.reporter.add_rollout(report, lag)
        self.pending.append(report.slot)

    def _train_on(self, slots: list[int], before_train: Any = None) -> None:
        t0 = time.monotonic()
        batch = self.buffers.gather(slots, self.device)
        if before_train is not None:
            before_train(slots)
        stats = self.learner.train(batch, self.env_steps)
        self.weights.publish(self.learner.model.state_dict(), self.learner.policy_version)
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
        return self.env_steps >= self.cfg.train_for_env_steps

    # ----- entry -----

    def run(self) -> TrainSummary:
        wall0 = time.monotonic()
        steps0 = self.env_steps
        mode = "serial" if self.cfg.serial else f"{self.cfg.sampling.num_workers} worker processes"
        log.info(
            "experiment %s: %s, %s x %d envs, %s mode, learner on %s",
            self.exp_dir,
            self.cfg.env,
            mode,
            self.cfg.sampling.num_envs_per_worker,
            self.cfg.sampling.sampling_mode,
            self.device,
        )
        if self._done():
            log.info(
                "experiment %s is already at %d env steps (--train-for-env-steps %d); raise it to train on",
                self.exp_dir,
                self.env_steps,
                self.cfg.train_for_env_steps,
            )
        try:
            if self.cfg.serial:
                self._run_serial()
            else:
                self._run_parallel()
        finally:
            try:
                if self.env_steps > steps0:
                    self.save()
                    self._housekeeping(force_report=True)
            finally:
                self.reporter.close()
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

    # ----- serial -----

    def _run_serial(self) -> None:
        from relayrl.sampling.worker import RolloutWorker

        cfg = self.cfg
        k, nw = cfg.rollouts_per_batch, cfg.sampling.num_workers
        self._allocate(math.ceil(k / nw))
        assert cfg.seed is not None
        self.publisher.maybe_publish(force=True)
        workers = [
            RolloutWorker(cfg.without_hooks(), w, self.buffers, self.weights, cfg.seed, self.counters, self.blob)
            for w in range(nw)
        ]
        free = {w: self._owned(w) for w in range(nw)}
        try:
            w = 0
            while not self._done():
                report = workers[w].collect(free[w].pop())
                self._on_rollout(report)
                if len(self.pending) >= k:
                    slots, self.pending = self.pending[:k], self.pending[k:]
                    self._train_on(slots)
                    for slot in slots:
                        free[slot // self.slots_per_worker].append(slot)
                self._housekeeping()
                w = (w + 1) % nw
        finally:
            for worker in workers:
                worker.close()

    # ----- parallel -----

    def _run_parallel(self) -> None:
        from relayrl.sampling.process import worker_main

        cfg = self.cfg
        nw = cfg.sampling.num_workers
        self._allocate(cfg.num_slots_per_worker)
        ctx = mp.get_context("spawn")
        worker_cfg = cfg.without_hooks()
        # Published before the workers start, so every env's first episode already has training info.
        self.publisher.maybe_publish(force=True)
        outbox = ctx.Queue()
        inboxes = [ctx.Queue() for _ in range(nw)]
        procs = [
            ctx.Process(
                target=worker_main,
                args=(
                    worker_cfg,
                    w,
                    self.buffers,
                    self.weights,
                    cfg.seed,
                    self.counters,
                    self.blob,
                    inboxes[w],
                    outbox,
                    os.getpid(),
                ),
                name=f"relayrl-worker-{w}",
                daemon=True,
            )
            for w in range(nw)
        ]
        for p in procs:
            p.start()
        try:
            self._wait_ready(procs, outbox)
            for w in range(nw):
                for slot in self._owned(w):
                    inboxes[w].put(("slot", slot))
            self._parallel_loop(procs, inboxes, outbox)
        finally:
            self._stop_workers(procs, inboxes, outbox)

    def _check_workers(self, procs: list[Any]) -> None:
        for w, p in enumerate(procs):
            if p.exitcode is not None:
                raise WorkerError(f"worker {w} (pid {p.pid}) died with exit code {p.exitcode} and no message")

    def _receive(self, procs: list[Any], outbox: Any, timeout: float) -> Any:
        """One message from the workers, or None after ``timeout``; raises WorkerError on errors."""
        t0 = time.monotonic()
        try:
            msg = outbox.get(timeout=timeout)
        except queue.Empty:
            self._check_workers(procs)
            return None
        finally:
            self.reporter.add_main_time("wait", time.monotonic() - t0)
        if msg[0] == "error":
            raise WorkerError(f"worker {msg[1]} raised:\n{msg[2]}")
        return msg

    def _wait_ready(self, procs: list[Any], outbox: Any) -> None:
        ready: set[int] = set()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while len(ready) < len(procs):
            if time.monotonic() > deadline:
                raise WorkerError(
                    f"workers {sorted(set(range(len(procs))) - ready)} did not start within "
                    f"{STARTUP_TIMEOUT_SECONDS:.0f} s"
                )
            msg = self._receive(procs, outbox, POLL_SECONDS)
            if msg is not None and msg[0] == "ready":
                ready.add(msg[1])

    def _parallel_loop(self, procs: list[Any], inboxes: list[Any], outbox: Any) -> None:
        k = self.cfg.rollouts_per_batch
        sync = self.cfg.sampling.sampling_mode == "sync"

        def give_back(slots: list[int]) -> None:
            for slot in slots:
                inboxes[slot // self.slots_per_worker].put(("slot", slot))

        last_check = time.monotonic()
        while not self._done():
            msg = self._receive(procs, outbox, POLL_SECONDS)
            if msg is not None and msg[0] == "rollout":
                self._on_rollout(msg[1])
            if len(self.pending) >= k and not self._done():
                slots, self.pending = self.pending[:k], self.pending[k:]
                # async: the batch is a copy, so the slots go back before training and the workers
                # keep sampling meanwhile; sync: they go back only with the new weights published.
                self._train_on(slots, before_train=None if sync else give_back)
                if sync:
                    give_back(slots)
            if time.monotonic() - last_check > 1.0:
                self._check_workers(procs)
                last_check = time.monotonic()
            self._housekeeping()

    def _stop_workers(self, procs: list[Any], inboxes: list[Any], outbox: Any) -> None:
        for inbox in inboxes:
            try:
                inbox.put(("stop",))
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 10.0
        for p in procs:
            p.join(timeout=max(0.1, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=2.0)
            if p.is_alive():
                p.kill()
        for q in [outbox, *inboxes]:
            q.cancel_join_thread()
            q.close()


def train(cfg: Config) -> TrainSummary:
    """Train ``cfg`` to ``train_for_env_steps`` and return a summary.

    Raises ``ConfigError`` for invalid settings (before any process starts) and ``WorkerError`` when
    a rollout worker raises or dies (after writing a checkpoint).
    """
    setup_logging("main")
    return Trainer(cfg).run()
