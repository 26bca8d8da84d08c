"""Gymnasium spaces as plain JSON (for the metadata of exported policies) and the named inputs they become.

A plain observation space is one input called ``obs``; a Dict space is one input per leaf, called
``obs.<key>`` (nested keys joined with ``.``), in the sorted-key order relayrl's models use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from relayrl.models.encoders import Leaf, flatten_obs_space


@dataclass(frozen=True)
class ObsInput:
    """One named model input: the raw observation leaf at ``path``, batch dim first."""

    name: str
    path: tuple[str, ...]
    dtype: torch.dtype  # the env's dtype: uint8 images stay uint8, Discrete is int64
    shape: tuple[int, ...]  # without the batch dim; () for Discrete


def _sub_space(space: gym.Space, path: tuple[str, ...]) -> gym.Space:
    for key in path:
        assert isinstance(space, gym.spaces.Dict)
        space = space.spaces[key]
    return space


def _input_of(space: gym.Space, leaf: Leaf, plain: bool) -> ObsInput:
    name = "obs" if plain else "obs." + ".".join(leaf.path)
    sub = _sub_space(space, leaf.path)
    if leaf.kind == "discrete":
        return ObsInput(name, leaf.path, torch.int64, ())
    dtype = torch.from_numpy(np.zeros(0, dtype=sub.dtype)).dtype
    return ObsInput(name, leaf.path, dtype, leaf.shape)


def obs_inputs(obs_space: gym.Space) -> list[ObsInput]:
    """The named inputs of ``obs_space`` (ConfigError for spaces relayrl models do not support)."""
    plain = not isinstance(obs_space, gym.spaces.Dict)
    return [_input_of(obs_space, leaf, plain) for leaf in flatten_obs_space(obs_space)]


def nest_obs(inputs: list[ObsInput], tensors: tuple[torch.Tensor, ...]) -> Any:
    """Tensors in ``inputs`` order -> the (nested dict) observation the model takes."""
    if len(inputs) == 1 and not inputs[0].path:
        return tensors[0]
    root: dict[str, Any] = {}
    for spec, tensor in zip(inputs, tensors, strict=True):
        node = root
        for key in spec.path[:-1]:
            node = node.setdefault(key, {})
        node[spec.path[-1]] = tensor
    return root


def _number(x: float | int) -> float | int | str:
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else "-inf"  # strict JSON has no infinity
    return x


def _bound(values: np.ndarray) -> Any:
    """A scalar when every entry is the same (image bounds), else a nested list."""
    flat = values.reshape(-1)
    if flat.size and (flat == flat[0]).all():
        return _number(flat[0].item())
    return np.vectorize(lambda v: _number(float(v)), otypes=[object])(values).tolist()


def space_to_json(space: gym.Space) -> dict[str, Any]:
    """A JSON-able description of ``space``: its type, shape, dtype, bounds / sizes (Dict: nested)."""
    if isinstance(space, gym.spaces.Dict):
        return {"type": "Dict", "spaces": {key: space_to_json(sub) for key, sub in space.spaces.items()}}
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        start = getattr(space, "start", np.zeros_like(space.nvec))
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist(), "start": np.asarray(start).tolist()}
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": _bound(space.low),
            "high": _bound(space.high),
        }
    return {"type": type(space).__name__, "repr": repr(space)}
