"""Where evaluations run: ``RUNNERS`` maps a ``--backend`` to an ``EvalRunner`` (imported only when chosen).

- ``ProcessRunner`` (``--backend local``): one evaluator process, forked like the rollout workers
  (``worker/launcher.py``), started at the first request. Requests go over one queue, reports come back
  over another; training never waits for it. It runs at the lowest CPU priority (``--eval-niceness``,
  default 19), so on a machine whose cores the workers and the learner fill it takes their idle time,
  not theirs. It exits by
  itself when the trainer is gone; an exception in it stops the run (``WorkerError`` with its traceback).
- ``InlineRunner`` (``--backend serial``): the evaluation runs in the trainer, between updates, when it
  is asked (training waits for it, as for every rollout in serial mode).
- ``RayRunner`` (``--backend ray``, ``ray_runner.py``): a Ray actor on the trainer's node, reading each
  evaluation's weights from the object store.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import signal
import time
import traceback
from typing import Any, Protocol

from relayrl.errors import WorkerError
from relayrl.evaluator.work import EvalFailed, EvalReport, EvalRequest, EvalSetup, Evaluator
from relayrl.hooks import import_object
from relayrl.utils.logs import setup_logging

POLL_SECONDS = 1.0
STOP_SECONDS = 3.0


def lower_priority(niceness: int) -> None:
    """Lower this process's CPU priority by ``niceness`` (``--eval-niceness``; the default 19: at 10 the
    evaluator still took enough CPU from the workers to cost CartPole's training about 10% of its frames/s)."""
    try:
        os.nice(niceness)
    except OSError:
        pass


class EvalRunner(Protocol):
    """Runs evaluation requests (one at a time) and hands back their reports."""

    def submit(self, request: EvalRequest) -> None: ...

    def poll(self) -> list[EvalReport]:
        """The reports finished since the last call (never blocks); ``WorkerError`` when the
        evaluation failed."""
        ...

    def wait(self, timeout: float) -> list[EvalReport]:
        """Like ``poll``, but waits up to ``timeout`` seconds for the evaluation in flight to finish."""
        ...

    def close(self) -> None: ...


class InlineRunner:
    """Evaluates in the calling thread, at ``submit``."""

    def __init__(self, setup: EvalSetup, ctx: Any) -> None:
        self.evaluator: Evaluator | None = None
        self.setup = setup
        self.done: list[EvalReport] = []

    def submit(self, request: EvalRequest) -> None:
        if self.evaluator is None:
            self.evaluator = Evaluator(self.setup)
        self.done.append(self.evaluator.run(request))

    def poll(self) -> list[EvalReport]:
        done, self.done = self.done, []
        return done

    def wait(self, timeout: float) -> list[EvalReport]:
        return self.poll()  # evaluations finish at submit

    def close(self) -> None:
        if self.evaluator is not None:
            self.evaluator.close()


class _Stop:
    """Tells the evaluator process to exit."""


def evaluator_main(setup: EvalSetup, inbox: Any, outbox: Any) -> None:
    """Entry point of the evaluator process: answer each ``EvalRequest`` with an ``EvalReport``."""
    setup_logging("evaluator")
    log = logging.getLogger("relayrl.evaluator")
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(setup.seed)  # sampled actions (--no-eval-deterministic)
    # the trainer alone decides how a run stops, as for the rollout workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    lower_priority(setup.cfg.evaluation.niceness)
    trainer = mp.parent_process()
    evaluator = None
    try:
        evaluator = Evaluator(setup)
        while True:
            try:
                msg = inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if trainer is not None and not trainer.is_alive():
                    log.warning("the trainer process is gone; the evaluator exits")
                    return
                continue
            if isinstance(msg, _Stop):
                return
            outbox.put(evaluator.run(msg))
    except BaseException:  # noqa: BLE001 - everything is reported to the trainer
        outbox.put(EvalFailed(traceback.format_exc()))
    finally:
        if evaluator is not None:
            evaluator.close()


class ProcessRunner:
    """Evaluates in a process of its own (see the module docstring)."""

    def __init__(self, setup: EvalSetup, ctx: Any) -> None:
        self.setup, self.ctx = setup, ctx
        self.inbox = ctx.Queue()
        self.outbox = ctx.Queue()
        self.process: Any = None

    def submit(self, request: EvalRequest) -> None:
        if self.process is None:
            self.process = self.ctx.Process(
                target=evaluator_main, args=(self.setup, self.inbox, self.outbox), name="relayrl-evaluator", daemon=True
            )
            self.process.start()
        self.inbox.put(request)

    def poll(self) -> list[EvalReport]:
        return self.wait(0.0)

    def wait(self, timeout: float) -> list[EvalReport]:
        done: list[EvalReport] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                left = deadline - time.monotonic()
                if done or left <= 0:
                    msg = self.outbox.get_nowait()
                else:  # a short timeout, to notice a dead evaluator process
                    msg = self.outbox.get(timeout=min(left, POLL_SECONDS))
            except queue.Empty:
                if done or time.monotonic() >= deadline or self.process is None or not self.process.is_alive():
                    break
                continue
            if isinstance(msg, EvalFailed):
                raise WorkerError(f"the evaluation process raised:\n{msg.traceback}")
            done.append(msg)
        if not done and self.process is not None and not self.process.is_alive():
            raise WorkerError(f"the evaluation process died (exit code {self.process.exitcode})")
        return done

    def close(self) -> None:
        if self.process is not None:
            try:
                self.inbox.put(_Stop())
            except (OSError, ValueError):
                pass
            self.process.join(timeout=STOP_SECONDS)
            if self.process.is_alive():  # in the middle of an evaluation: its result is not needed
                self.process.terminate()
                self.process.join(timeout=1.0)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(timeout=1.0)
        for q in (self.inbox, self.outbox):
            q.cancel_join_thread()
            q.close()


RUNNERS: dict[str, str] = {
    "serial": "relayrl.evaluator.runners:InlineRunner",
    "local": "relayrl.evaluator.runners:ProcessRunner",
    "ray": "relayrl.evaluator.ray_runner:RayRunner",
}
"""``--backend`` -> ``"module:Class"`` of the runner its evaluations run in (one registration line per backend;
the class is built with the ``EvalSetup`` and the workers' multiprocessing context)."""


def runner_for(backend: str, setup: EvalSetup, ctx: Any) -> EvalRunner:
    """The runner of ``backend`` for ``setup`` (``ctx``: the multiprocessing context of the workers)."""
    runner: EvalRunner = import_object(RUNNERS[backend], f"evaluation with --backend {backend}")(setup, ctx)
    return runner
