"""``TrainState``: the trainer's run state that a resume must get back, keyed by policy id.

What lives here (one counter per fact):

- ``env_steps``: env steps received in rollout reports, over all sessions of the run (the live
  counters in shared memory run slightly ahead; see ``shared/progress.py``);
- training time: ``train_seconds_before`` (earlier sessions) plus this session's clock;
- ``curriculum_states``: the latest curriculum state of every env by global env index;
- per policy (``PolicyState``): the best score so far (and what it scores), the reward-shaping dict
  and the env parameters of population-based training.

A policy's version, weights, optimizer and normalizers belong to its ``Learner`` (``learner.state_dict``).
The checkpoint layout that combines both is the checkpointer's (``trainer/checkpointer.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

log = logging.getLogger("relayrl.trainer")

TRAINING_RETURN = "training_return"
"""The default source of best scores (``PolicyState.best_source``): the windowed mean training return."""


@dataclasses.dataclass
class PolicyState:
    """Per-policy run state besides the learner's."""

    best_reward: float | None = None
    """The best score so far, what the policy's best file was written at (``best_source``)."""
    reward_shaping: dict[str, Any] | None = None
    """Delivered to the policy's envs as ``training_info["reward_shaping"]``."""
    env_steps: int = 0
    """Agent steps this policy took (with one policy and single-agent envs: the env steps)."""
    env_params: dict[str, float] | None = None
    """Population-based training's declared env parameters, delivered as ``training_info["env_params"]``."""
    best_source: str | None = None
    """What ``best_reward`` scores: ``TRAINING_RETURN`` or an evaluation key (``eval/reward``)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "best_reward": self.best_reward,
            "reward_shaping": copy.deepcopy(self.reward_shaping),
            "env_steps": self.env_steps,
            "env_params": copy.deepcopy(self.env_params),
            "best_source": self.best_source,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> PolicyState:
        best = data.get("best_reward")
        return PolicyState(
            None if best is None else float(best),
            copy.deepcopy(data.get("reward_shaping")),
            int(data.get("env_steps", 0)),  # absent before several policies existed
            copy.deepcopy(data.get("env_params")),  # absent before population-based training existed
            # absent before evaluation could pick the best files: the training return did
            data.get("best_source", None if best is None else TRAINING_RETURN),
        )


@dataclasses.dataclass
class TrainState:
    """Run state of the trainer (see the module docstring)."""

    env_steps: int = 0
    train_seconds_before: float = 0.0
    curriculum_states: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    policies: dict[int, PolicyState] = dataclasses.field(default_factory=dict)
    """Per-policy run state by policy id (the trainer adds an entry for every policy it trains)."""
    session_start: float = dataclasses.field(default_factory=time.monotonic)
    """When this session's training began (``start_session``); not saved."""
    session_start_steps: int = 0
    """``env_steps`` when this session began; not saved."""
    _warned_types: set[str] = dataclasses.field(default_factory=set, repr=False)

    # ----- this session -----

    def start_session(self) -> None:
        """Training time counts from now (start-up excluded)."""
        self.session_start = time.monotonic()
        self.session_start_steps = self.env_steps

    @property
    def session_seconds(self) -> float:
        return time.monotonic() - self.session_start

    @property
    def train_seconds(self) -> float:
        return self.train_seconds_before + self.session_seconds

    @property
    def session_steps(self) -> int:
        return self.env_steps - self.session_start_steps

    # ----- curricula -----

    def update_curricula(self, states: Mapping[int, dict[str, Any]]) -> None:
        """Keep the latest state per env index (reports from all workers, latest wins). A state that is
        not plain data could not be loaded from a checkpoint without running code: it is left out,
        with one warning."""
        for index, state in states.items():
            odd = first_non_plain(state)
            if odd is None:
                self.curriculum_states[index] = state
            elif odd not in self._warned_types:
                self._warned_types.add(odd)
                log.warning(
                    "the curriculum state of env %d holds a %s, which checkpoints cannot hold (they load without "
                    "running code); it is not saved. Return numbers, strings, lists, dicts, numpy arrays or "
                    "tensors from get_state().",
                    index,
                    odd,
                )

    def curriculum_states_of(self, first_env: int, num_envs: int) -> dict[int, dict[str, Any]]:
        """The saved states of env indices ``[first_env, first_env + num_envs)``."""
        return {i: s for i, s in self.curriculum_states.items() if first_env <= i < first_env + num_envs}

    # ----- checkpoint form (plain types and tensors only: loadable with weights_only) -----

    def to_dict(self) -> dict[str, Any]:
        return {
            "env_steps": self.env_steps,
            "train_seconds": self.train_seconds,
            "curriculum_states": copy.deepcopy(self.curriculum_states),
            "policies": {pid: p.to_dict() for pid, p in self.policies.items()},
            "rng": capture_rng(),
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> TrainState:
        """The state saved by ``to_dict``; restores the process RNGs too."""
        state = TrainState(
            env_steps=int(data["env_steps"]),
            train_seconds_before=float(data["train_seconds"]),
            curriculum_states={int(k): v for k, v in (data.get("curriculum_states") or {}).items()},
            policies={int(pid): PolicyState.from_dict(p) for pid, p in data["policies"].items()},
            session_start_steps=int(data["env_steps"]),
        )
        if data.get("rng") is not None:
            restore_rng(data["rng"])
        return state


_PLAIN = (str, int, float, bool, type(None), torch.Tensor, np.ndarray, np.generic)


def first_non_plain(obj: Any) -> str | None:
    """The type name of the first value in ``obj`` (nested dicts, lists, tuples) that is not plain
    data (numbers, strings, None, tensors, numpy arrays and scalars), else None."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            found = first_non_plain(key) or first_non_plain(value)
            if found:
                return found
        return None
    if isinstance(obj, list | tuple):
        return next((found for item in obj if (found := first_non_plain(item))), None)
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        return "numpy object array"
    return None if isinstance(obj, _PLAIN) else type(obj).__name__


def plain_numpy_rng(legacy_state: tuple) -> dict[str, Any]:
    """``np.random.get_state()``'s tuple as a tensor and plain types."""
    name, keys, pos, has_gauss, cached = legacy_state
    return {
        "name": str(name),
        "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def capture_rng() -> dict[str, Any]:
    """The torch and numpy global RNG states as tensors and plain types."""
    legacy = np.random.get_state(legacy=True)
    assert isinstance(legacy, tuple)  # legacy=True: the MT19937 tuple
    return {"torch": torch.get_rng_state(), "numpy": plain_numpy_rng(legacy)}


def restore_rng(rng: Mapping[str, Any]) -> None:
    torch.set_rng_state(rng["torch"])
    n = rng["numpy"]
    keys = np.asarray(n["keys"].numpy() if isinstance(n["keys"], torch.Tensor) else n["keys"], dtype=np.uint32)
    np.random.set_state((n["name"], keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
