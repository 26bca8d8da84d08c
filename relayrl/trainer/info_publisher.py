"""Trainer side of trainer -> env: composing and publishing the trainer part of training info.

The trainer part (everything but the live step count, which workers read from the shared step
counters at delivery time: ``worker/info_delivery.py``) is rebuilt with ``info_schema.trainer_part``
and published at most every ``training_info_interval`` seconds, and at once after a change of reward
shaping. User keys come from ``--training-info-fn``, called here with a read-only ``TrainerView``.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from relayrl import info_schema
from relayrl.config import Config
from relayrl.errors import TrainingInfoError
from relayrl.hooks import resolve_hook
from relayrl.shared.progress import SharedBlob
from relayrl.trainer.state import TrainState


@dataclasses.dataclass(frozen=True)
class TrainerView:
    """What a ``training_info_fn`` sees: a read-only snapshot of the trainer."""

    env_steps: int
    """Env steps received by the trainer (the live count envs get may be slightly ahead)."""
    policy_version: int
    train_seconds: float
    stats: MappingProxyType
    """Aggregated episode stats, same layout as ``training_info["stats"]``."""
    learner_stats: MappingProxyType
    """The last update's losses and statistics."""
    config: Config


class TrainingInfoPublisher:
    """Builds the trainer part of training info and publishes it to the workers."""

    def __init__(
        self,
        cfg: Config,
        blob: SharedBlob,
        state: TrainState,
        view: Callable[[], TrainerView],
        policy_table: Callable[[], dict[int, dict[str, Any]]],
    ) -> None:
        """``policy_table()``: every policy's own progress (``info_schema.POLICIES``, ``PolicySet.table``)."""
        self.cfg = cfg
        self.policy_table = policy_table
        self.blob = blob
        self.state = state
        self.view = view
        self.user_fn = resolve_hook(cfg.training_info.fn, "--training-info-fn")
        self.interval = cfg.training_info.interval
        self.last_publish = float("-inf")
        self.dirty = True
        self.extension_keys: dict[str, Any] = {}

    def set_reward_shaping(self, shaping: dict[str, Any] | None, policy_id: int) -> None:
        """Change a policy's reward shaping (kept in the train state); published at the next chance."""
        if shaping is not None and not isinstance(shaping, dict):
            raise TypeError(f"reward shaping must be a dict or None, got {type(shaping).__name__}")
        self.state.policies[policy_id].reward_shaping = copy.deepcopy(shaping)
        self.dirty = True

    def set_env_params(self, params: dict[str, float] | None, policy_id: int) -> None:
        """Change a policy's declared env parameters (population-based training); published at the next chance."""
        self.state.policies[policy_id].env_params = dict(params) if params is not None else None
        self.dirty = True

    def set_key(self, key: str, value: Any) -> None:
        """Set a reserved key that an extension owns (``info_schema.TASK_DISTRIBUTION``); published at the
        next chance (the loop's next pass)."""
        self.extension_keys[key] = value
        self.dirty = True

    def compose(self) -> dict[str, Any]:
        """The trainer part now (``TrainingInfoError`` when the user function misbehaves)."""
        view = self.view()
        user_keys = self._user_keys(view) if self.user_fn is not None else None
        keys = {**self.extension_keys, **(user_keys or {})}
        return info_schema.trainer_part(view.train_seconds, self.policy_table(), keys)

    def _user_keys(self, view: TrainerView) -> dict[str, Any]:
        name = self.cfg.training_info.fn
        try:
            extra = self.user_fn(view)  # type: ignore[misc]
        except Exception as exc:
            raise TrainingInfoError(f"--training-info-fn {name!r} raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(extra, dict):
            raise TrainingInfoError(
                f"--training-info-fn {name!r} returned {type(extra).__name__}; it must return a dict of extra keys."
            )
        clash = info_schema.RESERVED_KEYS & set(extra)
        if clash:
            raise TrainingInfoError(
                f"--training-info-fn {name!r} returned reserved key(s) {sorted(clash)}; rename them."
            )
        return extra

    def maybe_publish(self, force: bool = False) -> bool:
        now = time.monotonic()
        if not (force or self.dirty or now - self.last_publish >= self.interval):
            return False
        self.blob.publish(self.compose())
        self.last_publish = now
        self.dirty = False
        return True
