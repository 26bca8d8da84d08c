"""``RestartBudget``: the one count of worker restarts a rollout source may spend (``--max-worker-restarts``).

Every source that replaces dead workers asks it before each replacement; the count it keeps is what
the source reports as ``restarts`` (read by the reporter and ``TrainSummary``).
"""

from __future__ import annotations

from relayrl.errors import WorkerError


class RestartBudget:
    """At most ``limit`` worker restarts over the whole run, all workers together."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        """Restarts spent so far."""

    def spend(self, what: str) -> None:
        """Spend one restart on ``what`` (e.g. "worker 3 (pid 123) died with exit code -9"); past the
        budget, raise ``WorkerError`` with ``what`` and the budget instead."""
        if self.used >= self.limit:
            raise WorkerError(
                f"{what}; {self.used} worker restart(s) already used (--max-worker-restarts {self.limit})"
            )
        self.used += 1
