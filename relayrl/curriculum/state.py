"""Finding curricula in env chains, and the worker side of saving / restoring their state.

A curriculum is any object in an env's wrapper chain with ``get_state`` and ``set_state`` methods
(found from the outside in, following ``.env``, like ``find_training_info_interface``). A worker
snapshots the state of each of its envs' curricula, keyed by the env's global index
(``worker_index * num_envs_per_worker + j``), and sends the snapshots to the trainer with a rollout
report; on resume it gets them back and restores them before each env's first reset.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from relayrl.envs.unwrap import first_in_chain, sub_envs

log = logging.getLogger("relayrl.curriculum")

STATE_INTERVAL_SECONDS = 1.0
"""A worker sends curriculum states at most this often (and always with its first report)."""


def is_curriculum(obj: Any) -> bool:
    return callable(getattr(type(obj), "get_state", None)) and callable(getattr(type(obj), "set_state", None))


def find_curriculum(env: Any) -> Any | None:
    """The first object in ``env``'s wrapper chain (outermost first, following ``.env``) that has
    ``get_state`` and ``set_state``, or None."""
    return first_in_chain(env, is_curriculum)


def _sub_envs(vector_env: Any) -> list[Any]:
    """The sub-envs of a vector env living in this process (``SyncVectorEnv.envs``), else []."""
    return sub_envs(vector_env) or []


def batch_curricula(env_batch: Any) -> list[Any | None]:
    """One entry per env of an env batch: its curriculum or None. A ``ListEnvBatch`` has one env per
    index; a ``VectorEnvBatch`` is searched for sub-envs (``SyncVectorEnv``; sub-envs in other
    processes cannot be reached and count as None)."""
    from relayrl.envs.batch import VectorEnvBatch

    n = env_batch.num_envs
    if isinstance(env_batch, VectorEnvBatch):
        found = [find_curriculum(sub) for sub in _sub_envs(env_batch.envs()[0])]
    else:
        found = [find_curriculum(env) for env in env_batch.envs()]
    return (found + [None] * n)[:n]


class WorkerCurricula:
    """The curricula of one worker's envs: restore on start, rate-limited snapshots for the trainer."""

    def __init__(self, env_batch: Any, first_index: int, interval: float = STATE_INTERVAL_SECONDS) -> None:
        self.env_batch = env_batch
        self.first_index = first_index
        self.interval = interval
        self.enabled = any(c is not None for c in batch_curricula(env_batch))
        self.last_sent = float("-inf")
        self.latest: dict[int, dict[str, Any]] = {}
        """The last state seen (or restored) per global env index: given to a restarted env."""

    def restore(self, states: Mapping[int, Any] | None) -> int:
        """``set_state`` on each env's curriculum that has a saved state; returns how many were
        restored. Call before the envs' first reset."""
        if not states or not self.enabled:
            return 0
        restored = 0
        for j, curriculum in enumerate(batch_curricula(self.env_batch)):
            state = states.get(self.first_index + j)
            if curriculum is None or state is None:
                continue
            curriculum.set_state(state)
            self.latest[self.first_index + j] = state
            restored += 1
        return restored

    def collect(self) -> dict[int, dict[str, Any]]:
        """``get_state()`` of every curriculum, by global env index."""
        states = {}
        for j, curriculum in enumerate(batch_curricula(self.env_batch)):
            if curriculum is not None:
                states[self.first_index + j] = curriculum.get_state()
        self.latest.update(states)
        return states

    def maybe_collect(self) -> dict[int, dict[str, Any]] | None:
        """The states, the first time and then at most every ``interval`` seconds; else None."""
        if not self.enabled:
            return None
        now = time.monotonic()
        if now - self.last_sent < self.interval:
            return None
        self.last_sent = now
        return self.collect()

    def wrap_restarts(self) -> None:
        """Make an env that the batch recreates after an error continue its curriculum from the last
        state seen for it (instead of starting over at its start level)."""
        restarter = getattr(self.env_batch, "restarter", None)
        make = getattr(restarter, "make", None)
        if not self.enabled or restarter is None or make is None:
            return

        def make_restored(i: int) -> Any:
            env = make(i)
            if i < 0:  # a vector env is rebuilt whole
                for j, sub in enumerate(_sub_envs(env)):
                    self._restore_into(sub, self.first_index + j)
            else:
                self._restore_into(env, self.first_index + i)
            return env

        restarter.make = make_restored

    def _restore_into(self, env: Any, index: int) -> None:
        curriculum = find_curriculum(env)
        state = self.latest.get(index)
        if curriculum is not None and state is not None:
            curriculum.set_state(state)
