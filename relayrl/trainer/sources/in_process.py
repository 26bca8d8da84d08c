"""``InProcessSource`` (``--backend serial``): the rollout workers are objects in the trainer's process.

``receive`` fills the next granted slot of the next worker in turn, right away; nothing samples while
the learner trains (like sync mode, lag 0). Same worker and learner code as the other backends, in one
process: for debugging, profiling and fast tests.
"""

from __future__ import annotations

from collections.abc import Callable

from relayrl.config import Config
from relayrl.trainer.sources.base import ContextFactory, SlotLayout
from relayrl.worker.report import RolloutReport
from relayrl.worker.rollout import RolloutWorker


class InProcessSource:
    shared_memory = False
    samples_while_training = False

    @staticmethod
    def slots_per_worker(cfg: Config) -> int:
        return cfg.rollouts_per_worker

    def __init__(self, cfg: Config, layout: SlotLayout, contexts: ContextFactory) -> None:
        self.layout = layout
        self.contexts = contexts
        self.workers: list[RolloutWorker] = []
        self.free: list[list[int]] = [[] for _ in range(layout.num_workers)]
        self.next_worker = 0

    @property
    def restarts(self) -> int:
        return 0  # an exception in an in-process worker stops the run

    def start(self) -> None:
        for w in range(self.layout.num_workers):
            self.workers.append(RolloutWorker(self.contexts(w, 0)))

    def wait_ready(self, stop: Callable[[], bool]) -> None:
        return None

    def grant(self, slot: int) -> None:
        self.free[self.layout.owner(slot)].append(slot)

    def receive(self, timeout: float) -> RolloutReport:
        n = self.layout.num_workers
        for i in range(n):
            w = (self.next_worker + i) % n
            if self.free[w]:
                self.next_worker = (w + 1) % n
                return self.workers[w].collect(self.free[w].pop())
        # Each worker owns one batch's worth of slots, so a batch is always complete first.
        raise RuntimeError("in-process source: no granted slot left; the loop must train and grant slots back")

    def check_health(self) -> None:
        return None

    def stop(self) -> None:
        for worker in self.workers:
            worker.close()
        self.workers.clear()
