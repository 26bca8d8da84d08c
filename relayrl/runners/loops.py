"""The two ways a ``Trainer`` drives its rollout workers.

``run_serial``: the workers are objects in this process, stepped in turn (debugging, tests,
``--serial``). ``run_parallel``: one spawned process per worker, trajectories in shared-memory slots;
the trainer hands each worker the slots it may fill and gives them back after training on them.
Both use the trainer's loop pieces (``_on_rollout``, ``_train_on``, ``_housekeeping``, ``_done``);
the trainer owns all state, these functions only sequence it.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from relayrl.runners.workers import WorkerPool

if TYPE_CHECKING:
    from relayrl.runners.runner import Trainer

POLL_SECONDS = 0.5
"""How long the parallel loop waits for a rollout before it runs its housekeeping anyway."""


def run_serial(trainer: Trainer) -> None:
    from relayrl.sampling.worker import RolloutWorker

    cfg = trainer.cfg
    k, nw = cfg.rollouts_per_batch, cfg.sampling.num_workers
    trainer._allocate(cfg.rollouts_per_worker)
    trainer.publisher.maybe_publish(force=True)
    workers = [
        RolloutWorker(
            cfg.without_hooks(),
            w,
            trainer.buffers,
            trainer.weights,
            trainer._worker_seed(),
            trainer.counters,
            trainer.blob,
            trainer._curriculum_states_of(w),
        )
        for w in range(nw)
    ]
    free = {w: trainer._owned(w) for w in range(nw)}
    try:
        w = 0
        while not trainer._done():
            report = workers[w].collect(free[w].pop())
            trainer._on_rollout(report)
            if len(trainer.pending) >= k:
                slots, trainer.pending = trainer.pending[:k], trainer.pending[k:]
                trainer._train_on(slots)
                for slot in slots:
                    free[slot // trainer.slots_per_worker].append(slot)
            trainer._housekeeping()
            w = (w + 1) % nw
    finally:
        for worker in workers:
            worker.close()


def run_parallel(trainer: Trainer) -> None:
    cfg = trainer.cfg
    nw = cfg.sampling.num_workers
    trainer._allocate(cfg.num_slots_per_worker)
    worker_cfg = cfg.without_hooks()
    seed = trainer._worker_seed()
    # Published before the workers start, so every env's first episode already has training info.
    trainer.publisher.maybe_publish(force=True)

    def make_args(w: int, generation: int, inbox: Any, outbox: Any) -> tuple:
        # a restarted worker gets a different seed (same envs, new episodes) and continues the
        # curricula of its envs from the latest states the trainer has
        return (
            worker_cfg,
            w,
            generation,
            trainer.buffers,
            trainer.weights,
            seed + 100_003 * generation,
            trainer.counters,
            trainer.blob,
            inbox,
            outbox,
            os.getpid(),
            trainer._curriculum_states_of(w),
        )

    pool = WorkerPool(nw, make_args, cfg.faults.max_worker_restarts)
    try:
        trainer.learner.prepare()  # ~1 s of imports, while the workers import and build their envs
        pool.wait_ready(stop=lambda: bool(trainer.stop))
        for w in range(nw):
            for slot in trainer._owned(w):
                pool.give(w, slot)
        _parallel_loop(trainer, pool)
    finally:
        trainer.worker_restarts = pool.restarts
        pool.stop()


def _parallel_loop(trainer: Trainer, pool: WorkerPool) -> None:
    k = trainer.cfg.rollouts_per_batch
    sampling = trainer.cfg.sampling
    # async: workers start rollouts while the learner trains; weights published after each epoch
    # reach those rollouts (sync-mode workers wait for the update's end anyway)
    publish_every_epoch = sampling.sampling_mode == "async" and sampling.publish_every_epoch

    def give_back(slots: list[int]) -> None:
        for slot in slots:
            pool.give(slot // trainer.slots_per_worker, slot)

    last_check = time.monotonic()
    while not trainer._done():
        t0 = time.monotonic()
        msg = pool.receive(POLL_SECONDS)
        trainer.reporter.add_main_time("wait", time.monotonic() - t0)
        if msg is not None and msg[0] == "rollout":
            trainer._on_rollout(msg[1])
        if len(trainer.pending) >= k and not trainer._done():
            slots, trainer.pending = trainer.pending[:k], trainer.pending[k:]
            # The slots go back only with the new weights published, so the rollouts they
            # collect next start from the newest policy: lag 0 in sync mode, about 1 in async
            # mode, where each worker meanwhile fills its other slots (num_buffers_per_worker).
            # Returning them before training (the batch is a copy) would let the workers run
            # a batch further ahead when the learner is the bottleneck: lag 2, no more frames/s.
            trainer._train_on(slots, publish_every_epoch)
            give_back(slots)
        if time.monotonic() - last_check > 1.0:
            if pool.check():
                trainer.reporter.worker_restarts = pool.restarts
            last_check = time.monotonic()
        trainer._housekeeping()
