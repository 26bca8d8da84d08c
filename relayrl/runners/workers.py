"""The rollout worker processes as seen from the trainer: start, feed, watch, restart, stop.

Each worker ``w`` runs in a spawned process with its own inbox queue; all workers share one
outbox. A worker that dies without a message (killed, segfault, out of memory) is replaced by a
new process with fresh envs, up to ``--max-worker-restarts`` times in total: the slots it held are
handed to the new process and anything the old one still had in flight is discarded (messages
carry the sender's generation, and those of a dead generation are dropped). A worker that
*reports* an error, or a death past the restart budget, raises ``WorkerError``.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import time
from collections.abc import Callable
from typing import Any

from relayrl.errors import ConfigError

log = logging.getLogger("relayrl.workers")

STARTUP_TIMEOUT_SECONDS = 300.0
STOP_TIMEOUT_SECONDS = 5.0
UNGUARDED_MAIN_EXIT_CODE = 78
"""Exit code of a worker process that found ``train`` called while it imported the user's script."""
UNGUARDED_MAIN_MESSAGE = (
    "relayrl.train() was called while a worker process was importing your script: worker processes "
    "are started with 'spawn', which imports the main script again, so a training call at the top "
    'level runs in every worker. Put it under `if __name__ == "__main__":`.'
)


class WorkerError(RuntimeError):
    """A rollout worker raised or died; the message carries its traceback or exit code."""


class WorkerPool:
    """Worker processes, their queues, which slots each one holds, and their restarts."""

    def __init__(self, num_workers: int, make_args: Callable[[int, int, Any, Any], tuple], max_restarts: int) -> None:
        """``make_args(worker, generation, inbox, outbox)`` returns the ``worker_main`` arguments."""
        from relayrl.sampling.process import worker_main

        self.ctx = mp.get_context("spawn")
        self.target = worker_main
        self.make_args = make_args
        self.max_restarts = max_restarts
        self.restarts = 0
        self.outbox = self.ctx.Queue()
        self.inboxes: list[Any] = [None] * num_workers
        self.procs: list[Any] = [None] * num_workers
        self.generation = [0] * num_workers
        self.held: list[set[int]] = [set() for _ in range(num_workers)]
        self.backlog: list[Any] = []
        for w in range(num_workers):
            self._start(w)

    def _start(self, w: int) -> None:
        self.inboxes[w] = self.ctx.Queue()
        args = self.make_args(w, self.generation[w], self.inboxes[w], self.outbox)
        self.procs[w] = self.ctx.Process(target=self.target, args=args, name=f"relayrl-worker-{w}", daemon=True)
        self.procs[w].start()

    # ----- slots -----

    def give(self, w: int, slot: int) -> None:
        self.held[w].add(slot)
        self.inboxes[w].put(("slot", slot))

    # ----- messages -----

    def receive(self, timeout: float) -> Any | None:
        """The next live ``("rollout", report)`` or ``("ready", w)`` message, or None after ``timeout``.

        Checks worker liveness whenever the queue is idle; raises WorkerError on a reported error.
        """
        if self.backlog:
            return self.backlog.pop(0)
        try:
            msg = self.outbox.get(timeout=timeout)
        except queue.Empty:
            self.check()
            return None
        return self._filter(msg)

    def _filter(self, msg: tuple) -> Any | None:
        kind, w, gen = msg[0], msg[1], msg[2]
        if gen != self.generation[w]:
            return None  # from a process that was replaced: its slots were handed on already
        if kind == "error":
            raise WorkerError(f"worker {w} raised:\n{msg[3]}")
        if kind == "rollout":
            self.held[w].discard(msg[3].slot)
            return ("rollout", msg[3])
        return (kind, w)

    def check(self) -> list[int]:
        """Restart dead workers (within budget); returns the restarted indices."""
        restarted = []
        for w, p in enumerate(self.procs):
            if p.exitcode is None:
                continue
            self._drain()  # an error it reported before exiting must win over a restart
            if p.exitcode == UNGUARDED_MAIN_EXIT_CODE:  # a restart would fail the same way
                raise ConfigError(UNGUARDED_MAIN_MESSAGE)
            if self.restarts >= self.max_restarts:
                raise WorkerError(
                    f"worker {w} (pid {p.pid}) died with exit code {p.exitcode} and no message; "
                    f"{self.restarts} worker restart(s) already used (--max-worker-restarts {self.max_restarts})"
                )
            self.restarts += 1
            log.error(
                "worker %d (pid %d) died with exit code %s; restarting it with fresh envs (restart %d of %d)",
                w,
                p.pid,
                p.exitcode,
                self.restarts,
                self.max_restarts,
            )
            self.inboxes[w].cancel_join_thread()
            self.generation[w] += 1
            self._start(w)
            for slot in sorted(self.held[w]):
                self.inboxes[w].put(("slot", slot))
            restarted.append(w)
        return restarted

    def _drain(self) -> None:
        """Read what is already in the outbox into the backlog (a dead worker's last complete
        rollouts are still good data)."""
        while True:
            try:
                msg = self.outbox.get_nowait()
            except queue.Empty:
                return
            live = self._filter(msg)
            if live is not None:
                self.backlog.append(live)

    def wait_ready(self, stop: Callable[[], bool] = lambda: False) -> None:
        """Until every worker reported ready, or ``stop()`` is true (a signal during start-up)."""
        ready: set[int] = set()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while len(ready) < len(self.procs) and not stop():
            if time.monotonic() > deadline:
                missing = sorted(set(range(len(self.procs))) - ready)
                raise WorkerError(f"workers {missing} did not start within {STARTUP_TIMEOUT_SECONDS:.0f} s")
            msg = self.receive(0.5)
            if msg is not None and msg[0] == "ready":
                ready.add(msg[1])

    # ----- stop -----

    def stop(self) -> None:
        for inbox in self.inboxes:
            try:
                inbox.put(("stop",))
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for p in self.procs:
            p.join(timeout=max(0.1, deadline - time.monotonic()))
        for p in self.procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=1.0)
            if p.is_alive():
                p.kill()
                p.join(timeout=1.0)
        for q in [self.outbox, *self.inboxes]:
            q.cancel_join_thread()
            q.close()
