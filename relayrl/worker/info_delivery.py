"""Worker side of trainer -> env: when and to whom training info is delivered.

Deliveries happen only between env steps, and the env batch makes them, so an exception in
``set_training_info`` is handled like one in ``step`` (envs/faults.py): ``round`` gives the batch
a delivery round before a batch step, ``before_reset`` runs right before an env resets. Each delivery
builds the dict from the latest published trainer part (``SharedBlob``) plus
``approx_total_training_steps`` and, with a ``policies`` table, each policy's ``env_steps``, summed
from the live step counters at that moment (``info_schema.complete``), so when it is read a step
count trails the true one by at most one in-flight batch step of each other worker.
The staleness samples this records are the delivery latency (counters and clock between reading
the value and the env receiving it); benchmarks/training_info.py measures against ground truth.
"""

from __future__ import annotations

import time
from typing import Any

from relayrl import info_schema
from relayrl.config import Config
from relayrl.envs.batch import VectorEnvBatch
from relayrl.envs.info_interface import find_training_info_interface, vector_training_info_targets
from relayrl.worker.context import InfoReader, StepCounting


class _Round:
    """One delivery round: the env batch calls ``to_env(i)`` / ``to_whole()`` right before stepping."""

    __slots__ = ("delivery", "info", "t_read")

    def __init__(self, delivery: TrainingInfoDelivery, info: dict[str, Any], t_read: float) -> None:
        self.delivery, self.info, self.t_read = delivery, info, t_read

    def to_env(self, i: int) -> None:
        target = self.delivery.per_env[i]
        if target is not None:
            self.delivery.deliver(target, self.delivery.for_env(i, self.info), self.t_read)

    def to_whole(self) -> None:
        if self.delivery.whole is not None:
            self.delivery.deliver(self.delivery.whole, dict(self.info), self.t_read)


class TrainingInfoDelivery:
    """Delivers training info to the env instances of one worker and measures its staleness."""

    def __init__(
        self, cfg: Config, env_batch: Any, counters: StepCounting, blob: InfoReader, agent_info: Any = None
    ) -> None:
        """``agent_info``: with several policies or a multi-agent env, ``agent_info.decorate(env_index, info)``
        adds which policy controls each agent of that env (``worker/agent_info.py``)."""
        self.agent_info = agent_info
        self.counters = counters
        self.blob = blob
        self.interval = cfg.training_info.interval
        self.episode_mode = cfg.training_info.delivery == "episode"
        self.num_envs = env_batch.num_envs
        self.whole: Any | None
        self.per_env: list[Any | None]
        envs = env_batch.envs()
        if isinstance(env_batch, VectorEnvBatch):
            self.whole, subs = vector_training_info_targets(envs[0])
            self.per_env = subs + [None] * (self.num_envs - len(subs))
        else:
            self.per_env = [find_training_info_interface(env) for env in envs]
            self.whole = None
        self.enabled = self.whole is not None or any(t is not None for t in self.per_env)
        self.delivered = [False] * self.num_envs
        self.whole_delivered = False
        self.blob_version = -1
        self.trainer_part: dict[str, Any] = {}
        self.trainer_part_time = time.monotonic()
        self.last_round = float("-inf")
        self.staleness_steps: list[float] = []
        self.staleness_seconds: list[float] = []

    # ----- building the dict -----

    def _compose(self) -> tuple[dict[str, Any], float]:
        """The dict to deliver and the time its step count was read."""
        version = self.blob.version()
        if version != self.blob_version:
            self.blob_version, value = self.blob.read()
            self.trainer_part = value or {}
        # each policy's env_steps from the live counters too (only when a policies table is published)
        per_policy = self.counters.policy_totals() if info_schema.POLICIES in self.trainer_part else ()
        info = info_schema.complete(self.trainer_part, self.counters.total(), per_policy)
        return info, time.monotonic()

    def for_env(self, env_index: int, info: dict[str, Any]) -> dict[str, Any]:
        """The dict env ``env_index`` gets (a new one per delivery)."""
        if self.agent_info is None:
            return dict(info)
        return self.agent_info.decorate(env_index, info)

    def deliver(self, target: Any, info: dict[str, Any], t_read: float) -> None:
        """Hand ``info`` (read at ``t_read``) to ``target`` and record its staleness at arrival."""
        target.set_training_info(info)
        # Staleness at arrival: how far the true total moved on since the value was read.
        self.staleness_steps.append(float(self.counters.total() - info[info_schema.APPROX_TOTAL_TRAINING_STEPS]))
        self.staleness_seconds.append(time.monotonic() - t_read)

    # ----- hooks -----

    def round(self) -> _Round | None:
        """Called by the env batch once per batch step, before stepping: a delivery round (every env
        gets the same fresh value) at most every ``interval`` seconds, else None."""
        if self.episode_mode:
            return None
        now = time.monotonic()
        if now - self.last_round < self.interval:
            return None
        self.last_round = now
        info, t_read = self._compose()
        return _Round(self, info, t_read)

    def before_reset(self, env_index: int, force: bool = False) -> None:
        """Called right before env ``env_index`` resets: delivers in episode mode, and always before
        an env's first episode (so that episode already has training info); ``force``: deliver now
        anyway (the env's agents were just mapped to policies for the new episode)."""
        if not self.enabled:
            return
        first = not self.delivered[env_index]
        self.delivered[env_index] = True
        if not (first or self.episode_mode or force):
            return
        info, t_read = self._compose()
        target = self.per_env[env_index]
        if target is not None:
            self.deliver(target, self.for_env(env_index, info), t_read)
        if self.whole is not None and (self.episode_mode or not self.whole_delivered):
            self.whole_delivered = True
            self.deliver(self.whole, info, t_read)

    def drain_staleness(self) -> tuple[list[float], list[float]]:
        steps, seconds = self.staleness_steps, self.staleness_seconds
        self.staleness_steps, self.staleness_seconds = [], []
        return steps, seconds
