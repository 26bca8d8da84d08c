"""env -> trainer: turning ``info["episode_extra_stats"]`` into flat ``{path: float}`` records."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

EXTRA_STATS_KEY = "episode_extra_stats"


def _as_number(value: Any) -> float | None:
    """bool / int / float / numpy scalar / 0-d array or tensor -> float; anything else -> None."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if getattr(value, "shape", None) == () and hasattr(value, "item"):
        try:
            item = value.item()
        except (TypeError, ValueError):
            return None
        return float(item) if isinstance(item, (bool, numbers.Real)) else None
    return None


def flatten_extra_stats(stats: Any, on_skip: Callable[[str, Any], None], prefix: str = "") -> dict[str, float]:
    """Flatten nested dicts to ``{"a/b/c": float}``; ``on_skip(key, value)`` for non-numbers."""
    if not isinstance(stats, Mapping):
        on_skip(prefix or EXTRA_STATS_KEY, stats)
        return {}
    out: dict[str, float] = {}
    for key, value in stats.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten_extra_stats(value, on_skip, path))
            continue
        number = _as_number(value)
        if number is None:
            on_skip(path, value)
        else:
            out[path] = number
    return out
