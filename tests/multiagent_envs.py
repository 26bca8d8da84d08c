"""Multi-agent envs and mapping hooks for the tests (importable by worker processes as ``multiagent_envs:<name>``)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

BOX = gym.spaces.Box(-1e6, 1e6, (2,), np.float32)


class LeaveJoinEnv:
    """Agents ``a`` and ``b`` from the start; ``c`` joins after step 2; ``a`` terminates at step 3 reporting
    ``episode_extra_stats`` {"score": 3}; ``b`` and ``c`` are truncated at step 5 (score 5). Obs: [t, agent
    index]; reward 1 per acting agent per step. Keeps every training-info dict it receives."""

    def __init__(self, config: dict | None = None) -> None:
        self.possible_agents = ["a", "b", "c"]
        self.agents: list[str] = []
        self.t = 0
        self.received: list[dict] = []
        self.actions_seen: list[dict] = []

    def observation_space(self, agent: str) -> gym.Space:
        return BOX

    def action_space(self, agent: str) -> gym.Space:
        return gym.spaces.Discrete(2)

    def set_training_info(self, info: dict) -> None:
        self.received.append(info)

    def _told(self, agent: str) -> dict[str, float]:
        """What the last training info said about ``agent``: its policy id (-1: not told)."""
        agents = self.received[-1].get("agents", {}) if self.received else {}
        policy = agents.get(agent, {}).get("policy_id")
        return {} if policy is None else {"told_policy": float(policy)}

    def _obs(self) -> dict[str, np.ndarray]:
        return {agent: np.array([self.t, self.possible_agents.index(agent)], np.float32) for agent in self.agents}

    def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict, dict]:
        self.t = 0
        self.agents = ["a", "b"]
        return self._obs(), {agent: {} for agent in self.agents}

    def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:
        self.actions_seen.append(dict(actions))
        self.t += 1
        acting = list(self.agents)
        rewards = dict.fromkeys(acting, 1.0)
        terms = dict.fromkeys(acting, False)
        truncs = dict.fromkeys(acting, False)
        infos: dict[str, dict] = {agent: {} for agent in acting}
        if self.t == 3 and "a" in acting:
            terms["a"] = True
            infos["a"] = {"episode_extra_stats": {"score": 3.0, **self._told("a")}}
        if self.t == 5:
            for agent in acting:
                truncs[agent] = True
                infos[agent] = {"episode_extra_stats": {"score": 5.0, **self._told(agent)}}
        obs = {agent: np.array([self.t, self.possible_agents.index(agent)], np.float32) for agent in acting}
        self.agents = [agent for agent in acting if not (terms[agent] or truncs[agent])]
        if self.t == 2:
            self.agents.append("c")
            obs["c"] = np.array([self.t, 2], np.float32)
        return obs, rewards, terms, truncs, infos

    def close(self) -> None:
        pass


class MismatchEnv(LeaveJoinEnv):
    """Agent ``c`` observes 3 numbers, the others 2."""

    def observation_space(self, agent: str) -> gym.Space:
        return gym.spaces.Box(-1.0, 1.0, (3,), np.float32) if agent == "c" else BOX


def make_leave_join(config: dict | None = None) -> LeaveJoinEnv:
    return LeaveJoinEnv(config)


def make_mismatch(config: dict | None = None) -> MismatchEnv:
    return MismatchEnv(config)


def by_agent(agent: str, env_index: int, episode: int) -> int:
    """a -> policy 0, everyone else -> policy 1."""
    return 0 if agent == "a" else 1


def unknown_id(agent: str, env_index: int, episode: int) -> int:
    return 7


def raises_later(agent: str, env_index: int, episode: int) -> int:
    if episode >= 3:
        raise RuntimeError("no mapping for late episodes")
    return 0


CALLS: list[tuple[Any, int, int]] = []
"""What ``record_calls`` was called with (in this process: serial runs)."""


def record_calls(agent: Any, env_index: int, episode: int) -> int:
    """Keeps its arguments in ``CALLS``; policy = the episode's parity."""
    CALLS.append((agent, env_index, episode))
    return episode % 2
