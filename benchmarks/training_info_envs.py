"""CartPole-v1 wrappers for ``benchmarks.training_info``: identical per-step work, with and without
``TrainingInfoInterface``.

Both wrappers append ``time.monotonic()`` to a Python list after every env step (ground truth for
the freshness measurement, and equal cost on both sides of the throughput comparison) and, at
``close()``, write ``steps`` (step timestamps) and ``deliveries`` (``[k, 2]``: time,
``approx_total_training_steps``) to an ``.npz`` in ``env_kwargs["log_dir"]``. Only
``make_with_interface`` envs receive training info, so only they record deliveries.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import gymnasium as gym
import numpy as np

from relayrl.envs.info_interface import TrainingInfoInterface

_ids = itertools.count()


class StepTimeLogger(gym.Wrapper):
    """CartPole that logs the monotonic time of each of its steps (does not implement the interface)."""

    def __init__(self, env: gym.Env, log_dir: str | None) -> None:
        super().__init__(env)
        self.log_dir = log_dir
        self.step_times: list[float] = []
        self.deliveries: list[tuple[float, int]] = []
        self._append = self.step_times.append
        self._closed = False

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        out = self.env.step(action)
        self._append(time.monotonic())
        return out

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.log_dir is not None and (self.step_times or self.deliveries):
                path = os.path.join(self.log_dir, f"env_{os.getpid()}_{next(_ids)}.npz")
                np.savez(
                    path,
                    steps=np.asarray(self.step_times, dtype=np.float64),
                    deliveries=np.asarray(self.deliveries, dtype=np.float64).reshape(-1, 2),
                )
        super().close()


class StepTimeLoggerWithInterface(StepTimeLogger, TrainingInfoInterface):
    """The same wrapper, plus ``TrainingInfoInterface``: stores the dict and logs (time, step count)."""

    def __init__(self, env: gym.Env, log_dir: str | None) -> None:
        StepTimeLogger.__init__(self, env, log_dir)
        TrainingInfoInterface.__init__(self)

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        self.training_info = training_info
        self.deliveries.append((time.monotonic(), training_info["approx_total_training_steps"]))


def make_with_interface(env_kwargs: dict[str, Any]) -> gym.Env:
    return StepTimeLoggerWithInterface(gym.make("CartPole-v1"), env_kwargs.get("log_dir"))


def make_without_interface(env_kwargs: dict[str, Any]) -> gym.Env:
    return StepTimeLogger(gym.make("CartPole-v1"), env_kwargs.get("log_dir"))


class LoggedDuel:
    """The two-player CoinDuel (multi-agent) with the same step-time and delivery logs; it also
    counts the deliveries that named a controller (a policy or a snapshot) for each of its agents
    (``training_info["agents"]``), and logs, per step, how many of its agents each policy controlled (as
    its last delivery said) and, per delivery, each policy's ``env_steps`` (``training_info["policies"]``):
    ground truth and deliveries for the freshness of a policy's step count (``benchmarks.multiagent_freshness``)."""

    def __init__(self, log_dir: str | None, num_policies: int = 2) -> None:
        from relayrl.envs.coin_duel import CoinDuel

        self.game = CoinDuel()
        self.possible_agents = self.game.possible_agents
        self.observation_space = self.game.observation_space
        self.action_space = self.game.action_space
        self.logger = StepTimeLogger(gym.make("CartPole-v1"), log_dir)  # only its logs and close() are used
        self.with_agents = 0
        self.num_policies = num_policies
        self.controller: dict[str, int | None] = {}
        """Each agent's policy id as the last delivery said (None: not told)."""
        self.policy_counts: list[list[int]] = []
        """Per step: agents of each policy that acted."""
        self.policy_deliveries: list[list[float]] = []
        """Per delivery: time, then each policy's ``env_steps``."""

    @property
    def agents(self) -> list[str]:
        return self.game.agents

    def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict, dict]:
        return self.game.reset(seed=seed)

    def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:
        out = self.game.step(actions)
        self.logger.step_times.append(time.monotonic())
        counts = [0] * self.num_policies
        for agent in actions:
            k = self.controller.get(agent)
            if k is not None:
                counts[k] += 1
        self.policy_counts.append(counts)
        return out

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        now = time.monotonic()
        self.logger.deliveries.append((now, training_info["approx_total_training_steps"]))
        agents = training_info.get("agents", {})
        self.with_agents += all(
            agents.get(a, {}).get("policy_id") is not None or agents.get(a, {}).get("snapshot_slot") is not None
            for a in self.possible_agents
        )
        self.controller = {a: agents.get(a, {}).get("policy_id") for a in self.possible_agents}
        policies = training_info.get("policies", {})
        if all(k in policies for k in range(self.num_policies)):
            self.policy_deliveries.append([now, *(policies[k]["env_steps"] for k in range(self.num_policies))])

    def close(self) -> None:
        if self.logger.log_dir is not None and self.logger.deliveries:
            name = f"{os.getpid()}_{next(_ids)}"
            with open(os.path.join(self.logger.log_dir, f"agents_{name}.txt"), "w") as f:
                f.write(f"{self.with_agents} {len(self.logger.deliveries)}\n")
            policy_dir = os.path.join(self.logger.log_dir, "policies")  # apart from the global logs
            os.makedirs(policy_dir, exist_ok=True)
            np.savez(
                os.path.join(policy_dir, f"duel_{name}.npz"),
                steps=np.asarray(self.logger.step_times, dtype=np.float64),
                counts=np.asarray(self.policy_counts, dtype=np.int64).reshape(-1, self.num_policies),
                deliveries=np.asarray(self.policy_deliveries, dtype=np.float64).reshape(-1, 1 + self.num_policies),
            )
        self.logger.close()


def make_duel_with_interface(env_kwargs: dict[str, Any]) -> LoggedDuel:
    return LoggedDuel(env_kwargs.get("log_dir"))
