"""``ProcessSource`` (``--backend local``, the default): one process per rollout worker on this machine.

Each worker ``w`` runs ``worker/process.py`` (started as ``worker/launcher.py`` says: forked from a
forkserver with torch imported) with its own inbox queue; all workers share one outbox.
Trajectories go through shared-memory slots; the queues carry only the small messages of
``worker/messages.py``. A worker that dies without a message (killed, segfault, out of memory) is
replaced by a new process with fresh envs, up to ``--max-worker-restarts`` times in total: the slots it
held go to the new process and whatever the old one still had in flight is dropped (messages carry the
sender's generation, and those of a replaced generation are ignored). Complete rollouts it had already
sent are kept. A worker that *reports* an error, or a death past the restart budget, raises
``WorkerError``.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from typing import Any

from relayrl.config import Config
from relayrl.errors import ConfigError, WorkerError
from relayrl.trainer.sources.base import ContextFactory, SlotLayout
from relayrl.trainer.sources.restarts import RestartBudget
from relayrl.worker import launcher
from relayrl.worker.main_guard import UNGUARDED_MAIN_EXIT_CODE, UNGUARDED_MAIN_MESSAGE
from relayrl.worker.messages import FromWorker, GrantSlot, Ready, RolloutDone, Stop, WorkerFailed
from relayrl.worker.process import worker_main
from relayrl.worker.report import RolloutReport

log = logging.getLogger("relayrl.workers")

STARTUP_TIMEOUT_SECONDS = 300.0
STOP_TIMEOUT_SECONDS = 5.0


class ProcessSource:
    shared_memory = True
    samples_while_training = True

    @staticmethod
    def slots_per_worker(cfg: Config) -> int:
        return cfg.num_slots_per_worker

    def __init__(self, cfg: Config, layout: SlotLayout, contexts: ContextFactory) -> None:
        n = layout.num_workers
        self.layout = layout
        self.contexts = contexts
        self.budget = RestartBudget(cfg.faults.max_worker_restarts)
        self.ctx = launcher.context()
        self.outbox: Any = None
        self.inboxes: list[Any] = [None] * n
        self.procs: list[Any] = [None] * n
        self.generation = [0] * n
        self.held: list[set[int]] = [set() for _ in range(n)]
        """Slots each worker holds (granted, not yet reported back)."""
        self.backlog: list[RolloutReport] = []
        self.ready: set[int] = set()

    @property
    def restarts(self) -> int:
        return self.budget.used

    # ----- start -----

    def start(self) -> None:
        self.outbox = self.ctx.Queue()
        for w in range(self.layout.num_workers):
            self._spawn(w)

    def _spawn(self, w: int) -> None:
        self.inboxes[w] = self.ctx.Queue()
        context = self.contexts(w, self.generation[w])
        args = (context, self.inboxes[w], self.outbox)
        self.procs[w] = self.ctx.Process(target=worker_main, args=args, name=f"relayrl-worker-{w}", daemon=True)
        self.procs[w].start()

    def wait_ready(self, stop: Callable[[], bool]) -> None:
        """Until every worker reported ready, or ``stop()`` is true (a signal during start-up)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while len(self.ready) < len(self.procs) and not stop():
            if time.monotonic() > deadline:
                missing = sorted(set(range(len(self.procs))) - self.ready)
                raise WorkerError(f"workers {missing} did not start within {STARTUP_TIMEOUT_SECONDS:.0f} s")
            # one message at a time: ``receive`` would wait on for a rollout after the last Ready
            try:
                msg = self.outbox.get(timeout=0.5)
            except queue.Empty:
                self.check_health()
                continue
            report = self._accept(msg)
            if report is not None:
                self.backlog.append(report)

    # ----- slots and reports -----

    def grant(self, slot: int) -> None:
        w = self.layout.owner(slot)
        self.held[w].add(slot)
        self.inboxes[w].put(GrantSlot(slot))

    def receive(self, timeout: float) -> RolloutReport | None:
        """The next live rollout report, or None after ``timeout``; checks worker health whenever the
        queue is idle; raises ``WorkerError`` on a reported error."""
        if self.backlog:
            return self.backlog.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.outbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.check_health()
                return None
            report = self._accept(msg)
            if report is not None:
                return report
            if time.monotonic() >= deadline:
                return None

    def _accept(self, msg: FromWorker) -> RolloutReport | None:
        if msg.generation != self.generation[msg.worker]:
            return None  # from a process that was replaced: its slots were handed on already
        if isinstance(msg, WorkerFailed):
            raise WorkerError(f"worker {msg.worker} raised:\n{msg.traceback}")
        if isinstance(msg, Ready):
            self.ready.add(msg.worker)
            return None
        assert isinstance(msg, RolloutDone)
        self.held[msg.worker].discard(msg.report.slot)
        return msg.report

    # ----- health -----

    def check_health(self) -> None:
        """Restart dead workers within the budget; WorkerError past it."""
        for w, p in enumerate(self.procs):
            if p is None or p.exitcode is None:
                continue
            self._drain()  # an error it reported before exiting must win over a restart
            if p.exitcode == UNGUARDED_MAIN_EXIT_CODE:  # a restart would fail the same way
                raise ConfigError(UNGUARDED_MAIN_MESSAGE)
            self.budget.spend(f"worker {w} (pid {p.pid}) died with exit code {p.exitcode} and no message")
            log.error(
                "worker %d (pid %d) died with exit code %s; restarting it with fresh envs (restart %d of %d)",
                w,
                p.pid,
                p.exitcode,
                self.budget.used,
                self.budget.limit,
            )
            self.inboxes[w].cancel_join_thread()
            self.generation[w] += 1
            self._spawn(w)
            for slot in sorted(self.held[w]):
                self.inboxes[w].put(GrantSlot(slot))

    def _drain(self) -> None:
        """Read what is already in the outbox into the backlog (a dead worker's last complete
        rollouts are still good data)."""
        while True:
            try:
                msg = self.outbox.get_nowait()
            except queue.Empty:
                return
            report = self._accept(msg)
            if report is not None:
                self.backlog.append(report)

    # ----- stop -----

    def stop(self) -> None:
        # a process whose start failed (e.g. too many descriptors to pass) has nothing to stop
        procs = [p for p in self.procs if p is not None and p.pid is not None]
        for inbox in self.inboxes:
            try:
                if inbox is not None:
                    inbox.put(Stop())
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for p in procs:
            p.join(timeout=max(0.1, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=1.0)
            if p.is_alive():
                p.kill()
                p.join(timeout=1.0)
        for q in [self.outbox, *self.inboxes]:
            if q is not None:
                q.cancel_join_thread()
                q.close()
