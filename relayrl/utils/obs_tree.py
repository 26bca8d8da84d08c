"""Observations are a tensor (or array) or a dict of them (Dict spaces): apply functions leaf-wise."""

from __future__ import annotations

from typing import Any


def map_obs(obs: Any, fn: Any) -> Any:
    """Apply ``fn`` to a tensor/array or to every leaf of a (nested) dict of them."""
    if isinstance(obs, dict):
        return {key: map_obs(value, fn) for key, value in obs.items()}
    return fn(obs)


def zip_obs(fn: Any, first: Any, *rest: Any) -> Any:
    """Apply ``fn(a, b, ...)`` leaf-wise over dicts with the same structure."""
    if isinstance(first, dict):
        return {key: zip_obs(fn, first[key], *(r[key] for r in rest)) for key in first}
    return fn(first, *rest)
