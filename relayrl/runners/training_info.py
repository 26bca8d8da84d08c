"""Trainer side of trainer -> env: composing and publishing training info.

The trainer part of the dict (everything but the live step count, which workers read from the
shared step counters at delivery time) is rebuilt and published at most every
``training_info_interval`` seconds, and at once after ``Trainer.set_reward_shaping``.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from relayrl.config import Config
from relayrl.hooks import resolve_hook
from relayrl.sampling.progress import SharedBlob

RESERVED_KEYS = frozenset(
    {"approx_total_training_steps", "policy_id", "policy_version", "train_seconds", "stats", "reward_shaping"}
)


class TrainingInfoError(RuntimeError):
    """The user's training-info function raised or returned something that is not a dict."""


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

    def __init__(self, cfg: Config, blob: SharedBlob, view: Callable[[], TrainerView]) -> None:
        self.cfg = cfg
        self.blob = blob
        self.view = view
        self.user_fn = resolve_hook(cfg.training_info.training_info_fn, "--training-info-fn")
        self.reward_shaping: dict[str, Any] | None = copy.deepcopy(cfg.training_info.reward_shaping)
        self.interval = cfg.training_info.training_info_interval
        self.last_publish = float("-inf")
        self.dirty = True

    def set_reward_shaping(self, shaping: dict[str, Any] | None) -> None:
        if shaping is not None and not isinstance(shaping, dict):
            raise TypeError(f"reward shaping must be a dict or None, got {type(shaping).__name__}")
        self.reward_shaping = copy.deepcopy(shaping)
        self.dirty = True

    def compose(self) -> dict[str, Any]:
        view = self.view()
        info: dict[str, Any] = {
            "policy_id": 0,
            "policy_version": view.policy_version,
            "train_seconds": view.train_seconds,
            "stats": copy.deepcopy(dict(view.stats)),
        }
        if self.reward_shaping is not None:
            info["reward_shaping"] = copy.deepcopy(self.reward_shaping)
        if self.user_fn is not None:
            info.update(self._user_keys(view))
        return info

    def _user_keys(self, view: TrainerView) -> dict[str, Any]:
        name = self.cfg.training_info.training_info_fn
        try:
            extra = self.user_fn(view)  # type: ignore[misc]
        except Exception as exc:
            raise TrainingInfoError(f"--training-info-fn {name!r} raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(extra, dict):
            raise TrainingInfoError(
                f"--training-info-fn {name!r} returned {type(extra).__name__}; it must return a dict of extra keys."
            )
        clash = RESERVED_KEYS & set(extra)
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
